"""Capture speed, side by side with its peers, in one run.

1. A child printing 1,000,000 short lines: under ``tracklog run --quiet`` against
   the same child with plain shell redirection to a file. Target: at most 1.5x.
2. In-process ``capture_output()``: print() throughput against printing to a
   file without capture. Target: at least 0.7x.
3. A child printing 100,000 metric lines (logfmt, ``step=i loss=... acc=...``)
   under ``tracklog run --quiet`` (recognition on: 200,000 points stored) against
   plain shell redirection. Target: at most 1.5x. Printed beside it: the same
   with ``--no-metrics``, ``tracklog run -- true`` (the fixed cost of
   starting Python, tracklog and a run, which no per-line speed can win back),
   and the CPU time tracklog itself used (the whole run's, from ``wait4``, less
   the job's under plain redirection). Wall time can overlap with the job on a
   second core; tracklog's own Python work runs one thread at a time (the GIL),
   so its CPU time, less the part SQLite and the kernel spend outside the GIL,
   is a floor for the wall time whatever the scheduling.
4. ``tracklog ingest`` of a 1,000,000-line CRI container log (one line in ten a
   logfmt metric line, the rest prose) against a plain Python loop that reads
   the same file line by line and ``json.loads`` each line (``except
   ValueError``: CRI lines are not JSON). Target: at least 1/3 as fast.

Both run as a script normally runs: the interpreter's default buffering
(PYTHONUNBUFFERED removed) and compiled bytecode cached (PYTHONDONTWRITEBYTECODE
removed; one warm-up round first, not counted). Each figure is the best of
``--repeat`` runs, taken in turns. Run: ``python benchmarks/capture.py [--lines N] [--metric-lines N] [--cri-lines N] [--repeat R] [--only metrics,ingest]``.
A target missed is printed as a plain ``MISSED`` line.
"""

from __future__ import annotations

import argparse
import ast
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

CHILD = """
import sys
for i in range({lines}):
    print("line", i)
"""

METRIC_CHILD = """
for i in range({lines}):
    print(f"step={{i}} loss={{1 / (i + 1):.6f}} acc={{i / {lines}:.4f}}")
"""

IN_PROCESS = """
import os, sys, time
sys.path.insert(0, {root!r})
import tracklog
lines = {lines}
capture = {capture}
run = tracklog.Experiment(tracklog.Workspace({ws!r}), "bench").start_logging("print")
start = time.perf_counter()
if capture:
    with run.capture_output():
        for i in range(lines):
            print("line", i)
else:
    for i in range(lines):
        print("line", i)
sys.stdout.flush()
elapsed = time.perf_counter() - start
start = time.perf_counter()
run.complete()
os.write({fd}, repr((elapsed, time.perf_counter() - start)).encode())
"""


