"""Start-up stays small: ``import tracklog`` and ``tracklog run`` load no remote-store,
OTLP, receiver, UI-server or MLflow-face module, and every lazily loaded name still resolves.

Each check runs in a fresh interpreter (this test process has long imported everything),
which records ``sys.modules`` at its very end, after tracklog's own exit work, so a module
imported at exit counts too. Not a timing test: what it keeps true is which modules load.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

#: Modules the embedded default never needs: the remote store's HTTP stack, the
#: OpenTelemetry SDK, the receiver's gRPC, the real mlflow, tracklog's MLflow faces, and
#: ``dataclasses`` (with the ``inspect`` it imports: a fifth of ``tracklog run``'s start-up;
#: the records are plain classes, ``tracklog._record``), and ``tracklog ingest``'s decoders.
HEAVY = (
    "dataclasses",
    "inspect",
    "calendar",
    "tracklog.capture._ingest",
    "tracklog.capture._formats",
    "opentelemetry.sdk",
    "requests",
    "urllib3",
    "grpc",
    "google.protobuf",
    "mlflow",
    "tracklog._mlflow_client",
    "tracklog._mlflow_entities",
    "tracklog._fluent",
    "tracklog.tracking",
    "tracklog.entities",
    "tracklog.exporters._otlp_sink",
    "tracklog.exporters._routing",
    "tracklog.receivers._receiver",
    "tracklog.store._http",
    "tracklog.store._sync",
    "tracklog.store._mlflow",
    "tracklog._ui._server",
)

#: Put in front of every snippet: at the very end of the process (the first atexit
#: function runs last), the names of the loaded modules go to $STARTUP_MODULES.
_RECORD = """\
import atexit, json, os, sys
def _record():
    with open(os.environ["STARTUP_MODULES"], "w") as out:
        json.dump(sorted(sys.modules), out)
atexit.register(_record)
"""

_TIMEOUT = 120.0


def _run(code: str, tmp_path: Path, **env: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``code`` in a fresh interpreter in ``tmp_path``; its result and the modules it loaded."""
    record = tmp_path / "modules.json"
    environment = {
        k: v for k, v in os.environ.items() if not k.startswith(("TRACKLOG_", "MLFLOW_", "OTEL_"))
    }
    environment.update(STARTUP_MODULES=str(record), **env)
    done = subprocess.run(
        [sys.executable, "-c", _RECORD + textwrap.dedent(code)],
        cwd=tmp_path,
        env=environment,
        capture_output=True,
        text=True,
        timeout=_TIMEOUT,
    )
    modules = json.loads(record.read_text()) if record.exists() else []
    return done, modules


def _heavy(modules: list[str]) -> list[str]:
    return [m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY)]


