import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { ReadRecord } from './kafka.js';

const run = promisify(execFile);

/** The jars scripts/kafka.sh runs the broker from (its KAFKA_VERSION and cache). */
const KAFKA_LIBS = join(process.env.GEOWINDOW_CACHE ?? join(homedir(), '.cache', 'geowindow'), 'kafka-4.1.1', 'libs');
/** How long the console consumer waits for another record before it takes the topic as read. */
const QUIET_MS = 8000;

/**
 * Every record of `topic` that a consumer with the given isolation level
 * sees, read by Kafka's own Java console consumer. Not kafkajs: its
 * read_committed consumer returned records of aborted transactions here (2
 * of 89 after a SIGKILL, which Kafka's consumer did not return), so it cannot
 * judge exactly-once. Values are left out (`withValues` false) where they may
 * hold any bytes (dead letters); keys and headers are text here.
 */
export async function readIsolated(
  brokers: string,
  topic: string,
  isolation: 'read_committed' | 'read_uncommitted',
  withValues = true,
): Promise<ReadRecord[]> {
  if (!existsSync(KAFKA_LIBS)) throw new Error(`no Kafka jars at ${KAFKA_LIBS}: run bash scripts/kafka.sh up once`);
  // The console consumer ends with a TimeoutException (and a non-zero exit) once nothing more comes: that is its end.
  const { stdout } = await run(
    'java',
    ['-cp', `${KAFKA_LIBS}/*`, 'org.apache.kafka.tools.consumer.ConsoleConsumer',
      '--bootstrap-server', brokers.split(',')[0]!, '--topic', topic, '--from-beginning', '--isolation-level', isolation,
      '--timeout-ms', String(QUIET_MS), '--property', 'print.partition=true', '--property', 'print.offset=true',
      '--property', 'print.key=true', '--property', 'print.headers=true', '--property', `print.value=${withValues}`,
      '--property', 'key.separator=\t', '--property', 'headers.separator=\u0001'],
    { maxBuffer: 256 * 1024 * 1024, env: { ...process.env, KAFKA_HEAP_OPTS: '-Xmx512m' } },
  ).catch((error: { stdout?: string; stderr?: string }) => {
    if (error.stdout === undefined || !/TimeoutException/.test(error.stderr ?? '')) throw error;
    return { stdout: error.stdout };
  });
  const records: ReadRecord[] = [];
  for (const line of stdout.split('\n')) {
    if (!line.startsWith('Partition:')) continue;
    const [partition, offset, headers, key, ...value] = line.split('\t');
    const parsedHeaders: Record<string, Buffer> = {};
    if (headers !== undefined && headers !== 'NO_HEADERS') {
      for (const pair of headers.split('\u0001')) {
        const colon = pair.indexOf(':');
        parsedHeaders[pair.slice(0, colon)] = Buffer.from(pair.slice(colon + 1));
      }
    }
    records.push({
      partition: Number(partition!.slice('Partition:'.length)),
      offset: Number(offset!.slice('Offset:'.length)),
      key: key === undefined || key === 'null' ? null : Buffer.from(key),
      value: withValues ? Buffer.from(value.join('\t')) : null,
      headers: parsedHeaders,
    });
  }
  return records.sort((a, b) => a.partition - b.partition || a.offset - b.offset);
}
