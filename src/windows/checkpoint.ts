/**
 * What a partition's commit carries besides its offset, so that a new owner
 * (after a crash, a rebalance or a restart) continues exactly where the
 * committed offset left off: the watermark as of that offset.
 *
 * Why that is enough: an offset is only committed at a boundary where no
 * window still open had a record before it (commit rule, event-stream.ts),
 * and every window closed before it is acknowledged. Replaying from there
 * with the watermark it had there, every record is judged late or not as it
 * was the first time, every open window is rebuilt from all of its records,
 * and a window the watermark closes comes back with the same identity and
 * content.
 */
const PREFIX = 'geowindow/1 watermark=';

/** Commit metadata for `watermark` (-Infinity before any record: nothing to write). */
export function encodeCheckpoint(watermark: number): string | undefined {
  return Number.isFinite(watermark) ? `${PREFIX}${watermark}` : undefined;
}

/** The watermark a commit carried, or -Infinity when it carried none (a new group, or count windows before). */
export function decodeCheckpoint(metadata: string | null): number {
  if (metadata === null || !metadata.startsWith(PREFIX)) return Number.NEGATIVE_INFINITY;
  const value = Number(metadata.slice(PREFIX.length));
  return Number.isFinite(value) ? value : Number.NEGATIVE_INFINITY;
}

/** A position between two chunks of a partition, and the watermark there. */
interface Boundary {
  readonly offset: number;
  watermark: number;
}

/**
 * The positions where a commit may land, in offset order: the first offset
 * read after an assignment, and the end of every chunk merged since. Between
 * two boundaries the watermark is only known to the worker that folded the
 * chunk, so commits land on boundaries only.
 */
export class Boundaries {
  #list: Boundary[] = [];

  /** A boundary at `offset`; the same offset again updates its watermark (an idle or cap advance after the last chunk). */
  mark(offset: number, watermark: number): void {
    const last = this.#list[this.#list.length - 1];
    if (last !== undefined && last.offset === offset) last.watermark = watermark;
    else this.#list.push({ offset, watermark });
  }

  /** The last boundary at or before `limit`, dropping the ones before it (no later commit can use them). */
  latestAtOrBefore(limit: number): { readonly offset: number; readonly watermark: number } | undefined {
    let found = -1;
    for (let i = 0; i < this.#list.length && this.#list[i]!.offset <= limit; i++) found = i;
    if (found < 0) return undefined;
    if (found > 0) this.#list = this.#list.slice(found);
    return this.#list[0];
  }

  get size(): number {
    return this.#list.length;
  }
}