def test_import_tracklog_loads_no_heavy_module(tmp_path: Path) -> None:
    """``import tracklog`` loads only the embedded default: no OTLP SDK, requests, grpc or MLflow face."""
    done, modules = _run("import tracklog\n", tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tracklog.workspace" in modules
    assert _heavy(modules) == []


def test_tracklog_run_loads_no_heavy_module(tmp_path: Path) -> None:
    """``tracklog run -- true`` records its run and, to its exit, loads none of the heavy modules."""
    code = """
        import runpy
        sys.argv = ["tracklog", "--workspace", "ws", "run", "--quiet", "--no-tensorboard", "--", "true"]
        try:
            runpy.run_module("tracklog", run_name="__main__", alter_sys=True)
        except SystemExit as exc:
            print("exit", exc.code)
    """
    done, modules = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "exit 0" in done.stdout, done.stdout + done.stderr
    assert "tracklog.cli._capture" in modules
    assert _heavy(modules) == []
    # Only the command module that adds ``run`` is imported: not the listings', UI's, receiver's, ...
    others = ("_runs", "_logs", "_ui", "_sync", "_receive", "_models")
    assert [m for m in modules if m in {f"tracklog.cli.{name}" for name in others}] == []
    assert "tracklog.receivers" not in modules
    assert (tmp_path / "ws" / "tracklog.db").exists()


def test_tracklog_help_lists_every_command_without_heavy_modules(tmp_path: Path) -> None:
    """``tracklog --help`` still lists every command (their parsers are all built), lightly."""
    code = """
        from tracklog.cli import main
        print("exit", main(["--help"]))
    """
    done, modules = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    for command in ("ls", "show", "metrics", "logs", "ui", "run", "ingest", "sync", "receive", "models"):
        assert f"    {command} " in done.stdout, (command, done.stdout)
    assert _heavy(modules) == []


def test_lazy_names_resolve(tmp_path: Path) -> None:
    """Every name of ``__all__`` (tracklog's, its exporters', receivers', UI's, store's, capture's)
    resolves on first use."""
    code = """
        import tracklog
        assert set(tracklog.__all__) <= set(dir(tracklog)), set(tracklog.__all__) - set(dir(tracklog))
        assert tracklog.MlflowClient is tracklog.tracking.MlflowClient
        from tracklog import entities, start_run
        assert entities.Run is tracklog.entities.Run and callable(start_run)
        import tracklog as mlflow
        assert mlflow.ActiveRun.__name__ == "ActiveRun"
        for name in tracklog.__all__:
            getattr(tracklog, name)
        from tracklog import _ui, capture, exporters, receivers, store
        for module in (exporters, receivers, _ui, store, capture):
            assert set(module.__all__) <= set(dir(module)), module
            for name in module.__all__:
                getattr(module, name)
        from tracklog.exporters import OTLPSink, RunLogExporter, route_to_otlp
        from tracklog.receivers import OTLPReceiver
        from tracklog.capture import IngestResult, ingest_lines
        from tracklog.capture._formats import DECODERS
        assert set(capture.FORMATS) == {"auto", *DECODERS}, capture.FORMATS  # --format's names, decoded
        print("resolved")
    """
    done, _modules = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "resolved" in done.stdout


@pytest.mark.parametrize(
    "module", ["tracklog", "tracklog.exporters", "tracklog.receivers", "tracklog._ui", "tracklog.capture"]
)
def test_unknown_names_still_raise_attribute_error(module: str, tmp_path: Path) -> None:
    """A name no module has is an AttributeError, never an import of something else."""
    code = f"""
        import importlib
        module = importlib.import_module({module!r})
        try:
            module.no_such_name
        except AttributeError as exc:
            print("AttributeError:", exc)
        try:
            module._no_such_private
        except AttributeError as exc:
            print("AttributeError:", exc)
    """
    done, modules = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("AttributeError:") == 2, done.stdout
    assert _heavy(modules) == []


def test_mlflow_swap_message_for_names_tracklog_lacks(tmp_path: Path) -> None:
    """``mlflow.sklearn`` through ``import tracklog as mlflow`` still says where it is."""
    code = """
        import tracklog as mlflow
        try:
            mlflow.sklearn
        except AttributeError as exc:
            print(exc)
    """
    done, _modules = _run(code, tmp_path)
    assert "keep `import mlflow`" in done.stdout, done.stdout + done.stderr


def test_tracklog_otlp_still_routes(tmp_path: Path) -> None:
    """With ``TRACKLOG_OTLP=1`` the first run's writer opens OTLP routing, the SDK loading then."""
    code = """
        import tracklog
        from tracklog import exporters
        assert "opentelemetry.sdk" not in sys.modules
        run = tracklog.Experiment(tracklog.Workspace("ws"), "e").start_logging()
        run.log("loss", 0.5)
        run.flush()
        print("routed", exporters.current_route() is not None, "opentelemetry.sdk" in sys.modules)
        run.complete()
    """
    done, _modules = _run(
        code,
        tmp_path,
        TRACKLOG_OTLP="1",
        OTEL_EXPORTER_OTLP_ENDPOINT="http://127.0.0.1:9",  # nobody listens: drops are counted
        TRACKLOG_OTLP_SHUTDOWN_TIMEOUT="0.5",
    )
    assert "routed True True" in done.stdout, done.stdout + done.stderr


def test_tracklog_otlp_with_an_sdk_that_cannot_import_warns_and_keeps_the_run(tmp_path: Path) -> None:
    """``TRACKLOG_OTLP=1`` with a broken OpenTelemetry SDK: one warning, no exception in the
    caller, and the run's metrics are stored as without routing."""
    code = """
        sys.modules["opentelemetry.sdk"] = None  # any import of the SDK now raises ImportError
        import logging
        logging.basicConfig()
        import tracklog
        ws = tracklog.Workspace("ws")
        run = tracklog.Experiment(ws, "e").start_logging()
        run.log("loss", 0.5)
        run.log("loss", 0.25)
        run.complete()
        print("points", [p.value for p in ws.get_run(run.id).get_metric_history("loss")])
    """
    done, _modules = _run(code, tmp_path, TRACKLOG_OTLP="1")
    assert done.returncode == 0, done.stderr
    assert "points [0.5, 0.25]" in done.stdout, done.stdout + done.stderr
    assert done.stderr.count("TRACKLOG_OTLP=1 but OTLP routing could not start") == 1, done.stderr
    assert "Traceback" not in done.stderr, done.stderr


def test_a_broken_sdk_does_not_stop_an_unrouted_program(tmp_path: Path) -> None:
    """Without ``TRACKLOG_OTLP``, a program whose OpenTelemetry SDK cannot import logs its runs
    with no warning at all (the SDK is never asked for)."""
    code = """
        sys.modules["opentelemetry.sdk"] = None
        import logging
        logging.basicConfig()
        import tracklog
        ws = tracklog.Workspace("ws")
        with tracklog.Experiment(ws, "e").start_logging() as run:
            run.log("loss", 0.5)
        print("points", [p.value for p in ws.get_run(run.id).get_metric_history("loss")])
    """
    done, _modules = _run(code, tmp_path)
    assert done.returncode == 0, done.stderr
    assert "points [0.5]" in done.stdout, done.stdout + done.stderr
    assert done.stderr == "", done.stderr
