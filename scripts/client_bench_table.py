#!/usr/bin/env python3
"""Turns evlog_client_bench JSON into the tables of BENCHMARKS.md (client section).

    scripts/client_bench_table.py build/h4/results/client.json

Reads the median aggregates (run with --benchmark_repetitions=N
--benchmark_report_aggregates_only=true); a file without aggregates is read
as single runs. Prints the throughput table (every client row beside
BM_RawLogAppend at the same value size, with the ratio of records/s) and the
latency table (microseconds, from the intended send time), with the
BM_HandoffBaseline rows (the same paced sender and a bare thread hand-off)
that show the machine's own floor.
"""
import json
import sys


def load(path):
    with open(path) as f:
        data = json.load(f)
    rows = {}
    for b in data["benchmarks"]:
        if b.get("run_type") == "aggregate":
            if b.get("aggregate_name") != "median":
                continue
        name = b["run_name"]
        rows[name] = b
    return data.get("context", {}), rows


def args_of(run_name):
    """{'partitions': '1', ...} from 'BM_X/partitions:1/value:100/...'."""
    out = {}
    for part in run_name.split("/")[1:]:
        if ":" in part:
            k, v = part.split(":", 1)
            out[k] = v
    return out


def fmt_rate(x):
    if x >= 1e6:
        return f"{x / 1e6:.3g} M/s"
    return f"{x / 1e3:.3g} k/s"


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    context, rows = load(sys.argv[1])
    baseline = {}
    for name, b in rows.items():
        if name.startswith("BM_RawLogAppend/"):
            baseline[args_of(name)["value"]] = b
    if context:
        print(f"<!-- {context.get('date', '')}, {context.get('num_cpus', '?')} CPUs at "
              f"{context.get('mhz_per_cpu', '?')} MHz, load {context.get('load_avg', '')} -->")
    print("| value | partitions | linger_ms | producers | consumer | records/s | MB/s "
          "| records/batch | raw append records/s | ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for value in ("100", "1024"):
        base = baseline.get(value)
        if base is not None:
            print(f"| {value} B | raw `SegmentedLog::Append` (baseline) | | | | "
                  f"{fmt_rate(base['items_per_second'])} | {base['bytes_per_second'] / 1e6:.0f} "
                  f"| {base.get('records_per_batch', 0):.0f} | | 1.00 |")
        for name, b in rows.items():
            if not name.startswith("BM_ClientThroughput/"):
                continue
            a = args_of(name)
            if a["value"] != value:
                continue
            ratio = b["items_per_second"] / base["items_per_second"] if base else float("nan")
            consumer = "yes" if a["consume"] == "1" else "no"
            print(f"| {value} B | {a['partitions']} | {a['linger']} | {a['producers']} | "
                  f"{consumer} | {fmt_rate(b['items_per_second'])} | "
                  f"{b['bytes_per_second'] / 1e6:.0f} | {b.get('records_per_batch', 0):.1f} | "
                  f"{fmt_rate(base['items_per_second']) if base else '-'} | {ratio:.2f} |")
    print()
    print("| offered load | consumer | p50 µs | p99 µs | p99.9 µs | max µs "
          "| p50 from Send() µs | p99 from Send() µs | p99.9 from Send() µs | achieved records/s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, b in rows.items():
        a = args_of(name)
        if name.startswith("BM_EndToEndLatency/"):
            # Older runs named the argument busy (0 parked, 1 busy-polling).
            mode = a["consumer"] if "consumer" in a else ("2" if a["busy"] == "1" else "0")
            consumer = {"0": "parked in Poll", "1": "default (adaptive spin)",
                        "2": "busy-polling"}.get(mode, f"mode {mode}")
        elif name.startswith("BM_HandoffBaseline/"):
            consumer = {"0": "baseline: hand-off, parked",
                        "2": "baseline: hand-off, spinning"}.get(a["receiver"], "baseline")
        else:
            continue
        print(f"| {int(a['rate']) // 1000}k records/s | {consumer} | {b['p50_us']:.1f} | "
              f"{b['p99_us']:.1f} | {b['p999_us']:.1f} | {b['max_us']:.0f} | "
              f"{b['send_p50_us']:.1f} | {b['send_p99_us']:.1f} | {b['send_p999_us']:.1f} | "
              f"{fmt_rate(b['items_per_second'])} |")


if __name__ == "__main__":
    main()
