/**
 * A progress line on stderr every interval for long-running commands, so a
 * user (or CI log) sees the work moving. stdout stays free for results.
 */
export class Progress {
  readonly #timer: NodeJS.Timeout | undefined;
  readonly #startedAt = performance.now();

  constructor(
    show: boolean,
    line: (elapsedSeconds: number) => string,
    intervalMs = 1000,
    stream: NodeJS.WritableStream = process.stderr,
  ) {
    if (!show) return;
    this.#timer = setInterval(() => stream.write(`${line(this.elapsedSeconds)}\n`), intervalMs);
    this.#timer.unref();
  }

  get elapsedSeconds(): number {
    return (performance.now() - this.#startedAt) / 1000;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
