#!/usr/bin/env python3
"""Storage figures for BENCHMARKS.md from evlog_storage_bench's JSON output.

    build/bench/bench/evlog_storage_bench --benchmark_min_time=0.3 \
        --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
        --benchmark_out=storage.json --benchmark_out_format=json
    scripts/storage_bench_table.py storage.json

Prints one Markdown table: every evlog row beside its baseline (medians of
the repetitions, or the single run), with the ratio and the issue-3 target.
"""
import json
import sys


def load(path):
    with open(path) as f:
        doc = json.load(f)
    rows = {}
    for b in doc["benchmarks"]:
        if b.get("aggregate_name", "median") != "median":
            continue
        name = b.get("run_name", b["name"])
        rows[name] = b
    return doc["context"], rows


def find(rows, prefix):
    for name, row in rows.items():
        if name.startswith(prefix):
            return row
    raise KeyError(prefix)


def rate(row, key):
    return row.get(key, 0.0)


def main():
    context, rows = load(sys.argv[1])
    print(f"Load average at the start: {context.get('load_avg')}; "
          f"{context.get('num_cpus')} CPUs at {context.get('mhz_per_cpu')} MHz.\n")
    print("| figure | evlog | baseline | ratio | ratio by CPU time | target |")
    print("|---|---|---|---|---|---|")

    def cpu_rate(row, key):
        # The same rate computed with CPU time instead of real time: steadier
        # when the machine is shared (real time includes waiting for a CPU).
        return rate(row, key) * row["real_time"] / row["cpu_time"]

    def line(label, evlog, base, unit, target="", key=None):
        ratio = f"{rate(evlog, key) / rate(base, key):.2f}"
        cpu = f"{cpu_rate(evlog, key) / cpu_rate(base, key):.2f}" if key != "items_per_second" \
            or "EveryAppend" not in evlog["name"] else "-"
        scale = 1e6 if unit in ("M/s", "MB/s") else 1
        print(f"| {label} | {rate(evlog, key) / scale:,.3g} {unit} | "
              f"{rate(base, key) / scale:,.3g} {unit} | {ratio} | {cpu} | {target} |")

    for value in (100, 1024):
        base = find(rows, f"BM_BaselineBufferedWrite/{value}/")
        for records in (1, 16, 256):
            for kind in ("BM_LogAppend", "BM_LogAppendPreEncoded"):
                row = find(rows, f"{kind}/{records}/{value}/")
                what = "encode+append" if kind == "BM_LogAppend" else "append only"
                target = ""
                if records == 256 and kind == "BM_LogAppend":
                    target = ">= 0.90 (records/s)" if value == 100 else ">= 0.75 (bytes/s)"
                line(f"append {what}, {records} x {value} B, records/s", row, base, "M/s",
                     target, "items_per_second")
    for value in (100, 1024):
        # Not a target: the baseline's own records written the way evlog
        # writes (one write(2) per 256 records) against its 1 MiB writes.
        try:
            per_batch = find(rows, f"BM_BaselineWritePerBatch/{value}/")
        except KeyError:
            continue
        base = find(rows, f"BM_BaselineBufferedWrite/{value}/")
        line(f"baseline, one write(2) per 256 x {value} B vs 1 MiB writes, records/s",
             per_batch, base, "M/s", "", "items_per_second")
        row = find(rows, f"BM_LogAppend/256/{value}/")
        line(f"append encode+append, 256 x {value} B vs that baseline, records/s", row,
             per_batch, "M/s", "", "items_per_second")
    base = find(rows, "BM_BaselineRead")
    for verify, label in ((1, "read, CRC checked"), (0, "read, no CRC check")):
        row = find(rows, f"BM_LogReadSequential/{verify}/")
        line(f"{label}, MB/s", row, base, "MB/s", ">= 0.60" if verify else "",
             "bytes_per_second")
    one = find(rows, "BM_LogAppendEveryAppend/real_time/threads:1")
    four = find(rows, "BM_LogAppendEveryAppend/real_time/threads:4")
    sync = find(rows, "BM_BaselineWriteFdatasync")
    line("kEveryAppend, 4 vs 1 appenders, records/s", four, one, "/s", ">= 3.0",
         "items_per_second")
    line("kEveryAppend, 1 appender vs write+fdatasync, records/s", one, sync, "/s", "",
         "items_per_second")
    print(f"| records per fdatasync, 1 / 4 appenders | {one.get('records_per_sync', 0):.2f} / "
          f"{four.get('records_per_sync', 0):.2f} | | | | |")
    print(f"| fdatasync latency (write 100 B + fdatasync) | "
          f"{sync['real_time'] / 1e6:.2f} ms | | | | |")
    clean = find(rows, "BM_LogReopenClean")
    print(f"| reopen after Close, {clean.get('segments', 0):,.0f} segments | "
          f"{clean['real_time']:.0f} ms | | | | |")
    crash = find(rows, "BM_LogRecoverUnflushedTail")
    print(f"| reopen after crash, {crash.get('log_mib', 0):.0f} MiB unflushed | "
          f"{crash['real_time']:.0f} ms, {rate(crash, 'bytes_per_second') / 1e6:.0f} MB/s | | | | |")
    lookup = find(rows, "BM_LogLookupRandom")
    print(f"| Read at a random offset, {lookup.get('log_mib', 0):.0f} MiB log | "
          f"{lookup['real_time']:.1f} us | | | | |")


if __name__ == "__main__":
    main()
