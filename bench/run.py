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
    "cap500": (5000, 500, "tokio,smol", "capacity: 5,000 calls, 500 ms frames, p99 <= 50 ms"),
}
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
    env = {"BIND_ADDR": addr, "REMOTE_WS_URL": remote}
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


def run_subject(name, scenario, args, port):
    calls, chunk_ms, _, _ = SCENARIOS[scenario]
    addr = f"127.0.0.1:{port}"
    argv, env, url = subject_cmd(name, args, addr)
    log = open(Path(args.out_dir) / f"{scenario}-{name}.log", "w")
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
        report_file = Path(args.out_dir) / f"{scenario}-{name}-load.json"
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
    ap.add_argument("--scenario", action="append", choices=list(SCENARIOS),
                    help="repeatable; default s20 and s500")
    ap.add_argument("--subjects", help="comma list (default: the scenario's); one of "
                    + ",".join(ALL_SUBJECTS))
    ap.add_argument("--duration", type=int, default=15, help="seconds of frames (15)")
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
    medians = median_rows(runs)
    print(table(medians))
    meta = {"date": time.strftime("%Y-%m-%d %H:%M:%S %Z"), "cpus": os.cpu_count(),
            "duration_s": args.duration, "repeat": args.repeat,
            "relayed_frame": "each audio frame crossing the subject, either direction"}
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"meta": meta, "runs": runs, "medians": medians}, indent=2))
    print(f"logs and reports: {args.out_dir}", file=sys.stderr)


if __name__ == "__main__":
    main()
