"""Remote speed: tracklog against mlflow.log_metric on a loopback MLflow tracking server, in one run.

    pip install -e '.[bench]'
    python benchmarks/remote.py [--points 100000] [--sync-points 300] [--async-points 5000] [--uri URL]

Starts ``mlflow server`` (SQLite backend) on 127.0.0.1 unless ``--uri`` names one.
Each variant runs in its own fresh Python process and logs N points of one
metric into a new run; end to end is until the points are on the server (after
complete() / end_run()), checked by reading the history back. MLflow's paths are
slow, so they log fewer points (``--sync-points``, ``--async-points``); rates and
per-call costs are compared, not totals.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

import requests

from _workloads import run_handler, run_log  # benchmarks/ is on sys.path


def _count(uri: str, run_id: str) -> int:
    body = {"run_id": run_id, "metric_key": "loss", "max_results": 25000}
    total = 0
    while True:
        answer = requests.get(uri + "/api/2.0/mlflow/metrics/get-history", params=body, timeout=60).json()
        total += len(answer.get("metrics", []))
        if not answer.get("next_page_token"):
            return total
        body["page_token"] = answer["next_page_token"]


def variant_log(n: int, uri: str) -> dict:
    return run_log(n, uri, "bench-remote", "run.log")


def variant_handler(n: int, uri: str) -> dict:
    return run_handler(n, uri, "bench-remote", "RunHandler")


def _mlflow(n: int, uri: str, synchronous: bool) -> dict:
    logging.getLogger("mlflow").setLevel(logging.ERROR)
    import mlflow

    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("bench-remote")
    run = mlflow.start_run()
    t0 = time.perf_counter()
    for i in range(n):
        mlflow.log_metric("loss", i * 0.001, step=i, synchronous=synchronous)
    t1 = time.perf_counter()
    mlflow.end_run()  # waits for the asynchronous queue to drain
    t2 = time.perf_counter()
    return {"caller": t1 - t0, "total": t2 - t0, "run_id": run.info.run_id}


def variant_mlflow_sync(n: int, uri: str) -> dict:
    return _mlflow(n, uri, True)


def variant_mlflow_async(n: int, uri: str) -> dict:
    return _mlflow(n, uri, False)


VARIANTS = {
    "log": ("tracklog run.log", variant_log),
    "handler": ("tracklog RunHandler", variant_handler),
    "sync": ("mlflow.log_metric synchronous", variant_mlflow_sync),
    "async": ("mlflow.log_metric synchronous=False", variant_mlflow_async),
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start_server(folder: str) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    port = _free_port()
    uri = f"http://127.0.0.1:{port}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "TRACKLOG_"))}
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    proc = subprocess.Popen(
        [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{folder}/mlflow.db",
         "--artifacts-destination", f"{folder}/artifacts", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, cwd=folder, start_new_session=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if requests.get(uri + "/health", timeout=2).status_code == 200:
                return proc, uri
        except requests.RequestException:
            time.sleep(0.3)
    _stop(proc)
    raise SystemExit("mlflow server did not start")


def _stop(proc: subprocess.Popen) -> None:  # type: ignore[type-arg]
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        deadline = time.monotonic() + 15  # the server's job consumers leave a moment later
        while time.monotonic() < deadline:
            try:
                os.killpg(proc.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _spawn(name: str, n: int, uri: str, spool: str) -> dict:
    env = dict(os.environ, TRACKLOG_SPOOL_DIR=spool, MLFLOW_DISABLE_TELEMETRY="true")
    out = subprocess.run(
        [sys.executable, __file__, "--child", name, "--points", str(n), "--uri", uri],
        check=True, capture_output=True, text=True, env=env,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--points", type=int, default=100_000, help="points for tracklog")
    parser.add_argument("--sync-points", type=int, default=300, help="points for mlflow's synchronous path")
    parser.add_argument("--async-points", type=int, default=5_000, help="points for mlflow's asynchronous path")
    parser.add_argument("--uri", help="an MLflow server to use instead of starting one")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        result = VARIANTS[args.child][1](args.points, args.uri)
        result["n"] = args.points
        result["stored"] = _count(args.uri, result["run_id"])
        print(json.dumps(result))
        return

    folder = tempfile.mkdtemp(prefix="tracklog-bench-remote-")
    proc = None
    try:
        uri = args.uri
        if uri is None:
            proc, uri = _start_server(folder)
        counts = {"log": args.points, "handler": args.points, "sync": args.sync_points, "async": args.async_points}
        results = {}
        print(f"MLflow server {uri}")
        _spawn("log", 2_000, uri, os.path.join(folder, "spool"))  # warm the server up; not measured
        print(f"{'variant':<40} {'points':>8} {'stored':>8} {'points/s e2e':>13} {'us/call':>10}")
        for key, n in counts.items():
            try:
                r = _spawn(key, n, uri, os.path.join(folder, "spool"))
            except (subprocess.CalledProcessError, ValueError) as exc:
                print(f"{VARIANTS[key][0]:<40} failed: {exc}")
                continue
            r["rate"] = r["n"] / r["total"]
            r["us"] = r["caller"] / r["n"] * 1e6
            results[key] = r
            print(f"{VARIANTS[key][0]:<40} {r['n']:>8} {r['stored']:>8} {r['rate']:>13,.0f} {r['us']:>10.2f}")

        def ratio(x: str, y: str, field: str) -> str:
            if x in results and y in results:
                value = results[x][field] / results[y][field]
                return f"{value:.1f}" if field == "rate" else f"{1 / value:.0f}"
            return "n/a"

        print()
        print(f"end to end, run.log    / mlflow async   {ratio('log', 'async', 'rate'):>8}x   target >= 10")
        print(f"end to end, RunHandler / mlflow async   {ratio('handler', 'async', 'rate'):>8}x   target >= 10")
        print(f"caller cost, mlflow sync / run.log      {ratio('log', 'sync', 'us'):>8}x   target >= 20")
        print(f"caller cost, mlflow sync / RunHandler   {ratio('handler', 'sync', 'us'):>8}x   target >= 20")
        print(f"(mlflow paths log fewer points: {args.sync_points} synchronous, {args.async_points} asynchronous)")
    finally:
        if proc is not None:
            _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
