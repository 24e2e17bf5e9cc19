#!/usr/bin/env python3
"""Turns the JSON of the peer benchmarks (bench/peers/) into one table.

    scripts/peer_bench_table.py build/release/bench-results/peers/*.json
    scripts/peer_bench_table.py --all <json>...        # every paired row
    scripts/peer_bench_table.py --dat DIR <json>...    # also gnuplot data files

Each row pairs an evlog benchmark with the peer's twin from the same run
(BM_Append<EvlogStore>/... with BM_Append<RocksDbStore>/..., and so on):
records/s and MB/s (key + value bytes, 10^6 bytes) of both, and the ratio
evlog / peer of records/s. Medians when the run has repetitions
(--benchmark_repetitions=N), else the single run. Python 3 standard library
only.
"""
import argparse
import json
import os
import re
import sys

PEER_NAMES = {"rocksdb": "RocksDB", "sqlite": "SQLite", "rdkafka": "librdkafka mock"}
# Issue 8's targets: (peer, row kind, value bytes) -> least ratio.
TARGETS = {
    ("rocksdb", "append", 100): 10.0,
    ("sqlite", "append", 100): 20.0,
    ("rocksdb", "append", 1024): 4.0,
    ("rdkafka", "produce+consume", 100): 10.0,
    ("rdkafka", "produce+consume", 1024): 10.0,
}
# The append rows the headline table shows: (batch, sync).
HEADLINE_APPENDS = [(1000, 0), (1, 0), (1000, 1)]
TARGET_BATCH = 1000


def parse_name(run_name):
    """('BM_Append', 'rocksdb', {'value': 100, ...}) from a benchmark name."""
    parts = run_name.split("/")
    m = re.match(r"(BM_\w+)<(\w+?)(Store|Client)>$", parts[0])
    if not m:
        return None
    args = {}
    for part in parts[1:]:
        if ":" in part:
            k, v = part.split(":", 1)
            if k != "iterations":
                args[k] = int(v)
    return m.group(1), m.group(2).lower(), args


def load(paths):
    """{(bench, side, frozen args): row} and the first file's context."""
    rows = {}
    context = {}
    for path in paths:
        with open(path) as f:
            data = json.load(f)
        context = context or data.get("context", {})
        has_aggregates = any(b.get("run_type") == "aggregate" for b in data["benchmarks"])
        for b in data["benchmarks"]:
            if has_aggregates and b.get("aggregate_name") != "median":
                continue
            if b.get("error_occurred"):
                continue
            parsed = parse_name(b.get("run_name", b["name"]))
            if parsed is None:
                continue
            bench, side, args = parsed
            peer = os.path.basename(path).split(".")[0]
            rows[(peer, bench, side, tuple(sorted(args.items())))] = b
    return context, rows


def find(rows, peer, bench, side, **args):
    return rows.get((peer, bench, side, tuple(sorted(args.items()))))


def rate(x):
    if x is None:
        return "-"
    if x >= 1e6:
        return f"{x / 1e6:.2f} M"
    if x >= 1e3:
        return f"{x / 1e3:.1f} k"
    return f"{x:.0f}"


def mbps(x):
    return "-" if x is None else f"{x / 1e6:,.1f}"


class Row:
    def __init__(self, peer, kind, value, label, evlog, other, note=""):
        self.peer, self.kind, self.value, self.label = peer, kind, value, label
        self.evlog, self.other, self.note = evlog, other, note  # (records/s, bytes/s)

    def ratio(self):
        if self.evlog[0] is None or not self.other[0]:
            return None
        return self.evlog[0] / self.other[0]


def storage_rows(rows, peer, peer_side, everything):
    out = []
    batches = sorted({dict(k[3]).get("batch") for k in rows
                      if k[0] == peer and k[1] == "BM_Append"})
    for value in (100, 1024):
        appends = ([(b, s) for s in (0, 1) for b in batches] if everything
                   else HEADLINE_APPENDS)
        for batch, sync in appends:
            e = find(rows, peer, "BM_Append", "evlog", value=value, batch=batch, sync=sync)
            p = find(rows, peer, "BM_Append", peer_side, value=value, batch=batch, sync=sync)
            if e is None or p is None:
                continue
            note = ""
            target = TARGETS.get((peer, "append", value))
            if target and batch == TARGET_BATCH and sync == 0:
                note = f">= {target:g}x"
            label = f"append {value} B, batch {batch}, {'fdatasync' if sync else 'no sync'}"
            out.append(Row(peer, "append", value, label,
                           (e["items_per_second"], e["bytes_per_second"]),
                           (p["items_per_second"], p["bytes_per_second"]), note))
        e = find(rows, peer, "BM_Read", "evlog", value=value)
        p = find(rows, peer, "BM_Read", peer_side, value=value)
        if e is not None and p is not None:
            out.append(Row(peer, "read", value, f"read all back, {value} B",
                           (e["items_per_second"], e["bytes_per_second"]),
                           (p["items_per_second"], p["bytes_per_second"])))
    return out


