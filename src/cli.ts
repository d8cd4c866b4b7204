#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { MAP_USAGE, drawMap, parseMapArgs } from './commands/map.js';
import { PRODUCE_USAGE, parseProduceArgs, produce } from './commands/produce.js';
import { SOAK_USAGE, parseSoakArgs, soak } from './commands/soak.js';
import { ZONES_USAGE, zonesCommand } from './commands/zones.js';
import { loadConfig, renderConfig, secretValues } from './config/config.js';
import { ConfigError, ConfigErrors, EXIT, UsageError } from './errors.js';
import { createLogger } from './logger.js';
import { memoryPlanFor } from './memory/service-plan.js';
import { restartWithPlannedHeap } from './memory/heap-restart.js';
import { runService } from './service.js';
import { checkZones, zoneHeapBytes } from './windows/event-settings.js';

const USAGE = `Usage: geowindow <command> [options]

Commands:
  run        consume sensor readings and write window aggregates (configured by environment; see README)
  config     print the effective configuration as JSON, secrets masked as "***"; exit 3 if it is invalid
  produce    send readings from a synthetic sensor fleet (geowindow produce --help)
  soak       run the fleet against the service and chart its memory (geowindow soak --help)
  map        draw the closed zone windows of an output topic as an HTML map (geowindow map --help)
  zones      check a zones file (GeoJSON) as the service loads it, or write the U.S. counties as one (geowindow zones --help)
  help       show this text
  version    print the version

Exit codes: 0 ok, 1 failure (soak: verdict fail), 2 bad command line, 3 bad configuration,
4 memory stayed above the budget.`;

function version(): string {
  const manifest = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
  return manifest.version;
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...args] = argv;
  switch (command) {
    case 'run': {
      const config = loadConfig(process.env);
      // Before anything else starts: may start this process again with the heap the memory plan counts on.
      restartWithPlannedHeap(config);
      return runService(config, createLogger(config.logLevel, 'geowindow', secretValues(config)));
    }
    case 'config': {
      if (args.length > 0) throw new UsageError('config takes no arguments: it reads the environment, as run does');
      const config = loadConfig(process.env);
      // Refused by run at start-up too: a bad zones file, a memory budget too small for the configuration.
      memoryPlanFor(config, zoneHeapBytes(checkZones(config)));
      process.stdout.write(`${JSON.stringify(renderConfig(config), null, 2)}\n`);
      return EXIT.ok;
    }
    case 'produce': {
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(`${PRODUCE_USAGE}\n`);
        return EXIT.ok;
      }
      const options = parseProduceArgs(args, process.env);
      const abort = new AbortController();
      const onSignal = () => abort.abort();
      process.once('SIGINT', onSignal);
      process.once('SIGTERM', onSignal);
      const summary = await produce(options, abort.signal);
      process.stdout.write(`${JSON.stringify(summary)}\n`);
      return EXIT.ok;
    }
    case 'soak': {
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(`${SOAK_USAGE}\n`);
        return EXIT.ok;
      }
      const result = await soak(parseSoakArgs(args, process.env));
      process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
      return result.verdict === 'pass' ? EXIT.ok : EXIT.failure;
    }
    case 'zones': {
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(`${ZONES_USAGE}\n`);
        return EXIT.ok;
      }
      process.stdout.write(zonesCommand(args));
      return EXIT.ok;
    }
    case 'map': {
      if (args.includes('--help') || args.includes('-h')) {
        process.stdout.write(`${MAP_USAGE}\n`);
        return EXIT.ok;
      }
      const { path, result } = await drawMap(parseMapArgs(args, process.env));
      const { selection, zonesWithData } = result;
      process.stderr.write(
        `map: ${selection.reading} mean of ${zonesWithData} zones, window ${new Date(selection.start).toISOString()} to ` +
          `${new Date(selection.end).toISOString()}, ${selection.records} records\n`,
      );
      process.stdout.write(`${path}\n`);
      return EXIT.ok;
    }
    case 'version':
    case '--version':
      process.stdout.write(`${version()}\n`);
      return EXIT.ok;
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(`${USAGE}\n`);
      return EXIT.ok;
    default:
      throw new UsageError(command === undefined ? 'no command given' : `unknown command ${JSON.stringify(command)}`);
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    // A single problem found after loading (a memory budget too small) is reported like the others.
    if (error instanceof ConfigError) error = new ConfigErrors([error]);
    if (error instanceof ConfigErrors) {
      process.stderr.write(`geowindow: ${error.message}\n`);
      process.exit(EXIT.config);
    }
    if (error instanceof UsageError) {
      process.stderr.write(`geowindow: ${error.message}\n\n${USAGE}\n`);
      process.exit(EXIT.usage);
    }
    process.stderr.write(`geowindow: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(EXIT.failure);
  },
);
