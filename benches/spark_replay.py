"""PySpark replay throughput on local[1] and local[2] (issue 20's benchmark;
not a test). Run from the repository root with the package installed
(`pip install ".[spark]"`), Java 17, and the release binary built:

    python benches/spark_replay.py [--files 8] [--events 20000] [--dir /tmp/iamsim-spark-bench]

Writes `--files` CloudTrail files of `--events` generated events each
(`iamsim gen-cloudtrail --seed 1..N`, kept for the next run), then replays
them with iamsim.spark on local[1] pinned to one core and on local[2] with
both (a fresh process each, so Spark's JVM and Python workers have those
cores alone; best of 3 replays after one warm-up), and `iamsim replay
--threads 1|2` (pinned alike) on the same files for scale. Prints events/s
and the 2-core ÷ 1-core ratio.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

import iamsim
import iamsim.spark

DETAILS = "corpus/replay/authorization-details.json"


def spark_rate(master, folder, events, repeats=3):
    from pyspark.sql import SparkSession

    os.environ["PYSPARK_PYTHON"] = sys.executable
    spark = (
        SparkSession.builder.master(master).appName("iamsim-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.files.maxPartitionBytes", str(4 * 1024 * 1024))
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    iamsim.spark.replay(spark, [folder], authorization_details=[DETAILS])  # warm-up: workers started, code loaded
    best = float("inf")
    report = None
    for _ in range(repeats):
        t = time.perf_counter()
        report = iamsim.spark.replay(spark, [folder], authorization_details=[DETAILS])
        best = min(best, time.perf_counter() - t)
    spark.stop()
    assert report["events_read"] == events, report["events_read"]
    return events / best, report


def cli_rate(binary, folder, threads, events, cores):
    pin = (lambda: os.sched_setaffinity(0, cores)) if cores else None
    best = float("inf")
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([binary, "replay", "--cloudtrail", folder, "--authorization-details", DETAILS,
                        "--threads", str(threads), "--format", "json"], check=True, capture_output=True, preexec_fn=pin)
        best = min(best, time.perf_counter() - t)
    return events / best


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--files", type=int, default=8)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--dir", default="/tmp/iamsim-spark-bench")
    ap.add_argument("--binary", default="target/release/iamsim")
    ap.add_argument("--one", help=argparse.SUPPRESS)
    args = ap.parse_args()
    folder = pathlib.Path(args.dir)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(1, args.files + 1):
        out = folder / f"f{i}.json.gz"
        if not out.exists():
            subprocess.run([args.binary, "gen-cloudtrail", "--authorization-details", DETAILS, "--count", str(args.events),
                            "--seed", str(i), "--out", str(out)], check=True)
    events = args.files * args.events
    if args.one:
        # A child run: one master on the cores this process was given (the
        # JVM and the Python workers Spark starts inherit them).
        rate, report = spark_rate(args.one, str(folder), events)
        print(json.dumps({"rate": rate, "report": report}))
        return
    one, r1 = spark_child(args, "local[1]", {0})
    two, r2 = spark_child(args, "local[2]", None)
    strip = lambda r: {k: v for k, v in r.items() if k not in ("events_per_sec", "inputs")}
    assert strip(r1) == strip(r2), "local[1] and local[2] reports differ"
    figures = {
        "events": events,
        "spark_local1_events_per_sec": one,
        "spark_local2_events_per_sec": two,
        "spark_2_over_1": two / one,
        "cli_threads1_events_per_sec": cli_rate(args.binary, str(folder), 1, events, {0}),
        "cli_threads2_events_per_sec": cli_rate(args.binary, str(folder), 2, events, None),
    }
    print(json.dumps(figures, indent=2))


def spark_child(args, master, cores):
    """`master`'s rate, measured in a fresh process pinned to `cores` (all
    if None): local[1] must have one core, not one task slot beside a JVM
    reading files on the other."""
    pin = (lambda: os.sched_setaffinity(0, cores)) if cores else None
    out = subprocess.run(
        [sys.executable, __file__, "--files", str(args.files), "--events", str(args.events), "--dir", args.dir,
         "--binary", args.binary, "--one", master],
        check=True, capture_output=True, text=True, preexec_fn=pin,
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["rate"], result["report"]


if __name__ == "__main__":
    main()
