// Prints the last aggregates of an output topic as one line each, for the demo.
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
const total = ends.reduce((n, p) => n + Number(p.high) - Number(p.low), 0);
const consumer = kafka.consumer({ groupId: `geowindow-demo-print-${Date.now()}` });
await consumer.connect();
await consumer.subscribe({ topics: [topic], fromBeginning: true });
const aggregates = [];
await new Promise((resolve) => {
  if (total === 0) resolve();
  consumer.run({
    eachMessage: async ({ message }) => {
      aggregates.push(JSON.parse(message.value.toString()));
      if (aggregates.length >= total) resolve();
    },
  });
});
await consumer.disconnect();
aggregates.sort((a, b) => a.emittedAt - b.emittedAt);
const fmt = (n, d = 4) => n.toFixed(d);
for (const a of aggregates.slice(-Number(howMany))) {
  const { partition, firstOffset, lastOffset } = a.source;
  const readings = Object.entries(a.readings)
    .slice(0, 3)
    .map(([name, s]) => `${name} ${s.mean === null ? '-' : s.mean.toFixed(1)}`)
    .join(', ');
  console.log(
    `p${partition} [${firstOffset}..${lastOffset}] ${a.window.partial ? `partial(${a.window.closedBy})` : 'full'} ` +
      `count=${a.count} devices=${a.devices} centroid=[${fmt(a.centroid[0])}, ${fmt(a.centroid[1])}] ` +
      `bbox=[${a.bbox.map((v) => fmt(v, 3)).join(', ')}] hull=${(a.hullAreaM2 / 1e6).toFixed(0)} km² ${readings}`,
  );
}
console.log(`${aggregates.length} aggregates, ${aggregates.reduce((n, a) => n + a.count, 0)} readings in ${topic}`);
