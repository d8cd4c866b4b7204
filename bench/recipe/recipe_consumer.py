"""The recipe's approach (../shared/seed/sensor-stream-memory-limits.txt) as a
Kafka consumer, for comparison with geowindow on the same topic: a bounded
deque window of CHUNK_SIZE records, float32 numpy coordinate arrays, explicit
release after each window, and an RSS check that collects garbage and sleeps
when RSS nears the limit. Fed by confluent-kafka (librdkafka).

    python3 bench/recipe/recipe_consumer.py --brokers 127.0.0.1:9092 --topic T \
        [--group G] [--chunk-size 2000] [--memory-limit-mb 512] [--rss-csv out.csv] \
        [--max-records N] [--idle-exit 20] [--progress-seconds 10]

Prints a JSON summary on stdout; progress every 10 s on stderr. The summary's
`peak_rss_mb` is sampled (psutil, once a second with --rss-csv); `maxrss_mb` is
the kernel's exact peak (getrusage ru_maxrss), and `cpu_seconds` the process
CPU time from the first record to the last.
"""

import argparse
import gc
import json
import resource
import sys
import threading
import time
from collections import deque

import numpy as np
import psutil
from confluent_kafka import Consumer, KafkaError

RSS_THRESHOLD_RATIO = 0.85


def rss_mb() -> float:
    return psutil.Process().memory_info().rss / (1024 ** 2)


def enforce_memory_limit(limit_mb: float, stats: dict) -> None:
    """The recipe's circuit breaker: collect and pause near the limit."""
    current = rss_mb()
    if current > limit_mb * RSS_THRESHOLD_RATIO:
        stats["throttles"] += 1
        gc.collect()
        time.sleep(0.15)
        post_gc = rss_mb()
        if post_gc > limit_mb:
            raise MemoryError(f"Process RSS ({post_gc:.1f}MB) exceeds hard limit of {limit_mb}MB")


def process_spatial_chunk(window: deque) -> dict:
    """The recipe's window aggregation: float32 arrays, centroid and bbox."""
    if not window:
        return {"count": 0}
    lats = np.array([p["lat"] for p in window], dtype=np.float32)
    lons = np.array([p["lon"] for p in window], dtype=np.float32)
    return {
        "count": len(window),
        "centroid_lat": float(lats.mean()),
        "centroid_lon": float(lons.mean()),
        "bbox": [float(lats.min()), float(lons.min()), float(lats.max()), float(lons.max())],
    }


def reading_of(value: bytes):
    """The fields the recipe needs, or None for a record it cannot use."""
    try:
        record = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict):
        return None
    if record.get("type") == "Feature":
        geometry = record.get("geometry") or {}
        coordinates = geometry.get("coordinates") if isinstance(geometry, dict) else None
        if not isinstance(coordinates, list) or len(coordinates) < 2:
            return None
        lon, lat = coordinates[0], coordinates[1]
    else:
        lon, lat = record.get("lon"), record.get("lat")
    if not isinstance(lat, (int, float)) or not isinstance(lon, (int, float)):
        return None
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        return None
    return {"lat": lat, "lon": lon}


def sample_rss(path: str, started: float, stop: threading.Event, peak: list) -> None:
    with open(path, "w") as out:
        out.write("t_s,rss_mb\n")
        while not stop.is_set():
            current = rss_mb()
            peak[0] = max(peak[0], current)
            out.write(f"{time.monotonic() - started:.1f},{current:.2f}\n")
            out.flush()
            stop.wait(1.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--brokers", required=True)
    parser.add_argument("--topic", required=True)
    parser.add_argument("--group", default=f"recipe-{int(time.time())}")
    parser.add_argument("--chunk-size", type=int, default=2000)
    parser.add_argument("--memory-limit-mb", type=float, default=512)
    parser.add_argument("--rss-csv", default=None)
    parser.add_argument("--max-records", type=int, default=0, help="stop after this many records (0: no limit)")
    parser.add_argument("--idle-exit", type=float, default=20, help="stop after this many seconds without records")
    parser.add_argument("--progress-seconds", type=float, default=10, help="seconds between progress lines on stderr")
    args = parser.parse_args()

    consumer = Consumer({
        "bootstrap.servers": args.brokers,
        "group.id": args.group,
        "auto.offset.reset": "earliest",
        "enable.auto.commit": True,
    })
    consumer.subscribe([args.topic])
    stats = {"records": 0, "bad": 0, "windows": 0, "throttles": 0}
    peak = [rss_mb()]
    started = time.monotonic()
    stop = threading.Event()
    sampler = None
    if args.rss_csv:
        sampler = threading.Thread(target=sample_rss, args=(args.rss_csv, started, stop, peak), daemon=True)
        sampler.start()
    window = deque(maxlen=args.chunk_size)
    first_at = None
    cpu_at_first = None
    cpu_at_last = None
    last_record_at = time.monotonic()
    last_report = started
    try:
        while True:
            message = consumer.poll(0.5)
            now = time.monotonic()
            if now - last_report >= args.progress_seconds:
                last_report = now
                print(f"recipe: {stats['records']} records, {stats['windows']} windows, rss {rss_mb():.0f} MB",
                      file=sys.stderr, flush=True)
            if message is None:
                if stats["records"] > 0 and now - last_record_at > args.idle_exit:
                    break
                continue
            if message.error():
                if message.error().code() == KafkaError._PARTITION_EOF:
                    continue
                raise RuntimeError(message.error())
            if first_at is None:
                first_at = now
                cpu_at_first = time.process_time()
            last_record_at = now
            stats["records"] += 1
            reading = reading_of(message.value())
            if reading is None:
                stats["bad"] += 1
            else:
                window.append(reading)
                if len(window) == args.chunk_size:
                    process_spatial_chunk(window)
                    stats["windows"] += 1
                    window.clear()
                    enforce_memory_limit(args.memory_limit_mb, stats)
            if args.max_records and stats["records"] >= args.max_records:
                last_record_at = now
                break
        if window:
            process_spatial_chunk(window)
            stats["windows"] += 1
            window.clear()
        cpu_at_last = time.process_time()
    finally:
        stop.set()
        consumer.close()
    elapsed = max(1e-9, last_record_at - (first_at or last_record_at))
    peak[0] = max(peak[0], rss_mb())
    print(json.dumps({
        **stats,
        "seconds": round(elapsed, 3),
        "records_per_second": round(stats["records"] / elapsed) if first_at else 0,
        "peak_rss_mb": round(peak[0], 1),
        # ru_maxrss is in KiB on Linux: the exact peak of the whole process.
        "maxrss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "cpu_seconds": round(cpu_at_last - cpu_at_first, 3) if cpu_at_first is not None and cpu_at_last is not None else None,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
