#!/usr/bin/env python3
"""The load benchmark of the bridge servers, with its anchors (see bench/README.md).

Build first (this script builds nothing):

    cargo build --release -p teler-examples --examples
    cargo build --release -p teler-emulator
    python3 -m venv /tmp/bench-venv && /tmp/bench-venv/bin/pip install -r bench/requirements.txt

Then, for example:

    python3 bench/run.py --scenario s20 --scenario s500 --python /tmp/bench-venv/bin/python

One run: starts the stand-in agent (`teler-emulator agent`, echoing at once), then for each
subject in turn starts it, measures its idle RSS, runs `teler-emulator load` through it and
samples the subject's CPU time (utime + stime of /proc/PID/stat, all threads) and RSS every
100 ms, then stops it. Everything runs on this machine, sharing its cores.

A *relayed frame* is one WebSocket audio frame crossing the subject in either direction:
each frame the generator sends (Teler -> subject -> agent) and each echo it gets back
(agent -> subject -> Teler) counts once, so one round trip is two relayed frames. The same
definition holds for every subject, the TCP proxy included (it copies the same frames'
bytes). CPU per relayed frame is measured over the steady part of the sending phase only
(from 1 s after the frames start to 0.5 s before they stop), so handshakes and closes are
left out: CPU in that window / (relayed frames per second x window length), with the
frame rate taken from the generator's counts ((sent + received) / duration).

RSS per call = (highest VmRSS in that window - VmRSS before the load) / calls.
"""

import argparse
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# name: (calls, chunk_ms, default subjects, what it checks)
SCENARIOS = {
    "s20": (200, 20, "python,handwritten,tokio,smol,blocking,floor",
            "CPU per relayed frame, 20 ms frames, 200 calls"),
    "s500": (2000, 500, "python,handwritten,tokio,smol,blocking,floor",
             "CPU per relayed frame, 500 ms frames, 2,000 calls"),
    "cap20": (500, 20, "tokio,smol", "capacity: 500 calls, 20 ms frames, p99 <= 20 ms"),
}
# Capacity searches: name: (chunk_ms, first and step call count, p99 bound ms, default
# subjects). The largest call count (in steps) whose round-trip p99 stays at or under the
# bound, with no frame lost and no stream failing, is the subject's capacity: a slower
# machine moves every subject's capacity, not the target (a ratio to the floor's).
SEARCHES = {
    "cap500": (500, 500, 50.0, "tokio,smol,blocking,floor,handwritten"),
}
SEARCH_MAX_CALLS = 12000
ALL_SUBJECTS = ["python", "handwritten", "tokio", "smol", "blocking", "floor"]
AGENT_ADDR = "127.0.0.1:18090"


def raise_nofile():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def proc_cpu(pid):
    """utime + stime of the whole process (all threads), seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status(pid, key):
    """A kB field of /proc/PID/status (VmRSS, VmHWM), in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    return 0


