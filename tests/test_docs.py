"""Every code block in README.md and docs/*.md runs as written.

A ```python block runs as a script file under a real ``python``; a ```bash or ```sh
block under ``bash -e -o pipefail``; the ``$ `` lines of a ```console block likewise.
```text blocks are output samples and syntax summaries and are not run. Each block runs
in a fresh temporary directory as its cwd, with ``TRACKLOG_WORKSPACE`` pointing into it
and no ``TRACKLOG_*``, ``MLFLOW_*`` or ``OTEL_*`` variable of the host (see ``_env``).
The directory starts as a reader's does: their script and one run of it (see ``seed``).

Whatever the test changes in a block before it runs is in the tables below
(SUBSTITUTIONS, SKIPPED_LINES, LONG_RUNNING, SKIPPED_BLOCKS) and nowhere else.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.docs_support import ROOT, Block, all_blocks, run_process
from tests.exporters.conftest import grpc_receiver, http_receiver  # noqa: F401 (fixtures, asked for by name)
from tests.store.conftest import MLflowServer

BLOCKS = all_blocks()
RUN = {"python", "bash", "sh", "console"}
NOT_RUN = {"text"}
TIMEOUT = 120.0

#: Text of a block replaced before it runs: (pattern, replacement, why). A replacement may
#: name {mlflow}, {otlp_http} or {otlp_grpc}: the live servers of this test.
SUBSTITUTIONS: list[tuple[str, str, str]] = [
    (r"http://mlflow\.internal:5000", "{mlflow}",
     "your team's MLflow server: a real `mlflow server` on 127.0.0.1 (tests/store/conftest.py)"),
    (r"http://collector:4318", "{otlp_http}",
     "a collector: a real OTLP/HTTP receiver on 127.0.0.1 (tests/exporters/conftest.py)"),
    (r"http://collector:4317", "{otlp_grpc}", "a collector: a real OTLP/gRPC receiver on 127.0.0.1"),
    (r"docker logs -f -t [\w.-]+", "cat container.log",
     "no docker here: the lines `docker logs -t` prints, from a file (CONTAINER_LOG) that ends, unlike -f"),
    (r"kubectl logs --timestamps [\w./-]+", "cat container.log",
     "no cluster here: the lines `kubectl logs --timestamps` prints, from the same file"),
    (r"path/to/\.tracklog", ".tracklog", "the placeholder for your workspace: the block's own"),
    (r"(?m)^tracklog ui(?!.*--port)", "tracklog ui --port 0",
     "the default port 5005 may be taken on a shared machine: a free port (the URL is printed)"),
]

#: Lines of a shell block that are not run: (pattern, why). Only the matched part goes.
SKIPPED_LINES: list[tuple[str, str]] = [
    (r"(?m)^\s*(python3? -m )?pip install [^&|;\n]*(&&\s*|$)",
     "installing packages is not the test's business: the venv running it has them all"),
]

#: Shell commands that run until stopped: (pattern of the line's start, wrapper, why). The
#: wrapper is a function of SHELL_PRELUDE put in front of the command.
LONG_RUNNING: list[tuple[str, str, str]] = [
    (r"(?m)^(?=tracklog ui\b)", "serves_http ",
     "serves until Ctrl-C: started in the background, stopped once the URL it prints answers HTTP 200"),
]

#: Blocks not run, by their first line: (first line, why).
SKIPPED_BLOCKS: dict[str, str] = {
    "bash scripts/test.sh": "it is this suite's own entry point: it installs the test extra and "
    "runs every test, this one included (.ci/run runs it on a clean checkout)",
}

SHELL_PRELUDE = r"""
serves_http() {  # "$@" serves forever: wait until the URL it prints answers, then stop it
    "$@" > served.log 2>&1 &
    local pid=$! url=""
    for _ in $(seq 600); do
        url=$(grep -o 'http://[0-9.]*:[0-9]*/' served.log | head -n 1 || true)
        if [ -n "$url" ] && python -c 'import sys, urllib.request as u; u.urlopen(sys.argv[1], timeout=5)' "$url"
        then
            kill "$pid"; wait "$pid" || true
            echo "docs test: $* answered at $url"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    cat served.log >&2
    echo "docs test: $* never answered HTTP" >&2
    return 1
}
"""

#: What `docker logs -f -t trainer` and `kubectl logs --timestamps` print: RFC 3339 times first.
CONTAINER_LOG = """\
2026-11-24T00:14:28.000000000Z container starting
2026-11-24T00:14:29.000000000Z {"metric": "loss", "value": 0.52, "step": 1}
2026-11-24T00:14:30.000000000Z {"metric": "loss", "value": 0.31, "step": 2}
2026-11-24T00:14:31.000000000Z {"tags": {"image": "trainer:1.4"}}
2026-11-24T00:14:32.000000000Z container done
"""

#: The docs' `python train.py`: your own script, which knows nothing of tracklog. It
#: prints, logs a metric through `extra=` and takes `--epochs N`.
TRAIN_PY = """\
import argparse, logging

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=3)
logging.basicConfig(level=logging.INFO)
log = logging.getLogger("train")
for epoch in range(parser.parse_args().epochs):
    loss = 1 / (epoch + 1)
    print(f"epoch {epoch} loss {loss:.3f}")
    log.info("epoch done", extra={"metric": "loss", "value": loss, "step": epoch})
