"""The Quix Streams peer of `npm run bench:windows`: the same job as
geowindow's KEY_BY=zone tumbling windows, as a Python user would write it.

    python bench/quix/zone_windows.py --brokers 127.0.0.1:9092 --input T \
        --output O --group G --zones counties.geojson --expect N \
        [--window-ms 60000] [--grace-ms 60000] [--state-dir DIR] \
        [--progress-seconds 5]

Each reading is located in a zone with a shapely STRtree over the zones file
(the first feature in file order that holds the point wins, as in geowindow;
points in no zone are dropped), re-keyed by zone (`group_by`, which writes
through an internal repartition topic), and folded into tumbling event-time
windows (`ts` of the reading) of count and pm25 sum / min / max, emitted with
`.final()` to the output topic.

It stops itself once all --expect input records have been read and every
record that matched a zone has come back through the repartition topic into
the window step. Windows are final when their key's stream time passes their
end plus the grace (Quix's default `closing_strategy="key"`), so each zone's
last windows are still open then: nothing closes them at shutdown.

Progress on stderr every --progress-seconds (lines start with `progress:`); a
JSON summary on stdout: records, the clock from the first record read to
the last one folded into a window, CPU seconds of the process and of the
main thread over that span, the kernel's peak RSS, late records.
"""

import argparse
import json
import logging
import os
import resource
import sys
import time

import quixstreams
import shapely
from quixstreams import Application
from quixstreams.dataframe.windows import Count, Max, Min, Sum
from shapely import STRtree


def load_zones(path: str) -> tuple[STRtree, list[str]]:
    """The zones' geometries in file order, prepared, in an STRtree; their ids as strings."""
    with open(path, encoding="utf-8") as f:
        collection = json.load(f)
    geometries = []
    ids = []
    for feature in collection["features"]:
        geometries.append(shapely.geometry.shape(feature["geometry"]))
        ids.append(str(feature["properties"]["id"]))
    shapely.prepare(geometries)
    return STRtree(geometries), ids


class Progress:
    """Counts records at both ends of the job and keeps the clock and CPU readings."""

    def __init__(self, expect: int, every_seconds: float):
        self.expect = expect
        self.every = every_seconds
        self.read = 0
        self.matched = 0
        self.windowed = 0
        self.late = 0
        # How far behind its zone's largest event time so far a record reached the window step:
        # the disorder the repartition topic adds, which the grace has to cover.
        self.zone_max_ts = {}
        self.max_lag_ms = 0
        self.first_at = None
        self.last_at = None
        self.cpu_first = None
        self.main_cpu_first = None
        self.cpu_last = None
        self.main_cpu_last = None
        self.next_report = 0.0

    @staticmethod
    def process_cpu() -> float:
        t = os.times()
        return t.user + t.system

    def on_read(self) -> None:
        if self.first_at is None:
            self.first_at = time.monotonic()
            self.cpu_first = self.process_cpu()
            self.main_cpu_first = time.thread_time()
            self.next_report = self.first_at + self.every
        self.read += 1

    def on_windowed(self, zone: str, ts: int) -> bool:
        """Counts a record reaching the window step; True once the job is done."""
        self.windowed += 1
        latest = self.zone_max_ts.get(zone, ts)
        if ts >= latest:
            self.zone_max_ts[zone] = ts
        elif latest - ts > self.max_lag_ms:
            self.max_lag_ms = latest - ts
        now = time.monotonic()
        if now >= self.next_report:
            self.next_report = now + self.every
            rate = self.windowed / max(1e-3, now - self.first_at)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(
                f"progress: {self.read}/{self.expect} read, {self.windowed} windowed, {rate:.0f} rec/s, "
                f"{self.late} late, max lag {self.max_lag_ms / 1000:.1f} s, peak rss {rss:.1f} MB",
                file=sys.stderr,
                flush=True,
            )
        if self.read >= self.expect and self.windowed >= self.matched and self.last_at is None:
            self.last_at = now
            self.cpu_last = self.process_cpu()
            self.main_cpu_last = time.thread_time()
            return True
        return False


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--zones", required=True)
    parser.add_argument("--expect", type=int, required=True)
    parser.add_argument("--window-ms", type=int, default=60_000)
    parser.add_argument("--grace-ms", type=int, default=60_000)
    parser.add_argument("--state-dir", default="state")
    parser.add_argument("--progress-seconds", type=float, default=5.0)
    args = parser.parse_args()

    started = time.monotonic()
    tree, zone_ids = load_zones(args.zones)
    print(
        f"zones: {len(zone_ids)} loaded in {time.monotonic() - started:.1f} s "
        f"(quixstreams {quixstreams.__version__}, shapely {shapely.__version__})",
        file=sys.stderr,
        flush=True,
    )
    progress = Progress(args.expect, args.progress_seconds)

    app = Application(
        broker_address=args.brokers,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=args.state_dir,
        loglevel="WARNING",
    )

    def event_time(value, headers, timestamp, timestamp_type) -> int:
        return value["ts"]

    readings = app.topic(args.input, value_deserializer="json", timestamp_extractor=event_time)
    output = app.topic(args.output, value_serializer="json", key_serializer="str")

    def locate(value):
        """The reading's zone and pm25, or None outside every zone."""
        progress.on_read()
        point = shapely.Point(value["lon"], value["lat"])
        hits = tree.query(point, predicate="intersects")
        if len(hits) == 0:
            return None
        progress.matched += 1
        return {"zone": zone_ids[int(hits.min())], "pm25": (value.get("readings") or {}).get("pm25")}

    def windowed(value, key, timestamp, headers):
        if progress.on_windowed(value["zone"], timestamp):
            app.stop()

    def on_late(value, key, timestamp_ms, late_by_ms, start, end, name, topic, partition, offset) -> bool:
        progress.late += 1
        return False

    sdf = app.dataframe(readings)
    sdf = sdf.apply(locate)
    sdf = sdf.filter(lambda value: value is not None)
    sdf = sdf.group_by("zone")
    sdf = sdf.update(windowed, metadata=True)
    sdf = (
        sdf.tumbling_window(duration_ms=args.window_ms, grace_ms=args.grace_ms, on_late=on_late)
        .agg(count=Count(), pm25_sum=Sum("pm25"), pm25_min=Min("pm25"), pm25_max=Max("pm25"))
        .final()
    )
    sdf = sdf.apply(lambda value, key, timestamp, headers: {**value, "zone": key}, metadata=True)
    sdf.to_topic(output)

    app.run()

    if progress.last_at is None:
        print(f"stopped: after {progress.read}/{args.expect} records read", file=sys.stderr, flush=True)
        sys.exit(1)
    seconds = progress.last_at - progress.first_at
    summary = {
        "system": "quix",
        "records": progress.read,
        "matched": progress.matched,
        "windowed": progress.windowed,
        "late": progress.late,
        "max_lag_ms": progress.max_lag_ms,
        "seconds": round(seconds, 3),
        "records_per_second": round(progress.read / seconds),
        "cpu_seconds": round(progress.cpu_last - progress.cpu_first, 3),
        "main_thread_cpu_seconds": round(progress.main_cpu_last - progress.main_cpu_first, 3),
        "maxrss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "zones": len(zone_ids),
        "window_ms": args.window_ms,
        "grace_ms": args.grace_ms,
        "versions": {
            "python": sys.version.split()[0],
            "quixstreams": quixstreams.__version__,
            "shapely": shapely.__version__,
        },
    }
    print(json.dumps(summary), flush=True)


if __name__ == "__main__":
    logging.getLogger("quixstreams").setLevel(logging.WARNING)
    main()
