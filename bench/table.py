#!/usr/bin/env python3
"""Markdown tables from bench/run.py --json files: one table per scenario, the medians;
for a (scenario, subject) in several files, the last file wins.

    python3 bench/table.py bench/results/*.json
"""
import json
import sys

ORDER = ["python", "handwritten", "tokio", "smol", "blocking", "floor"]
TITLES = {"s20": "200 calls x 20 ms frames", "s500": "2,000 calls x 500 ms frames",
          "cap20": "capacity: 500 calls x 20 ms frames"}


def f(v, spec):
    return "-" if v is None else format(v, spec)


rows = {}
caps = {}
for path in sys.argv[1:]:
    data = json.load(open(path))
    for r in data["medians"]:
        if r["scenario"] in TITLES:  # (files before the capacity search had a fixed cap500)
            rows[(r["scenario"], r["subject"])] = r
    for r in data.get("capacity", []):
        caps[r["subject"]] = r
for sc in TITLES:
    subj = sorted((s for (c, s) in rows if c == sc), key=ORDER.index)
    if not subj:
        continue
    print(f"**{TITLES[sc]}** (medians of {rows[(sc, subj[0])].get('repeats', 1)} runs)\n")
    print("| subject | CPU µs / relayed frame | CPU, % of a core | round trip p50 / p99 / max ms "
          "| lost | RSS per call KiB | generator / agent CPU % |")
    print("|---|---|---|---|---|---|---|")
    for s in subj:
        r = rows[(sc, s)]
        if "error" in r:
            print(f"| {s} | {r['error']} | | | | | |")
            continue
        print(f"| {s} | {f(r['cpu_us_per_frame'], '.1f')} | {f(r['cpu_percent'], '.0f')} | "
              f"{f(r['rtt_p50_ms'], '.1f')} / {f(r['rtt_p99_ms'], '.1f')} / "
              f"{f(r['rtt_max_ms'], '.0f')} | {f(r['lost'], '.0f')} | "
              f"{f(r['rss_per_call_kib'], '.1f')} | {f(r['generator_cpu_percent'], '.0f')} / "
              f"{f(r['agent_cpu_percent'], '.0f')} |")
    print()

if caps:
    first = next(iter(caps.values()))
    print(f"**capacity search: {first['chunk_ms']} ms frames, round-trip p99 <= "
          f"{first['bound_p99_ms']:.0f} ms, steps of 500 calls**\n")
    print("| subject | capacity (calls) | steps: calls p99 ms | at capacity: CPU µs / frame, "
          "RSS per call KiB |")
    print("|---|---|---|---|")
    for s in sorted(caps, key=ORDER.index):
        r = caps[s]
        steps = ", ".join(f"{st['calls']}: {f(st['rtt_p99_ms'], '.0f')}" for st in r["steps"])
        print(f"| {s} | {r['capacity_calls']:.0f} | {steps} | "
              f"{f(r.get('cpu_us_per_frame'), '.1f')}, {f(r.get('rss_per_call_kib'), '.1f')} |")
    print()
