"""Capture speed, side by side with its peers, in one run.

1. A child printing 1,000,000 short lines: under ``tracklog run --quiet`` against
   the same child with plain shell redirection to a file. Target: at most 1.5x.
2. In-process ``capture_output()``: print() throughput against printing to a
   file without capture. Target: at least 0.7x.

Both run as a script normally runs: the interpreter's default buffering
(PYTHONUNBUFFERED removed) and compiled bytecode cached (PYTHONDONTWRITEBYTECODE
removed; one warm-up round first, not counted). Each figure is the best of
``--repeat`` runs, taken in turns. Run: ``python benchmarks/capture.py [--lines N] [--repeat R]``.
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


def bench_run(lines: int, repeat: int, tmp: str) -> tuple[float, float, int]:
    script = os.path.join(tmp, "child.py")
    with open(script, "w") as handle:
        handle.write(CHILD.format(lines=lines))
    env = _env()
    out = os.path.join(tmp, "plain.txt")
    python = sys.executable

    def plain() -> float:
        start = time.perf_counter()
        subprocess.run(["sh", "-c", f'"{python}" "{script}" > "{out}"'], env=env, check=True)
        return time.perf_counter() - start

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        plain_s, run_s, kept = bench_run(args.lines, args.repeat, tmp)
        print(f"child printing {args.lines:,} lines (best of {args.repeat})")
        print(f"  shell redirection to a file   {plain_s:8.3f} s")
        print(f"  tracklog run --quiet          {run_s:8.3f} s   ratio {run_s / plain_s:5.2f}x (target <= 1.5x)"
              f"   lines kept {kept:,}")
        plain_p, captured_p, ending = bench_print(args.lines, args.repeat, tmp)
        print(f"in-process print() of {args.lines:,} lines to a file (best of {args.repeat})")
        print(f"  no capture                    {args.lines / plain_p:12,.0f} lines/s")
        print(f"  run.capture_output()          {args.lines / captured_p:12,.0f} lines/s"
              f"   throughput {plain_p / captured_p:5.2f}x (target >= 0.7x)")
        print(f"  then run.complete()           {ending:8.3f} s   (the writer storing what was left)")


if __name__ == "__main__":
    main()
