"""Charts read while several ranks write: one snapshot per answer, never a 500, never a step back."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import tracklog
from tests.conftest import python_env
from tests.ui.conftest import Client

#: A rank of a distributed job: many small flushes, so chunks of every rank interleave.
RANK_SCRIPT = textwrap.dedent(
    """
    import time, tracklog
    run = tracklog.Run.get_context()
    for i in range({n}):
        run.log("loss", 1.0 / (i + 1), step=i)
        run.log("acc", float(i), step=i)
        if i % 20 == 0:
            time.sleep(0.002)
    run.flush()
    """
)


def test_series_and_charts_stay_whole_while_four_ranks_write(workspace, serve, tmp_path):
    """4 writer processes (RANK 0-3) log one run while /series and /charts are polled over HTTP:
    no answer is a 500, and no count ever goes backwards."""
    run = tracklog.Experiment(workspace, "e").start_logging("ddp")
    run.log("loss", 1.0, step=0)
    run.flush()
    server = serve(workspace)
    client = Client("127.0.0.1", server.port)
    n = 25_000
    script = tmp_path / "rank.py"
    script.write_text(RANK_SCRIPT.format(n=n))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script)],
            env=python_env(
                TRACKLOG_RUN_ID=run.id, TRACKLOG_WORKSPACE=workspace.path,
                RANK=str(rank), LOCAL_RANK=str(rank), TRACKLOG_FLUSH_INTERVAL="0.01",
            ),
            stderr=subprocess.PIPE,
        )
        for rank in range(4)
    ]
    paths = {
        "charts": f"/api/runs/{run.id}/charts?width=10",
        "series": f"/api/runs/{run.id}/series?name=loss&width=10",
        "zoom": f"/api/runs/{run.id}/series?name=loss&width=10&xmin=0&xmax=1000000",
    }
    seen = {"charts": 0, "series": 0, "zoom": 0}
    failures: list[tuple[str, int, bytes]] = []
    requests = 0
    try:
        while requests < 300 or any(p.poll() is None for p in procs):
            for key, path in paths.items():
                answer = client.get(path)
                requests += 1
                if answer.status != 200:
                    failures.append((key, answer.status, answer.body[:200]))
                    continue
                body = answer.json()
                if key == "charts":
                    loss = next(m for m in body["metrics"] if m["name"] == "loss")
                    count = loss["points"]
                else:
                    count = body["points"]
                if count < seen[key]:
                    failures.append((key, count, b"went back from %d" % seen[key]))
                seen[key] = max(seen[key], count)
            if requests > 3000:
                break
    finally:
        for proc in procs:
            _out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err.decode()[-2000:]
    assert not failures, failures[:5]
    assert requests >= 300
    final = client.json(paths["series"])["points"]
    assert final == 4 * n + 1
    run.complete()