def wait_port(addr, timeout=10.0):
    host, port = addr.rsplit(":", 1)
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection((host, int(port)), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def subject_cmd(name, args, addr):
    """(argv, extra env, load URL) of a subject listening on addr."""
    ex = Path(args.bin_dir) / "examples"
    remote = f"ws://{AGENT_ADDR}/"
    # The examples refuse calls past MAX_CALLS (1000 by default): the scenarios go past it.
    env = {"BIND_ADDR": addr, "REMOTE_WS_URL": remote, "MAX_CALLS": "100000"}
    url = f"ws://{addr}/media-stream"
    if name == "python":
        return [args.python, str(ROOT / "bench" / "python_bridge.py")], env, url
    if name == "handwritten":
        return [str(ex / "relay_handwritten")], env, url
    if name in ("tokio", "smol", "blocking"):
        if name == "smol":
            # Calls run on smol's global executor: one thread per core, as the others get.
            env = dict(env, SMOL_THREADS=str(os.cpu_count() or 1))
        return [str(ex / f"bridge_{name}")], env, url
    if name == "floor":
        return [str(ex / "tcp_proxy")], {"BIND_ADDR": addr, "UPSTREAM_ADDR": AGENT_ADDR}, \
            f"ws://{addr}/teler"
    raise SystemExit(f"unknown subject {name}")


class Sampler(threading.Thread):
    """Samples (time, cpu seconds, rss bytes) of some pids every `every` seconds."""

    def __init__(self, pids, every=0.1):
        super().__init__(daemon=True)
        self.pids, self.every = pids, every
        self.samples = {p: [] for p in pids}
        self.stop = threading.Event()

    def run(self):
        while not self.stop.is_set():
            t = time.monotonic()
            for p in self.pids:
                try:
                    self.samples[p].append((t, proc_cpu(p), proc_status(p, "VmRSS")))
                except (OSError, IndexError, ValueError):
                    pass
            self.stop.wait(self.every)


def cpu_at(samples, t):
    """CPU seconds at time t, interpolated between samples."""
    prev = None
    for s in samples:
        if s[0] >= t:
            if prev is None:
                return s[1]
            f = (t - prev[0]) / max(s[0] - prev[0], 1e-9)
            return prev[1] + f * (s[1] - prev[1])
        prev = s
    return samples[-1][1] if samples else 0.0


def run_subject(name, scenario, args, port, calls=None, chunk_ms=None):
    if calls is None:
        calls, chunk_ms, _, _ = SCENARIOS[scenario]
        calls = args.calls or calls
    addr = f"127.0.0.1:{port}"
    argv, env, url = subject_cmd(name, args, addr)
    log = open(Path(args.out_dir) / f"{scenario}-{name}-{calls}.log", "w")
    proc = subprocess.Popen(argv, env={**os.environ, **env}, stdout=log, stderr=log,
                            preexec_fn=raise_nofile)
    result = {"scenario": scenario, "subject": name, "calls": calls, "chunk_ms": chunk_ms}
    try:
        if not wait_port(addr):
            result["error"] = "subject did not start listening"
            return result
        time.sleep(0.5)
        base_rss = proc_status(proc.pid, "VmRSS")
        agent_pid = args.agent_pid
        sampler = Sampler([proc.pid, agent_pid])
        sampler.start()
        report_file = Path(args.out_dir) / f"{scenario}-{name}-{calls}-load.json"
        load = [str(Path(args.bin_dir) / "teler-emulator"), "load", "--connect", url,
                "--streams", str(calls), "--chunk-ms", str(chunk_ms),
                "--duration", str(args.duration), "--json", str(report_file), "--no-progress"]
        t_launch = time.monotonic()
        gen = subprocess.run(load, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True, preexec_fn=raise_nofile)
        sampler.stop.set()
        sampler.join()
        hwm = proc_status(proc.pid, "VmHWM")
        if gen.returncode != 0:
            result["error"] = f"load generator failed: {gen.stderr.strip()[-500:]}"
            return result
        rep = json.loads(report_file.read_text())
        t0 = t_launch + rep["connect_seconds"] + 0.2  # the generator's frame start
        w0, w1 = t0 + 1.0, t0 + args.duration - 0.5
        subj = sampler.samples[proc.pid]
        agent = sampler.samples[agent_pid]
        cpu = cpu_at(subj, w1) - cpu_at(subj, w0)
        agent_cpu = cpu_at(agent, w1) - cpu_at(agent, w0)
        relayed = rep["frames_sent"] + rep["frames_received"]
        rate = relayed / args.duration
        frames_in_window = rate * (w1 - w0)
        steady = [s[2] for s in subj if w0 <= s[0] <= w1] or [subj[-1][2]]
        result.update({
            "cpu_us_per_frame": 1e6 * cpu / frames_in_window if frames_in_window else None,
            "cpu_percent": 100 * cpu / (w1 - w0),
            "relayed_frames_per_s": rate,
            "rtt_p50_ms": rep["rtt_p50_ms"],
            "rtt_p99_ms": rep["rtt_p99_ms"],
            "rtt_max_ms": rep["rtt_max_ms"],
            "frames_sent": rep["frames_sent"],
            "frames_received": rep["frames_received"],
            "lost": rep["lost_frames"],
            "streams_connected": rep["streams_connected"],
            "errors": rep["errors"],
            "error_samples": rep["error_samples"][:3],
            "connect_seconds": rep["connect_seconds"],
            "pacing_lag_max_ms": rep["pacing_lag_max_ms"],
            "rss_base_mib": base_rss / 2**20,
            "rss_steady_mib": max(steady) / 2**20,
            "rss_peak_mib": hwm / 2**20,
            "rss_per_call_kib": (max(steady) - base_rss) / calls / 1024,
            "generator_cpu_percent": rep["cpu_percent"],
            "agent_cpu_percent": 100 * agent_cpu / (w1 - w0),
        })
        return result
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def search_subject(name, search, args, port):
    """Raises the call count in steps until the p99 bound breaks: the last step that held."""
    chunk_ms, step, bound, _ = SEARCHES[search]
    calls, held, steps = step, 0, []
    while calls <= SEARCH_MAX_CALLS:
        print(f"[{time.strftime('%H:%M:%S')}] {search} {name} {calls} calls",
              file=sys.stderr, flush=True)
        r = run_subject(name, search, args, port + len(steps), calls, chunk_ms)
        steps.append(r)
        ok = ("error" not in r and r["rtt_p99_ms"] is not None and r["rtt_p99_ms"] <= bound
              and not r["lost"] and not r["errors"] and r["streams_connected"] == calls)
        print(f"    p99 {fmt(r.get('rtt_p99_ms'), '.1f')} ms, lost {r.get('lost')}, "
              f"errors {r.get('errors')}: {'held' if ok else 'broke'}",
              file=sys.stderr, flush=True)
        time.sleep(1.0)
        if not ok:
            break
        held = calls
        calls += step
    last = next((r for r in reversed(steps) if r.get("calls") == held), None)
    out = {"scenario": search, "subject": name, "capacity_calls": held,
           "bound_p99_ms": bound, "chunk_ms": chunk_ms,
           "steps": [{k: r.get(k) for k in ("calls", "rtt_p99_ms", "lost", "errors",
                                            "cpu_us_per_frame", "rss_per_call_kib")}
                     for r in steps]}
    if last:
        for k in ("cpu_us_per_frame", "rtt_p50_ms", "rtt_p99_ms", "rss_per_call_kib"):
            out[k] = last.get(k)
    return out


def fmt(v, spec):
    return "-" if v is None else format(v, spec)


def table(rows):
    head = ("scenario", "subject", "CPU us/frame", "CPU %core", "p50 ms", "p99 ms",
            "max ms", "lost", "err", "RSS/call KiB", "RSS MiB", "gen %", "agent %")
    lines = [" | ".join(head), " | ".join("---" for _ in head)]
    for r in rows:
        if "error" in r:
            lines.append(f"{r['scenario']} | {r['subject']} | {r['error']}")
            continue
        lines.append(" | ".join([
            r["scenario"], r["subject"], fmt(r["cpu_us_per_frame"], ".1f"),
            fmt(r["cpu_percent"], ".0f"), fmt(r["rtt_p50_ms"], ".1f"),
            fmt(r["rtt_p99_ms"], ".1f"), fmt(r["rtt_max_ms"], ".0f"), fmt(r["lost"], ".0f"),
            fmt(r["errors"], ".0f"), fmt(r["rss_per_call_kib"], ".1f"),
            fmt(r["rss_steady_mib"], ".0f"), fmt(r["generator_cpu_percent"], ".0f"),
            fmt(r["agent_cpu_percent"], ".0f")]))
    return "\n".join(lines)


def median_rows(runs):
    """Per (scenario, subject): the median of each number over the repeats."""
    groups = {}
    for r in runs:
        groups.setdefault((r["scenario"], r["subject"]), []).append(r)
    out = []
    for (sc, su), rs in groups.items():
        ok = [r for r in rs if "error" not in r]
        if not ok:
            out.append(rs[0])
            continue
        m = {"scenario": sc, "subject": su, "repeats": len(ok)}
        for k, v in ok[0].items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k not in m:
                vals = [r[k] for r in ok if r.get(k) is not None]
                m[k] = statistics.median(vals) if vals else None
            elif k not in m:
                m[k] = v
        out.append(m)
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS) + list(SEARCHES),
                    help="repeatable; default s20 and s500; cap500 searches the capacity")
    ap.add_argument("--subjects", help="comma list (default: the scenario's); one of "
                    + ",".join(ALL_SUBJECTS))
    ap.add_argument("--duration", type=int, default=15, help="seconds of frames (15)")
    ap.add_argument("--calls", type=int, help="override the scenarios' call count")
    ap.add_argument("--repeat", type=int, default=1, help="runs per subject, interleaved")
    ap.add_argument("--bin-dir", default=os.path.join(
        os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target")), "release"))
    ap.add_argument("--python", default=sys.executable,
                    help="the interpreter with bench/requirements.txt installed")
    ap.add_argument("--out-dir", default=None, help="logs and reports (a temp dir)")
    ap.add_argument("--json", help="write every run and the medians here")
    args = ap.parse_args()
    args.out_dir = args.out_dir or tempfile.mkdtemp(prefix="teler-bench-")
    os.makedirs(args.out_dir, exist_ok=True)
    raise_nofile()

    agent_log = open(Path(args.out_dir) / "agent.log", "w")
    agent = subprocess.Popen(
        [str(Path(args.bin_dir) / "teler-emulator"), "agent", "--addr", AGENT_ADDR,
         "--greeting-ms", "0", "--echo-ms", "0", "--interrupt-rms", "0"],
        stdout=agent_log, stderr=agent_log, preexec_fn=raise_nofile)
    args.agent_pid = agent.pid
    runs = []
    try:
        if not wait_port(AGENT_ADDR):
            raise SystemExit("the agent did not start")
        port = 18100
        for scenario in args.scenario or ["s20", "s500"]:
            if scenario in SEARCHES:
                subjects = (args.subjects or SEARCHES[scenario][3]).split(",")
                for rep in range(args.repeat):
                    for name in subjects:
                        port += 100
                        r = search_subject(name, scenario, args, port)
                        r["run"] = rep + 1
                        runs.append(r)
                        print(f"{scenario} {name}: capacity {r['capacity_calls']} calls "
                              f"(p99 <= {r['bound_p99_ms']} ms)", file=sys.stderr, flush=True)
                continue
            subjects = (args.subjects or SCENARIOS[scenario][2]).split(",")
            for rep in range(args.repeat):
                for name in subjects:
                    port += 1
                    print(f"[{time.strftime('%H:%M:%S')}] {scenario} {name} "
                          f"(run {rep + 1}/{args.repeat})", file=sys.stderr, flush=True)
                    r = run_subject(name, scenario, args, port)
                    r["run"] = rep + 1
                    runs.append(r)
                    print(table([r]).splitlines()[-1], file=sys.stderr, flush=True)
                    time.sleep(1.0)
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait()
    medians = median_rows([r for r in runs if "capacity_calls" not in r])
    print(table(medians))
    caps = median_rows([r for r in runs if "capacity_calls" in r])
    for c in caps:
        print(f"{c['scenario']} | {c['subject']} | capacity {c['capacity_calls']:.0f} calls "
              f"(median of {c.get('repeats', 1)}) at p99 <= {c['bound_p99_ms']} ms")
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
            "duration_s": args.duration, "repeat": args.repeat,
            "relayed_frame": "each audio frame crossing the subject, either direction"}
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"meta": meta, "runs": runs, "medians": medians, "capacity": caps}, indent=2))
    print(f"logs and reports: {args.out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
