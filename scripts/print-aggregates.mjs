// Prints the last aggregates of an output topic as one line each, for the demo.
// Schema v1 (count windows): partition, offsets, count, devices, centroid, bbox, hull, readings.
// Schema v2 (event-time windows): window start-end, key, partition, count, devices, reading means.
// Usage: node scripts/print-aggregates.mjs <topic> [how-many]
import { Kafka, logLevel } from 'kafkajs';

const [topic, howMany = '10'] = process.argv.slice(2);
if (!topic) {
  console.error('usage: node scripts/print-aggregates.mjs <topic> [how-many]');
  process.exit(2);
}
const kafka = new Kafka({
  brokers: (process.env.KAFKA_BROKERS ?? '127.0.0.1:9092').split(','),
  clientId: 'geowindow-demo',
  logLevel: logLevel.NOTHING,
});
const admin = kafka.admin();
await admin.connect();
const ends = await admin.fetchTopicOffsets(topic);
await admin.disconnect();
// The last offset to read per partition: the topic's end when we started.
const last = new Map(ends.filter((p) => Number(p.high) > Number(p.low)).map((p) => [p.partition, Number(p.high) - 1]));

const fmt = (n, d = 4) => n.toFixed(d);
const time = (ms) => new Date(ms).toISOString().slice(11, 19);
const means = (readings, max = 3) =>
  Object.entries(readings)
    .slice(0, max)
    .map(([name, s]) => `${name} ${s.mean === null || s.mean === undefined ? '-' : s.mean.toFixed(1)}`)
    .join(', ');

function line(a) {
  const { partition, firstOffset, lastOffset } = a.source;
  if (a.schema === 'geowindow.aggregate.v2') {
    const span = a.window.start === null ? `count [${firstOffset}..${lastOffset}]` : `${time(a.window.start)}-${time(a.window.end)}`;
    return (
      `${span} ${a.key.by}:${a.key.id} p${partition} ${a.window.closedBy} ` +
      `count=${a.count} devices=${a.devices} ${means(a.readings)}`
    );
  }
  return (
    `p${partition} [${firstOffset}..${lastOffset}] ${a.window.partial ? `partial(${a.window.closedBy})` : 'full'} ` +
    `count=${a.count} devices=${a.devices} centroid=[${fmt(a.centroid[0])}, ${fmt(a.centroid[1])}] ` +
    `bbox=[${a.bbox.map((v) => fmt(v, 3)).join(', ')}] hull=${(a.hullAreaM2 / 1e6).toFixed(0)} km² ${means(a.readings)}`
  );
}

// Only a line per aggregate is kept, not the aggregate (v2 topics hold one per zone, window and partition).
const printed = [];
let readings = 0;
const windows = new Set();
if (last.size > 0) {
  const consumer = kafka.consumer({ groupId: `geowindow-demo-print-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe({ topics: [topic], fromBeginning: true });
  await new Promise((resolve) => {
    consumer.run({
      eachMessage: async ({ partition, message }) => {
        const end = last.get(partition);
        if (end === undefined) return;
        const offset = Number(message.offset);
        if (offset <= end) {
          const a = JSON.parse(message.value.toString());
          readings += a.count;
          if (a.schema === 'geowindow.aggregate.v2' && a.window.start !== null) windows.add(`${a.window.start}-${a.window.end}`);
          printed.push({ emittedAt: a.emittedAt, text: line(a) });
        }
        if (offset >= end) last.delete(partition);
        if (last.size === 0) resolve();
      },
    });
  });
  await consumer.disconnect();
}
printed.sort((a, b) => a.emittedAt - b.emittedAt);
for (const { text } of printed.slice(-Number(howMany))) console.log(text);
const spans = windows.size > 0 ? ` over ${windows.size} windows` : '';
console.log(`${printed.length} aggregates${spans}, ${readings} readings in ${topic}`);
