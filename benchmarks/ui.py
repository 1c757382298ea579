"""Run page speed: the data of a run with 50 metrics of 100,000 points each, over HTTP.

    python benchmarks/ui.py [--metrics 50] [--points 100000] [--width 800]

Logs the run through the Run API (metrics interleaved step by step, as a training
loop does), starts the UI server on 127.0.0.1, then times what the run page asks
for: the run's record (/api/runs/ID) and every chart's data (/api/runs/ID/charts),
downsampled server-side to min/max per pixel. The peer is the naive page: every
point of every metric read with Store.metric_history and sent as JSON. Target:
the run page's data in under a second.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import statistics
import sys
import tempfile
import threading
import time

sys.path.insert(0, __file__.rsplit("/benchmarks/", 1)[0])

import tracklog  # noqa: E402
from tracklog._ui import make_server  # noqa: E402


def _get(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    try:
        conn.request("GET", path)
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{path}: {answer.status} {body[:200]!r}")
        return body
    finally:
        conn.close()


def _page(port: int, run_id: str, width: int) -> tuple[float, int]:
    """Seconds and bytes for the run page's data (its record and all its charts)."""
    t0 = time.perf_counter()
    detail = _get(port, f"/api/runs/{run_id}")
    charts = _get(port, f"/api/runs/{run_id}/charts?width={width}")
    return time.perf_counter() - t0, len(detail) + len(charts)


def _naive(store, run_id: str) -> tuple[float, int]:
    """Seconds and bytes for every point of every metric, read and encoded as JSON."""
    t0 = time.perf_counter()
    payload = {}
    for name in store.metric_kinds(run_id):
        points = store.metric_history(run_id, name)
        payload[name] = {"x": [p.step for p in points], "y": [p.value for p in points]}
    body = json.dumps(payload).encode()
    return time.perf_counter() - t0, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--metrics", type=int, default=50)
    parser.add_argument("--points", type=int, default=100_000)
    parser.add_argument("--width", type=int, default=800, help="chart width in pixels (buckets)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--flush-every", type=int, default=0,
                        help="flush every N steps: small chunks, as a slow live run writes them")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="tracklog-bench-ui-")
    workspace = tracklog.Workspace(folder)
    run = tracklog.Experiment(workspace, "bench").start_logging("wide")
    names = [f"metric_{k:02d}" for k in range(args.metrics)]
    t0 = time.perf_counter()
    for step in range(args.points):
        for k, name in enumerate(names):
            run.log(name, math.sin(step / 1000 + k) + (step % 13) * 0.001)
        if args.flush_every and step % args.flush_every == args.flush_every - 1:
            run.flush()
    run.complete()
    logged = time.perf_counter() - t0
    total = args.metrics * args.points
    print(f"logged {args.metrics} metrics x {args.points:,} points = {total:,} points in {logged:.1f} s")

    server = make_server(workspace, "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        cold, size = _page(server.port, run.id, args.width)
        warm = [_page(server.port, run.id, args.width)[0] for _ in range(args.repeat)]
        one = min(
            _timed(lambda: _get(server.port, f"/api/runs/{run.id}/series?name={names[0]}&width={args.width}"))
            for _ in range(args.repeat)
        )
    finally:
        server.shutdown()
        server.server_close()
    naive, naive_size = _naive(workspace.store, run.id)

    median = statistics.median(warm)
    print()
    print(f"{'':34} {'seconds':>9} {'payload':>10}")
    print(f"{'tracklog ui, first request':34} {cold:9.3f} {size / 1e6:8.2f} MB")
    print(f"{'tracklog ui, median of ' + str(args.repeat):34} {median:9.3f} {size / 1e6:8.2f} MB")
    print(f"{'naive: every point as JSON':34} {naive:9.3f} {naive_size / 1e6:8.2f} MB")
    print(f"{'one metric (zoom/refresh), best':34} {one:9.3f}")
    print()
    print(f"run page data vs naive: {naive / median:.1f}x faster, {naive_size / size:.0f}x smaller")
    verdict = "meets" if median < 1.0 else "MISSES"
    print(f"target: run page data under 1 s: {median:.3f} s ({verdict} the target)")


def _timed(action) -> float:
    t0 = time.perf_counter()
    action()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
