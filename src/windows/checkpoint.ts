/**
 * What a partition's commit carries besides its offset, so that a new owner
 * (after a crash, a rebalance or a restart) continues exactly where the
 * first reading left off.
 *
 * A commit names two positions: the offset C where reading starts again
 * (the first record of the oldest window not yet safely written), and a
 * later chunk boundary P at which everything before was settled: every
 * chunk merged, every dead letter and every window the watermark W had
 * closed by P acknowledged. The metadata holds W and P. Replaying from C
 * with W, a record before P counts only in windows ending after W (the
 * others, and its dead letter if it had one, were written already); from P
 * on every record is judged as the first time. So every window ending after
 * W is rebuilt from all of its records, and a window the watermark closes
 * comes back with the same identity and content.
 */
const PREFIX = 'geowindow/2 ';

export interface Checkpoint {
  /** The partition's watermark at `settledTo`. */
  readonly watermark: number;
  /** The boundary up to which everything was written and acknowledged. */
  readonly settledTo: number;
}

/** Commit metadata for a checkpoint (none before any record: -Infinity watermark). */
export function encodeCheckpoint(checkpoint: Checkpoint): string | undefined {
  if (!Number.isFinite(checkpoint.watermark)) return undefined;
  return `${PREFIX}watermark=${checkpoint.watermark} settled=${checkpoint.settledTo}`;
}

const CHECKPOINT = /^geowindow\/2 watermark=(-?\d+(?:\.\d+)?) settled=(\d+)$/;

/** The checkpoint a commit carried; none (a new group, or count windows before) gives -Infinity and no replay region. */
export function decodeCheckpoint(metadata: string | null): Checkpoint {
  const match = metadata === null ? null : CHECKPOINT.exec(metadata);
  if (match === null) return { watermark: Number.NEGATIVE_INFINITY, settledTo: 0 };
  return { watermark: Number(match[1]), settledTo: Number(match[2]) };
}

/** A position between two chunks of a partition, and the watermark there. */
interface Boundary {
  readonly offset: number;
  watermark: number;
}

/**
 * The positions a checkpoint may settle at, in offset order: the first
 * offset read after an assignment, and the end of every chunk merged since.
 * Between two boundaries the watermark is only known to the worker that
 * folded the chunk.
 */
export class Boundaries {
  #list: Boundary[] = [];

  /**
   * A boundary at `offset`; the same offset again updates its watermark (an
   * idle or cap advance after the last chunk). Boundaries before the last
   * one (chunks re-read before the restored checkpoint) add nothing.
   */
  mark(offset: number, watermark: number): void {
    const last = this.#list[this.#list.length - 1];
    if (last !== undefined && last.offset === offset) last.watermark = watermark;
    else if (last === undefined || offset > last.offset) this.#list.push({ offset, watermark });
  }

  /** The last boundary before `limit` (or at it, with `inclusive`). */
  latestBefore(limit: number, inclusive: boolean): { readonly offset: number; readonly watermark: number } | undefined {
    let found: Boundary | undefined;
    for (const boundary of this.#list) {
      if (boundary.offset > limit || (!inclusive && boundary.offset === limit)) break;
      found = boundary;
    }
    return found;
  }

  /** Forgets the boundaries before `offset`: no later checkpoint settles there. */
  dropBefore(offset: number): void {
    const keep = this.#list.findIndex((boundary) => boundary.offset >= offset);
    if (keep > 0) this.#list = this.#list.slice(keep);
  }

  get size(): number {
    return this.#list.length;
  }
}
