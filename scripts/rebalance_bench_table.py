#!/usr/bin/env python3
"""Turns evlog_rebalance_bench JSON into the tables of BENCHMARKS.md (consumer groups).

    scripts/rebalance_bench_table.py build/bench/results/rebalance.json

Reads the median aggregates (run with --benchmark_repetitions=N
--benchmark_report_aggregates_only=true); a file without aggregates is read
as single runs. Prints four tables: rebalance time (each protocol's row with
its ratio to eager range in the same scenario), the longest gap in
consumption during a rebalance against the steady baseline, offset commit
throughput against OffsetStore::CommitOffsets and a raw append, and
consumption with auto-commit against consumption without.
"""
import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate" and b.get("aggregate_name") != "median":
            continue
        # One row per benchmark: the median aggregate, or the single run.
        name = b["run_name"]
        for suffix in ("/manual_time", "/real_time"):
            name = name.replace(suffix, "")
        name = "/".join(p for p in name.split("/") if not p.startswith("iterations:"))
        rows[name] = b
    return data.get("context", {}), rows


def ms(b):
    t = b["real_time"]
    unit = b.get("time_unit", "ns")
    return t * {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[unit]


def rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.3g} M/s"
    if x >= 1e3:
        return f"{x / 1e3:.3g} k/s"
    return f"{x:.3g} /s"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    context, rows = load(sys.argv[1])
    if context:
        print(f"<!-- {context.get('date', '')}, {context.get('num_cpus', '?')} CPUs at "
              f"{context.get('mhz_per_cpu', '?')} MHz, load {context.get('load_avg', '')} -->")

    print("| scenario | protocol | time ms | vs eager range | generations | partitions moved "
          "| partitions revoked | poll rounds |")
    print("|---|---|---|---|---|---|---|---|")
    for scenario in ("form", "join", "leave"):
        base = rows.get(f"BM_Rebalance/eager_range_{scenario}")
        for protocol in ("eager_range", "eager_sticky", "cooperative"):
            b = rows.get(f"BM_Rebalance/{protocol}_{scenario}")
            if b is None:
                continue
            ratio = ms(b) / ms(base) if base else float("nan")
            print(f"| {scenario} | {protocol.replace('_', ' ')} | {ms(b):.1f} | {ratio:.2f} "
                  f"| {b['generations']:.1f} | {b['moved']:.0f} | {b['revoked']:.0f} "
                  f"| {b['poll_rounds']:.1f} |")
    print()

    print("| protocol | rebalance ms | generations | moved / unmoved | longest gap ms "
          "| median partition's gap ms | baseline: median window's longest ms "
          "| baseline: worst window's ms | baseline median partition's ms | ratio "
          "| appender's longest pause ms (baseline) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for protocol in ("cooperative", "eager_sticky", "eager_range"):
        b = rows.get(f"BM_RebalanceGap/{protocol}")
        if b is None:
            continue
        print(f"| {protocol.replace('_', ' ')} | {b['rebalance_ms']:.1f} | {b['generations']:.0f} "
              f"| {b['moved']:.0f} / {b['unmoved']:.0f} | {b['gap_max_ms']:.1f} "
              f"| {b['gap_median_ms']:.1f} | {b['base_gap_max_ms']:.1f} "
              f"| {b['base_gap_worst_ms']:.1f} | {b['base_gap_median_ms']:.1f} "
              f"| {b['gap_ratio']:.2f} | {b['append_gap_max_ms']:.1f} "
              f"({b['base_append_gap_max_ms']:.1f}) |")
    print()

    print("| file system | partitions per commit | raw append | OffsetStore::CommitOffsets "
          "| Consumer::CommitSync | Consumer::CommitAsync | CommitSync / store "
          "| CommitSync / raw | CommitAsync / store |")
    print("|---|---|---|---|---|---|---|---|---|")
    for fs in ("mem", "posix"):
        for partitions in ("1", "10"):
            get = {via: rows.get(f"BM_OffsetCommit/{fs}_{via}/partitions:{partitions}")
                   for via in ("raw_append", "offset_store", "commit_sync", "commit_async")}
            if any(v is None for v in get.values()):
                continue
            r = {k: v["items_per_second"] for k, v in get.items()}
            print(f"| {fs} | {partitions} | {rate(r['raw_append'])} | {rate(r['offset_store'])} "
                  f"| {rate(r['commit_sync'])} | {rate(r['commit_async'])} "
                  f"| {r['commit_sync'] / r['offset_store']:.2f} "
                  f"| {r['commit_sync'] / r['raw_append']:.2f} "
                  f"| {r['commit_async'] / r['offset_store']:.2f} |")
    print()

    print("| file system | auto-commit | records/s | vs auto-commit off "
          "| offset records written per 100k records |")
    print("|---|---|---|---|---|")
    for fs in ("mem", "posix"):
        b = rows.get(f"BM_ConsumeAutoCommit/{fs}")
        if b is None:
            continue
        for interval in ("off", "5000", "10"):
            label = "off" if interval == "off" else f"every {interval} ms"
            ratio = b.get(f"ratio_{interval}", 1.0)
            print(f"| {fs} | {label} | {rate(b[f'records_per_s_{interval}'])} | {ratio:.2f} "
                  f"| {b[f'commit_records_{interval}']:.0f} |")

if __name__ == "__main__":
    main()
