import { setFlagsFromString } from 'node:v8';

/**
 * V8's heap-size flags belong to the process, and for an isolate created
 * later a flag wins over the Worker's resourceLimits: with
 * `--max-old-space-size=364` (what `geowindow run` restarts with, see
 * heap-restart.ts) each worker's heap limit was 376 MB instead of the 51 MB
 * its limits asked for, and with `--max-semi-space-size=16` (the Docker
 * image's) its young generation was 32 MB instead of 8. The main thread's
 * heap is sized once, when it starts, so the flags can be cleared before the
 * first worker starts: every worker, a replaced one included, then takes its
 * limits from resourceLimits, as the memory plan assumes. Zero is V8's "not
 * given". The workers report the limit they got (WarmUpResult), and the
 * start-up line shows it.
 */
export function clearHeapFlagsForWorkers(): void {
  setFlagsFromString('--max-old-space-size=0');
  setFlagsFromString('--max-semi-space-size=0');
}