"""

#: A block with one of these words gets live servers: the real MLflow server, or the two OTLP
#: receivers (OTEL_EXPORTER_OTLP_ENDPOINT is the HTTP one), of which one must receive a record.
NEEDS = {"mlflow": ("mlflow.internal",), "otlp": ("route_to_otlp", "--otlp", "TRACKLOG_OTLP=1", "collector:")}

#: A shell block that runs a file of the checkout runs with the repo root as cwd, as the README
#: says (`python examples/train.py`); its workspace is still the temporary one.
CHECKOUT = re.compile(r"\b(examples|scripts)/\S+\.(py|sh)\b")

#: On stderr, these mean a block went wrong even when it exited 0.
TROUBLE = re.compile(
    r"Traceback \(most recent call last\)|\b[A-Z]\w*(Error|Exception): |^tracklog: .*could not", re.MULTILINE
)


def _needs(block: Block, need: str) -> bool:
    return any(word in block.source for word in NEEDS[need])


def _block_param(block: Block) -> Any:
    first = block.source.splitlines()[0] if block.source.strip() else ""
    marks = [pytest.mark.skip(reason=SKIPPED_BLOCKS[first])] if first in SKIPPED_BLOCKS else []
    return pytest.param(block, id=block.id, marks=marks)


#: In doc order, except that blocks needing the MLflow server come last, while it starts.
RUNNABLE = [
    _block_param(b) for b in sorted((b for b in BLOCKS if b.lang in RUN), key=lambda b: _needs(b, "mlflow"))
]


@pytest.fixture(scope="module")
def mlflow_uri(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Callable[[], str]]:
    """The URL of a real MLflow server, waited for on first use. When a selected block needs
    one, it starts in the background with the first block, so its start-up (tens of seconds)
    overlaps the blocks that need none."""
    params = [item.callspec.params for item in request.session.items if hasattr(item, "callspec")]
    if not any(isinstance(p.get("block"), Block) and _needs(p["block"], "mlflow") for p in params):
        yield lambda: pytest.fail("no selected block was expected to need the MLflow server")
        return
    server = MLflowServer(tmp_path_factory.mktemp("mlflow-server"))
    with ThreadPoolExecutor(1) as pool:
        started: Future[None] = pool.submit(server.start, 300.0)
        try:
            yield lambda: (started.result(), server.uri)[1]
        finally:
            started.exception()  # wait for the start to end either way, then stop
            server.stop()


@pytest.fixture(scope="session")
def seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where a reader of the docs stands: their own script as ``train.py`` (TRAIN_PY), a
    workspace holding one finished run of it (``tracklog run --experiment demo -- python
    train.py``, so ``latest`` has a loss curve and both log files), and CONTAINER_LOG."""
    seed = tmp_path_factory.mktemp("docs-seed")
    (seed / "train.py").write_text(TRAIN_PY)
    (seed / "container.log").write_text(CONTAINER_LOG)
    done = run_process(
        ["tracklog", "run", "--experiment", "demo", "--", "python", "train.py"],
        seed, _env(seed), TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    return seed


def _env(cwd: Path, **extra: str) -> dict[str, str]:
    """The host's environment without tracklog's, MLflow's, OTel's or a launcher's variables;
    then this venv first on PATH, the workspace and the remote spool under ``cwd``, and no
    telemetry from MLflow's client."""
    env = {
        k: v for k, v in os.environ.items()
        if not k.startswith(("TRACKLOG_", "MLFLOW_", "OTEL_")) and k not in ("RANK", "LOCAL_RANK", "WORLD_SIZE")
    }
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")  # this venv's tracklog
    env["TRACKLOG_WORKSPACE"] = str(cwd / ".tracklog")
    env["TRACKLOG_SPOOL_DIR"] = str(cwd / "spool")  # a remote run's spool stays in the temporary directory
    env["MLFLOW_DISABLE_TELEMETRY"] = env["DO_NOT_TRACK"] = "true"
    env.update(extra)
    return env


def _substitute(source: str, servers: dict[str, str]) -> str:
    for pattern, replacement, _why in SUBSTITUTIONS:
        source = re.sub(pattern, lambda _m, r=replacement: r.format(**servers), source)
    return source


def _shell_script(block: Block, source: str) -> str:
    if block.lang == "console":
        source = "\n".join(line[2:] for line in source.splitlines() if line.startswith("$ ")) + "\n"
    for pattern, _why in SKIPPED_LINES:
        source = re.sub(pattern, "", source)
    for pattern, wrapper, _why in LONG_RUNNING:
        source = re.sub(pattern, wrapper, source)
    return SHELL_PRELUDE + source


@pytest.mark.parametrize("block", RUNNABLE)
def test_block_runs(
    block: Block, seed: Path, mlflow_uri: Callable[[], str], tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The block exits 0, with no traceback, exception or tracklog 'could not' on stderr."""
    cwd = tmp_path / "cwd"
    shutil.copytree(seed, cwd)
    servers: dict[str, str] = {}
    extra: dict[str, str] = {}
    if _needs(block, "mlflow"):
        servers["mlflow"] = mlflow_uri()
    receivers: list[Any] = []
    if _needs(block, "otlp"):
        receivers = [request.getfixturevalue("http_receiver"), request.getfixturevalue("grpc_receiver")]
        servers["otlp_http"], servers["otlp_grpc"] = receivers[0].url, receivers[1].url
        extra["OTEL_EXPORTER_OTLP_ENDPOINT"] = servers["otlp_http"]
    source = _substitute(block.source, servers)
    if block.lang == "python":
        (cwd / "block.py").write_text(source)
        command = [sys.executable, "block.py"]
    else:  # sh and console blocks too: bash is what a reader's terminal runs them with
        (tmp_path / "block.sh").write_text(_shell_script(block, source))
        command = ["bash", "-e", "-o", "pipefail", str(tmp_path / "block.sh")]
    run_in = ROOT if block.lang != "python" and CHECKOUT.search(source) else cwd
    done = run_process(command, run_in, _env(cwd, **extra), TIMEOUT)
    where = f"{block.id} (the script's line N is the doc's line {block.line}+N)"
    if done.returncode != 0:
        pytest.fail(f"{where} exited {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}", pytrace=False)
    trouble = TROUBLE.search(done.stderr)
    if trouble is not None:
        pytest.fail(f"{where} printed {trouble[0]!r} on stderr\n{done.stderr[-5000:]}", pytrace=False)
    if receivers and not receivers[0].wait_for(lambda: any(r.logs() for r in receivers), timeout=10):
        pytest.fail(f"{where} routes to OTLP but no collector received a record", pytrace=False)


def test_every_block_is_run_or_says_it_is_text() -> None:
    """An unlabelled or unknown fence would slip past the runner, so none is allowed."""
    unknown = [f"{b.id} ({b.lang or 'no language'})" for b in BLOCKS if b.lang not in RUN | NOT_RUN]
    assert not unknown, f"label these fences python, bash, sh, console or text: {unknown}"


def test_every_table_entry_is_used() -> None:
    """A substitution or skip that no block needs any more goes from the tables."""
    sources = [b.source for b in BLOCKS if b.lang in RUN]
    patterns = [p for p, _r, _w in SUBSTITUTIONS] + [p for p, _w in SKIPPED_LINES]
    patterns += [p for p, _wrapper, _why in LONG_RUNNING]
    unused = [p for p in patterns if not any(re.search(p, s) for s in sources)]
    unused += [first for first in SKIPPED_BLOCKS if not any(s.startswith(first) for s in sources)]
    assert not unused, unused
