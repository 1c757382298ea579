"""Capture a script's own output into its run: print(), warnings, progress bars, subprocesses.

    python examples/capture_in_process.py

``tracklog.capture_output()`` tees stdout and stderr into the run's
logs/std_log.txt while they still reach the terminal; ``fd=True`` also catches
output written straight to file descriptors 1 and 2 (C extensions, child
processes). Then ``tracklog logs <run id> --file std_log.txt`` shows it.
"""

import json
import subprocess
import sys

import tracklog

with tracklog.start_run(run_name="in-process") as run:
    with tracklog.capture_output(fd=True):
        print("plain print() output")
        print(json.dumps({"metric": "accuracy", "value": 0.93}))  # a JSON line: also a metric
        subprocess.run([sys.executable, "-c", "print('from a child process')"], check=True)
        print("a warning-like line on stderr", file=sys.stderr)
    print(run.id)