def _env() -> dict[str, str]:
    dropped = ("PYTHONUNBUFFERED", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRACKLOG_") and k not in dropped}
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _best_of_pairs(first, second, repeat: int) -> tuple[float, float]:
    """Best time of each, measured in turns so that noise from other processes hits both alike."""
    first(), second()  # warm-up: bytecode caches, page cache
    a, b = [], []
    for _ in range(repeat):
        a.append(first())
        b.append(second())
    return min(a), min(b)


def _shell_redirect(python: str, script: str, out: str, env: dict[str, str]) -> float:
    """Seconds for the peer: the job run by sh with its stdout redirected to a file."""
    start = time.perf_counter()
    subprocess.run(["sh", "-c", f'"{python}" "{script}" > "{out}"'], env=env, check=True)
    return time.perf_counter() - start


def _timed(cmd: list[str], env: dict[str, str], cwd: str | None = None) -> tuple[float, float]:
    """Wall seconds of ``cmd`` and the CPU seconds (user + system) of it and every process it waited for."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=cwd)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise subprocess.CalledProcessError(proc.returncode, cmd)
    return wall, usage.ru_utime + usage.ru_stime


def bench_run(lines: int, repeat: int, tmp: str) -> tuple[float, float, int]:
    script = os.path.join(tmp, "child.py")
    with open(script, "w") as handle:
        handle.write(CHILD.format(lines=lines))
    env = _env()
    out = os.path.join(tmp, "plain.txt")
    python = sys.executable

    def plain() -> float:
        return _shell_redirect(python, script, out, env)

    counter = [0]

    def tracklog_run() -> float:
        counter[0] += 1
        ws = os.path.join(tmp, f"ws{counter[0]}")
        cmd = [python, "-m", "tracklog", "--workspace", ws, "run", "--quiet", "--", python, script]
        start = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, cwd=tmp)
        return time.perf_counter() - start

    plain_s, run_s = _best_of_pairs(plain, tracklog_run, repeat)
    # Check that every line was kept (in the last workspace).
    log = os.path.join(tmp, f"ws{counter[0]}", "runs")
    (run_dir,) = os.listdir(log)
    with open(os.path.join(log, run_dir, "logs", "std_log.txt"), "rb") as handle:
        kept = sum(1 for _ in handle)
    return plain_s, run_s, kept


def bench_print(lines: int, repeat: int, tmp: str) -> tuple[float, float, float]:
    env = _env()

    def once(capture: bool) -> float:
        ws = os.path.join(tmp, "ws-print")
        read_end, write_end = os.pipe()
        code = IN_PROCESS.format(root=ROOT, lines=lines, capture=capture, ws=ws, fd=write_end)
        with open(os.path.join(tmp, "printed.txt"), "wb") as sink:
            proc = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=sink, pass_fds=(write_end,))
            os.close(write_end)
            proc.wait()
        with os.fdopen(read_end, "rb") as result:
            elapsed, ending = ast.literal_eval(result.read().decode())
        endings.append(ending)
        return elapsed

    endings: list[float] = []
    plain, captured = _best_of_pairs(lambda: once(False), lambda: once(True), repeat)
    # Taken in turns: odd entries are the captured runs, whose writer still had output to store.
    return plain, captured, min(endings[1::2])


def bench_metrics(lines: int, repeat: int, tmp: str) -> dict[str, float]:
    script = os.path.join(tmp, "metric_child.py")
    with open(script, "w") as handle:
        handle.write(METRIC_CHILD.format(lines=lines))
    env = _env()
    out = os.path.join(tmp, "metric_plain.txt")
    python = sys.executable
    cpu: dict[str, list[float]] = {"plain": [], "run": []}

    def plain() -> float:
        wall, used = _timed(["sh", "-c", f'"{python}" "{script}" > "{out}"'], env)
        cpu["plain"].append(used)
        return wall

    counter = [0]

    def under_run(*options: str, command: tuple[str, ...] = (python, script)) -> float:
        counter[0] += 1
        ws = os.path.join(tmp, f"mws{counter[0]}")
        cmd = [python, "-m", "tracklog", "--workspace", ws, "run", "--quiet", "--no-tensorboard", *options,
               "--", *command]
        wall, used = _timed(cmd, env, cwd=tmp)
        if not options and command[-1] == script:
            cpu["run"].append(used)
        return wall

    plain_s, run_s = _best_of_pairs(plain, under_run, repeat)
    last = os.path.join(tmp, f"mws{counter[0]}")
    points = _points(last)
    off_s = min(under_run("--no-metrics") for _ in range(max(1, repeat // 2)))
    empty_s = min(under_run(command=("true",)) for _ in range(max(1, repeat // 2)))
    return {"plain": plain_s, "run": run_s, "off": off_s, "empty": empty_s, "points": points,
            "plain_cpu": min(cpu["plain"]), "run_cpu": min(cpu["run"])}


def _points(ws: str) -> int:
    sys.path.insert(0, ROOT)
    import tracklog  # the checkout's, only for counting what was stored

    (run,) = tracklog.Workspace(ws).get_runs()
    return sum(len(run.get_metric_history(name)) for name in run.get_metrics())


def write_cri(path: str, lines: int) -> None:
    """A CRI log: one logfmt metric line in ten, the rest prose, a microsecond apart."""
    base = 1_764_583_200
    with open(path, "w") as handle:
        for i in range(lines):
            ts = base + i // 1000
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{(i % 1000) * 1000:09d}Z"
            message = f"step={i} loss={1 / (i + 1):.6f}" if i % 10 == 0 else f"processing batch {i} of the data set"
            handle.write(f"{stamp} stdout F {message}\n")


LOOP = """
import json, sys, time
start = time.perf_counter()
for line in open(sys.argv[1], "rb"):
    try:
        json.loads(line)
    except ValueError:
        pass
print(time.perf_counter() - start)
"""


def bench_ingest(lines: int, repeat: int, tmp: str) -> tuple[float, float, int]:
    log = os.path.join(tmp, "container.log")
    write_cri(log, lines)
    env = _env()
    python = sys.executable
    counter = [0]

    def loop() -> float:
        start = time.perf_counter()
        subprocess.run([python, "-c", LOOP, log], env=env, check=True, capture_output=True)
        return time.perf_counter() - start

    def ingest() -> float:
        counter[0] += 1
        ws = os.path.join(tmp, f"iws{counter[0]}")
        start = time.perf_counter()
        subprocess.run([python, "-m", "tracklog", "--workspace", ws, "ingest", log], env=env, check=True,
                       capture_output=True, cwd=tmp)
        return time.perf_counter() - start

    loops, ingests = [], []
    for _ in range(repeat):
        loops.append(loop())
        ingests.append(ingest())
    return min(loops), min(ingests), _points(os.path.join(tmp, f"iws{counter[0]}"))


def _verdict(ok: bool, what: str) -> None:
    if not ok:
        print(f"MISSED: {what}")


def _section_run(args: argparse.Namespace, tmp: str) -> None:
    plain_s, run_s, kept = bench_run(args.lines, args.repeat, tmp)
    print(f"child printing {args.lines:,} lines (best of {args.repeat})")
    print(f"  shell redirection to a file   {plain_s:8.3f} s")
    print(f"  tracklog run --quiet          {run_s:8.3f} s   ratio {run_s / plain_s:5.2f}x (target <= 1.5x)"
          f"   lines kept {kept:,}")


def _section_print(args: argparse.Namespace, tmp: str) -> None:
    plain_p, captured_p, ending = bench_print(args.lines, args.repeat, tmp)
    print(f"in-process print() of {args.lines:,} lines to a file (best of {args.repeat})")
    print(f"  no capture                    {args.lines / plain_p:12,.0f} lines/s")
    print(f"  run.capture_output()          {args.lines / captured_p:12,.0f} lines/s"
          f"   throughput {plain_p / captured_p:5.2f}x (target >= 0.7x)")
    print(f"  then run.complete()           {ending:8.3f} s   (the writer storing what was left)")


def _section_metrics(args: argparse.Namespace, tmp: str) -> None:
    found = bench_metrics(args.metric_lines, args.repeat, tmp)
    plain_m, run_m, off_m, empty_m, points = (found[k] for k in ("plain", "run", "off", "empty", "points"))
    ratio = run_m / plain_m
    print(f"child printing {args.metric_lines:,} metric lines (best of {args.repeat})")
    print(f"  shell redirection to a file   {plain_m:8.3f} s")
    print(f"  tracklog run --quiet          {run_m:8.3f} s   ratio {ratio:5.2f}x (target <= 1.5x)"
          f"   points stored {points:,}")
    print(f"  tracklog run --no-metrics     {off_m:8.3f} s   ratio {off_m / plain_m:5.2f}x")
    print(f"  tracklog run -- true          {empty_m:8.3f} s   (fixed cost; per line with recognition "
          f"{(run_m - empty_m) / args.metric_lines * 1e6:.1f} us against {plain_m / args.metric_lines * 1e6:.1f} us)")
    # Wall time can hide behind the second core; CPU cannot. tracklog's own CPU is the whole
    # run's less the job's (sh and the job, as measured under plain redirection).
    own = found["run_cpu"] - found["plain_cpu"]
    print(f"  CPU: job alone {found['plain_cpu']:.3f} s; under tracklog run, tracklog and job {found['run_cpu']:.3f} s:"
          f" tracklog's own {own:.3f} s against the target's whole wall budget of {1.5 * plain_m:.3f} s")
    _verdict(ratio <= 1.5, f"tracklog run on {args.metric_lines:,} metric lines is {ratio:.2f}x shell redirection "
             "(target <= 1.5x)")


def _section_ingest(args: argparse.Namespace, tmp: str) -> None:
    loop_s, ingest_s, stored = bench_ingest(args.cri_lines, args.ingest_repeat, tmp)
    speed = loop_s / ingest_s
    print(f"{args.cri_lines:,}-line CRI container log (best of {args.ingest_repeat})")
    print(f"  python loop, json.loads/line  {loop_s:8.3f} s   {args.cri_lines / loop_s:12,.0f} lines/s")
    print(f"  tracklog ingest               {ingest_s:8.3f} s   {args.cri_lines / ingest_s:12,.0f} lines/s"
          f"   speed {speed:5.2f}x of the loop (target >= 0.33x)   points stored {stored:,}")
    _verdict(speed >= 1 / 3, f"tracklog ingest of a CRI log runs at {speed:.2f}x the json.loads loop (target >= 0.33x)")



def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--metric-lines", type=int, default=100_000)
    parser.add_argument("--cri-lines", type=int, default=1_000_000)
    parser.add_argument("--ingest-repeat", type=int, default=2)
    parser.add_argument("--only", default="run,print,metrics,ingest",
                        help="the sections to run, comma-separated (default: all four)")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        if "run" in only:
            _section_run(args, tmp)
        if "print" in only:
            _section_print(args, tmp)
        if "metrics" in only:
            _section_metrics(args, tmp)
        if "ingest" in only:
            _section_ingest(args, tmp)


if __name__ == "__main__":
    main()