def client_rows(rows, everything):
    out = []
    peer = "rdkafka"
    for value in (100, 1024):
        modes = [(1, 0), (0, 0)] if everything else [(1, 0)]
        for idem, txn in modes + [(1, 1)]:
            e = find(rows, peer, "BM_ProduceConsume", "evlog", value=value, idempotence=idem,
                     transactional=txn)
            p = find(rows, peer, "BM_ProduceConsume", "rdkafka", value=value, idempotence=idem,
                     transactional=txn)
            if e is None or p is None:
                continue
            record_bytes = e["record_bytes"]
            mode = "transactional" if txn else (
                "idempotent" if idem else "not idempotent")
            parts = [("produce", "produce_per_second"), ("consume", "consume_per_second"),
                     ("consume once flowing", "consume_after_first_per_second"),
                     ("produce+consume", None)]
            if txn:
                parts = [("produce", "produce_per_second"), ("produce+consume", None)]
            for kind, counter in parts:
                if counter is None:
                    ev = (e["items_per_second"], e["bytes_per_second"])
                    pv = (p["items_per_second"], p["bytes_per_second"])
                elif counter not in e or counter not in p:
                    continue  # a result file from before the counter existed
                else:
                    ev = (e[counter], e[counter] * record_bytes)
                    pv = (p[counter], p[counter] * record_bytes)
                note = ""
                target = TARGETS.get((peer, kind, value))
                if target and idem == 1 and txn == 0:
                    note = f">= {target:g}x"
                out.append(Row(peer, kind, value, f"{kind} {value} B, {mode}", ev, pv, note))
    return out


def verdict(row):
    if not row.note:
        return ""
    target = float(row.note.split()[1].rstrip("x"))
    r = row.ratio()
    return f"{row.note}: {'met' if r is not None and r >= target else 'missed'}"


def print_table(all_rows):
    print("| peer | workload | evlog records/s | evlog MB/s | peer records/s | peer MB/s "
          "| evlog / peer | target |")
    print("|---|---|---:|---:|---:|---:|---:|---|")
    for r in all_rows:
        ratio = r.ratio()
        print(f"| {PEER_NAMES[r.peer]} | {r.label} | {rate(r.evlog[0])} | {mbps(r.evlog[1])} "
              f"| {rate(r.other[0])} | {mbps(r.other[1])} "
              f"| {'-' if ratio is None else f'{ratio:.1f}x'} | {verdict(r)} |")


def write_dat(directory, rows):
    """Data files for scripts/plot_peers.gp."""
    os.makedirs(directory, exist_ok=True)
    for peer, side in (("rocksdb", "rocksdb"), ("sqlite", "sqlite")):
        for value in (100, 1024):
            with open(os.path.join(directory, f"append_{peer}_{value}.dat"), "w") as f:
                f.write("# batch evlog_nosync peer_nosync evlog_fdatasync peer_fdatasync "
                        "(records/s)\n")
                batches = sorted({dict(k[3]).get("batch") for k in rows
                                  if k[0] == peer and k[1] == "BM_Append"})
                for batch in batches:
                    cells = []
                    for sync in (0, 1):
                        for s in ("evlog", side):
                            b = find(rows, peer, "BM_Append", s, value=value, batch=batch,
                                     sync=sync)
                            cells.append(f"{b['items_per_second']:.6g}" if b else "NaN")
                    f.write(f"{batch} {cells[0]} {cells[1]} {cells[2]} {cells[3]}\n")
    with open(os.path.join(directory, "clients.dat"), "w") as f:
        f.write("# label evlog peer (records/s)\n")
        for value in (100, 1024):
            for peer, side in (("rocksdb", "rocksdb"), ("sqlite", "sqlite")):
                e = find(rows, peer, "BM_Read", "evlog", value=value)
                p = find(rows, peer, "BM_Read", side, value=value)
                if e and p:
                    f.write(f'"read\\n{value} B\\n{PEER_NAMES[peer]}" '
                            f"{e['items_per_second']:.6g} {p['items_per_second']:.6g}\n")
            e = find(rows, "rdkafka", "BM_ProduceConsume", "evlog", value=value, idempotence=1,
                     transactional=0)
            p = find(rows, "rdkafka", "BM_ProduceConsume", "rdkafka", value=value,
                     idempotence=1, transactional=0)
            if e and p:
                for kind, counter in (("produce", "produce_per_second"),
                                      ("consume", "consume_per_second"),
                                      ("produce+consume", "items_per_second")):
                    f.write(f'"{kind}\\n{value} B\\nrdkafka" {e[counter]:.6g} '
                            f"{p[counter]:.6g}\n")
    for sync in (0, 1):
        with open(os.path.join(directory, f"latency_sync{sync}.dat"), "w") as f:
            f.write("# label p50 p99 p99.9 (microseconds), one-record appends\n")
            for value in (100, 1024):
                for peer, side in (("rocksdb", "rocksdb"), ("sqlite", "sqlite")):
                    for s in ("evlog", side):
                        b = find(rows, peer, "BM_AppendLatency", s, value=value, sync=sync)
                        if b is None:
                            continue
                        who = "evlog" if s == "evlog" else PEER_NAMES[peer]
                        run = f" ({PEER_NAMES[peer]} run)" if s == "evlog" else ""
                        f.write(f'"{who}{run}\\n{value} B" {b["p50_us"]:.6g} '
                                f'{b["p99_us"]:.6g} {b["p999_us"]:.6g}\n')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", nargs="+", help="<peer>.json files of the peer benchmarks")
    parser.add_argument("--all", action="store_true", help="every paired row")
    parser.add_argument("--dat", metavar="DIR", help="write gnuplot data files to DIR")
    args = parser.parse_args()
    context, rows = load(args.json)
    if not rows:
        sys.exit("peer_bench_table: no peer benchmark rows in " + " ".join(args.json))
    if context:
        print(f"{context.get('date', '')}: {context.get('num_cpus', '?')} CPUs at "
              f"{context.get('mhz_per_cpu', '?')} MHz, load average "
              f"{' '.join(f'{x:.2f}' for x in context.get('load_avg', []))}")
        print()
    table = []
    for peer in ("rocksdb", "sqlite"):
        table += storage_rows(rows, peer, peer, args.all)
    table += client_rows(rows, args.all)
    print_table(table)
    if args.dat:
        write_dat(args.dat, rows)


if __name__ == "__main__":
    main()
