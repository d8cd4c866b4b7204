import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { loadSecurityConfig, secretValues, type SecurityConfig } from '../config/config.js';
import { brokerList, integer, topicName } from '../config/parsers.js';
import { ConfigError, UsageError } from '../errors.js';
import { createKafka } from '../kafka/client.js';
import { readTopicToEnd } from '../kafka/topic-reader.js';
import { createLogger } from '../logger.js';
import { zonesFromGeoJson } from '../shared/zones/zone-set.js';
import { ZoneWindowCollector } from '../tools/map-data.js';
import { featureNames, writeMap, type MapResult } from '../tools/map.js';
import { flag, stringFlags } from './cli-flags.js';

export const MAP_USAGE = `Usage: geowindow map --zones FILE (--topic T | --aggregates FILE) [options]

Draws the closed zone windows of the service's output (schema v2, KEY_BY=zone)
as a map: one self-contained HTML file with an inline SVG, zones coloured by
one reading's mean in one window, with a legend and a tooltip per zone. The
window drawn is the one with the most zones reporting the reading; of
several, the latest. Partitions reporting the same zone and window are merged.

  --zones FILE          the zones file the service keys by (its ZONES_FILE)
  --zone-id-property P  property naming each zone (default id), as ZONE_ID_PROPERTY
  --topic T             output topic, read from its start to its current end
  --aggregates FILE     instead of --topic: aggregates as JSON, one per line
  --reading NAME        reading to colour by (default: the one most zone windows have)
  --out FILE            HTML file to write (default geowindow-map.html)
  --brokers B           host:port list (default: $KAFKA_BROKERS)
  --timeout S           seconds to read the topic to its end (default 60)

The path of the map goes to stdout; what it shows, to stderr.`;

export interface MapCommandOptions {
  readonly zonesFile: string;
  readonly idProperty: string;
  readonly source: { readonly topic: string; readonly brokers: readonly string[]; readonly security: SecurityConfig } | { readonly file: string };
  readonly reading: string | undefined;
  readonly out: string;
  readonly timeoutSeconds: number;
}

const DEFAULT_OUT = 'geowindow-map.html';
const DEFAULT_TIMEOUT_SECONDS = 60;

function nonEmpty(name: string, raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '') throw new UsageError(`--${name}: expected a non-empty value`);
  return raw.trim();
}

export function parseMapArgs(args: readonly string[], env: NodeJS.ProcessEnv): MapCommandOptions {
  const values = stringFlags(args, ['zones', 'zone-id-property', 'topic', 'aggregates', 'reading', 'out', 'brokers', 'timeout']);
  const zonesFile = nonEmpty('zones', values.zones);
  if (zonesFile === undefined) throw new UsageError('--zones is required: the zones file the service keys by');
  const topic = flag('topic', values.topic, topicName);
  const file = nonEmpty('aggregates', values.aggregates);
  if ((topic === undefined) === (file === undefined)) throw new UsageError('give exactly one of --topic and --aggregates');
  let source: MapCommandOptions['source'];
  if (topic !== undefined) {
    const brokersRaw = values.brokers ?? env.KAFKA_BROKERS;
    if (brokersRaw === undefined) throw new UsageError('no brokers: pass --brokers host:port or set KAFKA_BROKERS');
    source = { topic, brokers: flag('brokers', brokersRaw, brokerList)!, security: loadSecurityConfig(env) };
  } else {
    if (values.brokers !== undefined) throw new UsageError('--brokers goes with --topic, not --aggregates');
    source = { file: file! };
  }
  return {
    zonesFile,
    idProperty: nonEmpty('zone-id-property', values['zone-id-property']) ?? 'id',
    source,
    reading: nonEmpty('reading', values.reading),
    out: nonEmpty('out', values.out) ?? DEFAULT_OUT,
    timeoutSeconds: flag('timeout', values.timeout, integer(1, 3600)) ?? DEFAULT_TIMEOUT_SECONDS,
  };
}

function readJson(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`${what}: cannot read ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new UsageError(`${what}: ${JSON.stringify(path)} is not JSON: ${(error as Error).message}`);
  }
}

/** Aggregates of a JSON-lines file into the collector; blank lines are skipped, others must be JSON. */
function collectFile(path: string, collector: ZoneWindowCollector): void {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new UsageError(`--aggregates: cannot read ${JSON.stringify(path)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
  }
  text.split('\n').forEach((line, k) => {
    if (line.trim() === '') return;
    try {
      collector.add(JSON.parse(line));
    } catch (error) {
      throw new UsageError(`--aggregates: line ${k + 1} of ${JSON.stringify(path)} is not JSON: ${(error as Error).message}`);
    }
  });
}

/** Reads the zones and the aggregates, writes the map; returns its absolute path and what it shows. */
export async function drawMap(options: MapCommandOptions): Promise<{ path: string; result: MapResult }> {
  const geojson = readJson(options.zonesFile, '--zones');
  let zones;
  try {
    zones = zonesFromGeoJson(geojson, options.zonesFile, options.idProperty);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(`--zones: ${error.message.slice(error.variable.length + 2)}`);
    throw error;
  }
  const collector = new ZoneWindowCollector();
  let from: string;
  if ('file' in options.source) {
    collectFile(options.source.file, collector);
    from = options.source.file;
  } else {
    const { topic, brokers, security } = options.source;
    const logger = createLogger('warn', 'geowindow-map', secretValues(security));
    const kafka = createKafka({ brokers, clientId: 'geowindow-map', logger, security });
    await readTopicToEnd(
      kafka,
      topic,
      (value) => {
        // Anything that is not JSON is not an aggregate of ours: skipped like a v1 aggregate.
        try {
          if (value !== null) collector.add(JSON.parse(value.toString()));
        } catch {
          return;
        }
      },
      options.timeoutSeconds * 1000,
    );
    from = topic;
  }
  const path = resolve(options.out);
  const result = writeMap(path, { zones, names: featureNames(geojson), windows: collector.windows(), reading: options.reading, from });
  return { path, result };
}
