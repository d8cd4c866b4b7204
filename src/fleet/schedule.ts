/**
 * Which records of a run get some treatment (bad, late), spread evenly:
 * record i is chosen when floor((i + 1) × share) passes an integer. A
 * schedule is a pure function of the index, so the same run chooses the same
 * records.
 */
export type Schedule = (index: number) => boolean;

/** Exactly `chosen` of the first `total` records, so tests can reconcile to the record. */
export function exactSchedule(chosen: number, total: number): Schedule {
  if (chosen <= 0 || total <= 0) return () => false;
  return (i) => Math.floor(((i + 1) * chosen) / total) > Math.floor((i * chosen) / total);
}

/** A share `ratio` of a run of unknown length: floor(n × ratio) of any first n records. */
export function ratioSchedule(ratio: number): Schedule {
  if (ratio <= 0) return () => false;
  return (i) => Math.floor((i + 1) * ratio) > Math.floor(i * ratio);
}
