/**
 * `geowindow zones`: check a zones file the way the service will load it,
 * and write the U.S. counties or states as zones files for tests and demos.
 */
import { parseArgs } from 'node:util';
import { integer } from '../config/parsers.js';
import { ConfigError, UsageError } from '../errors.js';
import { Random } from '../fleet/random.js';
import { loadZones, type ZoneOddities, type ZoneSet } from '../shared/zones/zone-set.js';
import { writeUsCounties, writeUsStates } from '../tools/us-counties.js';

export const ZONES_USAGE = `Usage: geowindow zones check FILE [--id-property P] [--overlap-samples N]
       geowindow zones us-counties --out FILE
       geowindow zones us-states --out FILE

check        load FILE as the service would (ZONES_FILE, ZONE_ID_PROPERTY) and print a
             JSON summary: zones, polygons, rings, positions, what is odd, extent,
             load time, and the share of sampled points that fall in two zones or more.
             A file the service would refuse exits with code 3 and the reason.
  --id-property P       property holding each zone's id (default id)
  --overlap-samples N   points sampled to estimate overlaps, each uniform in the box of
                        a zone drawn at random (default 10000, 0 to skip)
us-counties  write the 3,231 U.S. counties (us-atlas, 1:10m) as a zones file, id = FIPS
us-states    write the 56 U.S. states and territories the same way
  --out FILE            file to write (required)

The two writers need the development dependencies (a clone after npm ci).`;

/** Default points sampled for the overlap estimate: a few milliseconds, and a share to within about 0.1 point. */
const DEFAULT_OVERLAP_SAMPLES = 10_000;
const MAX_OVERLAP_SAMPLES = 100_000_000;
/** Seed of the overlap sample, so two checks of one file print the same numbers. */
const SAMPLE_SEED = 1;

/** Points sampled in the zones' boxes and how many of them more than one zone holds. */
export interface OverlapSample {
  readonly points: number;
  readonly inAZone: number;
  readonly inTwoOrMore: number;
  /** inTwoOrMore / inAZone, 0 when no point fell in a zone. */
  readonly shareInTwoOrMore: number;
}

/** What `zones check` prints. */
export interface ZonesCheckSummary {
  readonly file: string;
  readonly idProperty: string;
  readonly zones: number;
  readonly polygons: number;
  readonly rings: number;
  readonly positions: number;
  readonly oddities: ZoneOddities;
  /** [west, south, east, north] of all zones. */
  readonly extent: readonly [number, number, number, number];
  /** Reading, checking and indexing the file, milliseconds. */
  readonly loadMs: number;
  readonly overlaps: OverlapSample | null;
}

/** Samples points each uniform in the box of a zone drawn at random, and counts those held by two zones or more. */
export function sampleOverlaps(zones: ZoneSet, points: number, seed = SAMPLE_SEED): OverlapSample {
  const random = new Random(seed);
  const holders: number[] = [];
  let inAZone = 0;
  let inTwoOrMore = 0;
  for (let i = 0; i < points; i++) {
    const [west, south, east, north] = zones.bbox(random.int(zones.size));
    const count = zones.lookupAll(random.between(west, east), random.between(south, north), holders);
    if (count > 0) inAZone++;
    if (count > 1) inTwoOrMore++;
  }
  return { points, inAZone, inTwoOrMore, shareInTwoOrMore: inAZone === 0 ? 0 : inTwoOrMore / inAZone };
}

/** Loads a zones file and summarises it; throws ZonesFileError on a file the service would refuse. */
export function checkZones(file: string, idProperty: string, overlapSamples: number): ZonesCheckSummary {
  const started = performance.now();
  const zones = loadZones(file, idProperty);
  const loadMs = Math.round(performance.now() - started);
  return {
    file,
    idProperty,
    zones: zones.size,
    polygons: zones.parts,
    rings: zones.rings,
    positions: zones.positions,
    oddities: zones.oddities,
    extent: zones.extent,
    loadMs,
    overlaps: overlapSamples > 0 ? sampleOverlaps(zones, overlapSamples) : null,
  };
}

/** Runs `geowindow zones ...`; returns what goes to stdout. */
export function zonesCommand(args: readonly string[]): string {
  const [subcommand, ...rest] = args;
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      strict: true,
      allowPositionals: true,
      options: { 'id-property': { type: 'string' }, 'overlap-samples': { type: 'string' }, out: { type: 'string' } },
    });
  } catch (error) {
    throw new UsageError(`zones: ${(error as Error).message}`);
  }
  const { values, positionals } = parsed;
  switch (subcommand) {
    case 'check': {
      if (positionals.length !== 1) throw new UsageError('zones check takes one FILE');
      if (values.out !== undefined) throw new UsageError('zones check takes no --out');
      const idProperty = values['id-property'] ?? 'id';
      if (idProperty === '') throw new UsageError('zones check: --id-property is empty');
      const samples = overlapSamples(values['overlap-samples']);
      return `${JSON.stringify(checkZones(positionals[0]!, idProperty, samples), null, 2)}\n`;
    }
    case 'us-counties':
    case 'us-states': {
      if (positionals.length > 0 || values['id-property'] !== undefined || values['overlap-samples'] !== undefined) {
        throw new UsageError(`zones ${subcommand} takes only --out FILE`);
      }
      if (values.out === undefined || values.out === '') throw new UsageError(`zones ${subcommand} needs --out FILE`);
      const written = subcommand === 'us-counties' ? writeUsCounties(values.out) : writeUsStates(values.out);
      return `${JSON.stringify({ file: values.out, zones: written, idProperty: 'id' })}\n`;
    }
    default:
      throw new UsageError(subcommand === undefined ? 'zones needs a subcommand: check, us-counties or us-states' : `unknown zones subcommand ${JSON.stringify(subcommand)}`);
  }
}

function overlapSamples(raw: string | undefined): number {
  if (raw === undefined) return DEFAULT_OVERLAP_SAMPLES;
  try {
    return integer(0, MAX_OVERLAP_SAMPLES)('--overlap-samples', raw);
  } catch (error) {
    if (error instanceof ConfigError) throw new UsageError(error.message);
    throw error;
  }
}
