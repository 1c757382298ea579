"""MLflow's own client, two backends: ``mlflow.log_metric`` with a ``tracklog:`` URI (the
plugin: each call enqueues, tracklog's writer batches) against the same loop on MLflow's
own ``sqlite:`` store (each call one transaction).

    pip install -e '.[bench]'
    python benchmarks/mlflow_plugin.py [--points 50000] [--sqlite-points 1500]

Each variant runs in a fresh Python process: start_run, N log_metric calls, end_run, in a
timer, so "end to end" is until the points are durable (end_run flushes tracklog's pipeline
into tracklog.db; MLflow's sqlite store commits every call). The count is then read back
from the store with MLflow's own client. MLflow's sqlite store is slow, so it logs fewer
points: rates are compared, not totals. The target is 30x.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

TARGET = 30.0

_CHILD = r"""
import json, sys, time
import mlflow
uri, points = sys.argv[1], int(sys.argv[2])
mlflow.set_tracking_uri(uri)
mlflow.set_experiment("bench")
log_metric = mlflow.log_metric
start = time.perf_counter()
run = mlflow.start_run()
for step in range(points):
    log_metric("loss", 1.0 / (step + 1), step=step)
mlflow.end_run()
elapsed = time.perf_counter() - start
stored = len(mlflow.MlflowClient(uri).get_metric_history(run.info.run_id, "loss"))
print(json.dumps({"seconds": elapsed, "stored": stored}))
"""


def _measure(uri: str, points: int, cwd: str) -> dict[str, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLOG_"))}
    env.update(MLFLOW_DISABLE_TELEMETRY="true", DO_NOT_TRACK="true")
    done = subprocess.run([sys.executable, "-c", _CHILD, uri, str(points)], cwd=cwd, env=env,
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{uri}: the benchmark child failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if result["stored"] != points:
        raise SystemExit(f"{uri}: {result['stored']} of {points} points stored")
    return {"seconds": result["seconds"], "rate": points / result["seconds"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=50_000, help="points logged through tracklog:")
    parser.add_argument("--sqlite-points", type=int, default=1_500, help="points logged into sqlite:")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        ours = _measure(f"tracklog:{os.path.join(tmp, 'ws')}", args.points, tmp)
        theirs = _measure(f"sqlite:///{os.path.join(tmp, 'mlflow.db')}", args.sqlite_points, tmp)
    ratio = ours["rate"] / theirs["rate"]
    print(f"mlflow.log_metric, tracklog: URI  {args.points:>8} points  {ours['seconds']:7.2f} s  "
          f"{ours['rate']:>10,.0f} points/s  ({1e6 / ours['rate']:.1f} us a call)")
    print(f"mlflow.log_metric, sqlite: store  {args.sqlite_points:>8} points  {theirs['seconds']:7.2f} s  "
          f"{theirs['rate']:>10,.0f} points/s  ({1e6 / theirs['rate']:.1f} us a call)")
    print(f"ratio: {ratio:.1f}x (target {TARGET:.0f}x)")
    if ratio < TARGET:
        print(f"TARGET MISSED: tracklog: is {ratio:.1f}x MLflow's sqlite store, below {TARGET:.0f}x")
    else:
        print(f"target met: {ratio:.1f}x >= {TARGET:.0f}x")


if __name__ == "__main__":
    main()
