"""``import tracklog as mlflow`` against the real mlflow (``sqlite:``) for end statuses,
artifact listings, paged results, run names and deleted experiments: each case runs on
both, and the outcomes (MLflow's message and code, or what came back) must be the same."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Callable
from typing import Any

import pytest

import tracklog

real = pytest.importorskip("mlflow", reason="mlflow is in the test extra: pip install -e .[test]")

Case = Callable[[Any, Any, str], Any]
_MLFLOW_NAME = re.compile(r"^[a-z]+-[a-z]+-\d{1,4}$")


def _listing(client: Any, run_id: str, path: str | None) -> list[tuple[str, bool]]:
    return sorted((f.path, f.is_dir) for f in client.list_artifacts(run_id, path))


def _with_files(mlf: Any) -> str:
    with mlf.start_run() as run:
        mlf.log_text("x", "a/b.txt")
        mlf.log_text("y", "top.txt")
    return run.info.run_id


def _end_bogus(mlf: Any) -> Any:
    with mlf.start_run():
        mlf.end_run("BOGUS")


def _pages(client: Any, experiment_id: str) -> list[tuple[int, bool]]:
    for _ in range(3):
        client.create_run(experiment_id)
    pages, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=2, page_token=token)
        token = page.token
        pages.append((len(page), token is not None))
        if token is None:
            return pages


def _deleted(mlf: Any) -> str:
    experiment_id = mlf.create_experiment("gone")
    mlf.delete_experiment(experiment_id)
    return experiment_id


def _auto_name(mlf: Any) -> bool:
    with mlf.start_run() as run:
        pass
    return bool(_MLFLOW_NAME.match(run.info.run_name)) and len(run.info.run_name) <= 20


def _named(mlf: Any, **kwargs: Any) -> tuple[str, str]:
    with mlf.start_run(**kwargs) as run:
        pass
    found = mlf.get_run(run.info.run_id)
    return found.info.run_name, found.data.tags["mlflow.runName"]


def _renamed(mlf: Any) -> tuple[str, str, str]:
    with mlf.start_run(run_name="first") as run:
        pass
    with mlf.start_run(run_id=run.info.run_id, run_name="second") as again:
        pass
    found = mlf.get_run(run.info.run_id)
    return again.info.run_name, found.info.run_name, found.data.tags["mlflow.runName"]


CASES: dict[str, Case] = {
    "end_run with an unknown status": lambda m, _c, _e: _end_bogus(m),
    "end_run in lowercase": lambda m, _c, _e: (m.start_run(), m.end_run("finished")),
    "end_run with an unknown status and no run": lambda m, _c, _e: m.end_run("BOGUS"),
    "set_terminated with an unknown status": lambda m, c, e: c.set_terminated(c.create_run(e).info.run_id, "DONE"),
    "list_artifacts at '.'": lambda m, c, _e: _listing(c, _with_files(m), "."),
    "list_artifacts at ''": lambda m, c, _e: _listing(c, _with_files(m), ""),
    "list_artifacts at None": lambda m, c, _e: _listing(c, _with_files(m), None),
    "list_artifacts of a folder": lambda m, c, _e: _listing(c, _with_files(m), "a"),
    "list_artifacts of a folder/": lambda m, c, _e: _listing(c, _with_files(m), "a/"),
    "list_artifacts of ./folder": lambda m, c, _e: _listing(c, _with_files(m), "./a"),
    "list_artifacts of a file": lambda m, c, _e: _listing(c, _with_files(m), "top.txt"),
    "list_artifacts of nothing": lambda m, c, _e: _listing(c, _with_files(m), "nope"),
    "download_artifacts of '.'": lambda m, c, _e: sorted(
        os.listdir(c.download_artifacts(_with_files(m), ".", os.path.abspath("dl")))),
    "get_metric_history is a PagedList": lambda m, c, e: (
        lambda r: (c.log_metric(r, "m", 1.0), c.get_metric_history(r, "m").token))(c.create_run(e).info.run_id),
    "search_runs pages with a token": lambda m, c, e: _pages(c, e),
    "search_experiments lists Default as 0": lambda m, c, _e: sorted((e.experiment_id, e.name) for e in c.search_experiments()),
    "search_experiments lists the newest first, Default last": lambda m, c, _e: (
        m.create_experiment("older"), time.sleep(0.01), m.create_experiment("newer"),
        [e.name for e in c.search_experiments() if e.name in ("older", "newer", "Default")])[-1],
    "search_experiments pages with a token": lambda m, c, _e: [
        (len(p), p.token is not None) for p in [c.search_experiments(max_results=1)]],
    "search_experiments' last page has no token": lambda m, c, _e: c.search_experiments(max_results=1000).token,
    "start_run names a run as MLflow does": lambda m, _c, _e: _auto_name(m),
    "create_run names a run as MLflow does": lambda m, c, e: bool(_MLFLOW_NAME.match(c.create_run(e).info.run_name)),
    "start_run: run_name wins over the tag": lambda m, _c, _e: _named(m, run_name="a", tags={"mlflow.runName": "b"}),
    "start_run: the tag names the run": lambda m, _c, _e: _named(m, tags={"mlflow.runName": "b"}),
    "start_run(run_id=..., run_name=...) renames the run": lambda m, _c, _e: _renamed(m),
    "create_run: run_name and another tag": lambda m, c, e: c.create_run(e, run_name="a", tags={"mlflow.runName": "b"}),
    "set_experiment on a deleted one, by name": lambda m, _c, _e: (_deleted(m), m.set_experiment("gone")),
    "set_experiment on a deleted one, by id": lambda m, _c, _e: m.set_experiment(experiment_id=_deleted(m)),
    "start_run in a deleted experiment": lambda m, _c, _e: m.start_run(experiment_id=_deleted(m)),
    "create_run in a deleted experiment": lambda m, c, _e: c.create_run(_deleted(m)),
    "create_experiment with a deleted one's name": lambda m, _c, _e: (_deleted(m), m.create_experiment("gone")),
    "delete_experiment twice": lambda m, _c, _e: m.delete_experiment(_deleted(m)),
    "restore_experiment, then set_experiment": lambda m, _c, _e: (
        lambda e: (m.restore_experiment(e), m.set_experiment("gone").lifecycle_stage))(_deleted(m)),
    "restore_experiment of an active one": lambda m, _c, e: m.restore_experiment(e),
    "restore_experiment brings its runs back": lambda m, c, _e: _restored_runs(m, c),
}


def _restored_runs(mlf: Any, client: Any) -> list[str]:
    experiment_id = mlf.create_experiment("comeback")
    with mlf.start_run(experiment_id=experiment_id, run_name="r1"):
        pass
    mlf.delete_experiment(experiment_id)
    hidden = client.search_runs([experiment_id])
    mlf.restore_experiment(experiment_id)
    return [len(hidden)] + [r.info.run_name for r in client.search_runs([experiment_id])]


def _outcome(mlf: Any, case: Case) -> tuple[Any, ...]:
    client = mlf.MlflowClient()
    experiment_id = mlf.set_experiment("lifecycle").experiment_id
    try:
        kept = case(mlf, client, experiment_id)
    except Exception as exc:
        code = getattr(exc, "error_code", None)
        message = getattr(exc, "message", str(exc)) if code else str(exc)
        return ("raised", code, message.split(" Error: (sqlite3")[0])  # MLflow appends its SQL error
    finally:
        while mlf.active_run() is not None:
            mlf.end_run()
    return ("ok", kept)


def _run(mlf: Any, uri: str, cwd: Any, name: str) -> tuple[Any, ...]:
    folder = cwd / name.replace(" ", "_").replace("/", "_").replace("'", "")
    folder.mkdir(parents=True)
    here = os.getcwd()
    os.chdir(folder)
    mlf.set_tracking_uri(uri)
    try:
        return _outcome(mlf, CASES[name])
    finally:
        os.chdir(here)


@pytest.fixture(scope="module")
def mlflows(tmp_path_factory) -> dict[str, tuple[Any, ...]]:
    """Every case's outcome with the real mlflow, each on a sqlite: store of its own (copies
    of one new store: MLflow's schema migrations take seconds)."""
    root = tmp_path_factory.mktemp("real")
    empty = root / "empty.db"
    real.MlflowClient(f"sqlite:///{empty}").search_experiments()
    try:
        outcomes = {}
        for index, name in enumerate(CASES):
            real.tracking.fluent._active_experiment_id = None
            shutil.copy(empty, root / f"{index}.db")
            outcomes[name] = _run(real, f"sqlite:///{root / f'{index}.db'}", root, name)
        return outcomes
    finally:
        real.set_tracking_uri(None)
        real.tracking.fluent._active_experiment_id = None


@pytest.mark.parametrize("name", list(CASES))
def test_outcome_is_mlflows(name, mlflows, tmp_path) -> None:
    assert _run(tracklog, f"tracklog:{tmp_path / 'ws'}", tmp_path, name) == mlflows[name]


def test_end_run_with_an_unknown_status_leaves_the_run_active(tmp_path) -> None:
    """The one difference from MLflow: MLflow drops the run from its stack first and leaves
    it RUNNING; the swap refuses before touching it, so the ``with`` block still ends it."""
    tracklog.set_tracking_uri(f"tracklog:{tmp_path / 'ws'}")
    with tracklog.start_run() as run:
        with pytest.raises(ValueError, match="Could not get run status corresponding to string BOGUS"):
            tracklog.end_run("BOGUS")
        assert tracklog.active_run() is not None
    assert tracklog.get_run(run.info.run_id).info.status == "FINISHED"
