"""Zero-change logging capture: a child Python's logging records land in the run, its console unchanged."""

from __future__ import annotations

import subprocess

from tests.capture.capture_support import PYTHON, TIMEOUT, env, only_run, python_log, runs, script, tracklog_run

BASIC_CONFIG_SCRIPT = """
    import logging, sys, warnings
    logging.basicConfig(level=logging.DEBUG)
    log = logging.getLogger("train")
    log.debug("debug detail %d", 1)
    for step in range(3):
        log.info("epoch %d", step, extra={"metric": "loss", "value": 1.0 / (step + 1), "step": step})
    log.info("config", extra={"params": {"lr": 0.01}, "tags": {"stage": "dev"}})
    log.warning("careful")
    try:
        1 / 0
    except ZeroDivisionError:
        log.exception("it broke")
    quiet = logging.getLogger("quiet")
    quiet.propagate = False
    quiet.error("never reaches root")
    logging.getLogger("noisy").setLevel(logging.ERROR)
    logging.getLogger("noisy").warning("below its logger's level")
    print("plain stdout line")
"""


def _direct(path, cwd) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([PYTHON, str(path)], env=env(), cwd=cwd, capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)


def test_a_basicconfig_script_keeps_its_console_byte_identical_and_its_records_land_in_the_run(tmp_path):
    path = script(tmp_path, "train.py", BASIC_CONFIG_SCRIPT)
    without = _direct(path, tmp_path)
    under = tracklog_run(tmp_path / "ws", PYTHON, path, cwd=tmp_path)
    assert without.returncode == under.returncode == 0
    assert b"DEBUG:train:debug detail 1" in without.stderr  # basicConfig did configure logging
    assert under.stdout == without.stdout
    # Tracebacks name the same files and lines; only the timing differs.
    assert under.stderr == without.stderr

    run = only_run(tmp_path / "ws")
    records = python_log(run)
    messages = [r["message"] for r in records]
    assert messages == ["debug detail 1", "epoch 0", "epoch 1", "epoch 2", "config", "careful", "it broke"]
    assert records[0]["level"] == "DEBUG" and records[0]["logger"] == "train"
    assert "ZeroDivisionError" in records[-1]["exc_text"]
    assert [p.value for p in run.get_metric_history("loss")] == [1.0, 0.5, 1.0 / 3]
    assert run.get_params() == {"lr": "0.01"}
    assert run.get_tags()["stage"] == "dev"


def test_without_logging_configuration_warnings_are_captured_as_python_prints_them(tmp_path):
    path = script(tmp_path, "plain.py", """
        import logging
        logging.getLogger("lib").info("not shown by Python, not captured")
        logging.getLogger("lib").warning("shown by lastResort")
    """)
    without = _direct(path, tmp_path)
    under = tracklog_run(tmp_path / "ws", PYTHON, path)
    assert without.stderr == under.stderr == b"shown by lastResort\n"
    records = python_log(only_run(tmp_path / "ws"))
    assert [(r["logger"], r["message"]) for r in records] == [("lib", "shown by lastResort")]


def test_a_root_level_set_without_handlers_is_honoured(tmp_path):
    path = script(tmp_path, "levels.py", """
        import logging
        logging.getLogger().setLevel(logging.INFO)
        logging.getLogger("app").info("info passes root's level")
        logging.getLogger("app").debug("debug does not")
        logging.disable(logging.INFO)
        logging.getLogger("app").info("disabled")
    """)
    under = tracklog_run(tmp_path / "ws", PYTHON, path)
    assert under.stderr == b""  # lastResort prints WARNING and above only, as without tracklog
    records = python_log(only_run(tmp_path / "ws"))
    assert [r["message"] for r in records] == ["info passes root's level"]


def test_a_script_with_its_own_run_handler_is_not_recorded_twice(tmp_path):
    path = script(tmp_path, "own.py", """
        import logging
        from tracklog.handlers import RunHandler
        logging.getLogger().addHandler(RunHandler())
        logging.getLogger().setLevel(logging.INFO)
        logging.info("once")
    """)
    assert tracklog_run(tmp_path / "ws", PYTHON, path).returncode == 0
    assert [r["message"] for r in python_log(only_run(tmp_path / "ws"))] == ["once"]


def test_python_dash_m_package_is_captured(tmp_path):
    script(tmp_path, "mypkg/__init__.py", "")
    script(tmp_path, "mypkg/__main__.py", """
        import logging
        logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
        logging.getLogger("mypkg").info("from a module", extra={"metric": "m", "value": 2})
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, "-m", "mypkg", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == b"INFO from a module\n"
    run = only_run(tmp_path / "ws")
    assert run.name == "mypkg"
    assert [r["message"] for r in python_log(run)] == ["from a module"]
    assert run.get_metrics() == {"m": 2}


def test_a_shell_script_starting_python_is_captured(tmp_path):
    app = script(tmp_path, "app.py", """
        import logging
        logging.basicConfig(level=logging.INFO)
        logging.getLogger("app").info("started by a shell script", extra={"tag": "via-shell"})
    """)
    runner = script(tmp_path, "run.sh", f"""
        #!/bin/sh
        echo "shell says hi"
        exec "{PYTHON}" "{app}"
    """)
    done = tracklog_run(tmp_path / "ws", "sh", runner)
    assert done.returncode == 0, done.stderr
    assert done.stdout == b"shell says hi\n"
    run = only_run(tmp_path / "ws")
    assert [r["message"] for r in python_log(run)] == ["started by a shell script"]
    assert "via-shell" in run.get_tags()


def test_an_existing_sitecustomize_on_the_childs_path_still_runs(tmp_path):
    site_dir = tmp_path / "site"
    script(site_dir, "sitecustomize.py", """
        import os
        os.environ["USER_SITECUSTOMIZE_RAN"] = "yes"
    """)
    path = script(tmp_path, "check.py", """
        import logging, os, sys
        print(os.environ.get("USER_SITECUSTOMIZE_RAN"), sys.modules["sitecustomize"].__file__)
        logging.getLogger().warning("captured too")
    """)
    base = env()
    done = tracklog_run(tmp_path / "ws", PYTHON, path, extra_env={"PYTHONPATH": f"{site_dir}:{base['PYTHONPATH']}"})
    assert done.returncode == 0, done.stderr
    ran, module_file = done.stdout.decode().split()
    assert ran == "yes" and module_file == str(site_dir / "sitecustomize.py")
    assert [r["message"] for r in python_log(only_run(tmp_path / "ws"))] == ["captured too"]


def test_the_bootstrap_does_not_import_logging_for_the_program(tmp_path):
    code = "import sys; print('logging' in sys.modules, 'tracklog' in sys.modules)"
    direct = subprocess.run([PYTHON, "-c", code], env=env(), capture_output=True, timeout=TIMEOUT)
    under = tracklog_run(tmp_path / "ws", PYTHON, "-c", code)
    assert under.stdout == direct.stdout == b"False False\n"


def test_no_logging_capture_leaves_python_logging_alone(tmp_path):
    path = script(tmp_path, "quiet.py", """
        import logging, sys
        logging.basicConfig(level=logging.INFO)
        logging.info("not captured")
        print(any("_bootstrap" in p for p in sys.path))
    """)
    done = tracklog_run(tmp_path / "ws", PYTHON, path, options=("--no-logging-capture",))
    assert done.stdout == b"False\n"
    assert python_log(only_run(tmp_path / "ws")) == []


def test_every_rank_started_by_a_launcher_logs_with_its_rank(tmp_path):
    worker = script(tmp_path, "worker.py", """
        import logging, os
        logging.basicConfig(level=logging.INFO)
        rank = int(os.environ["RANK"])
        logging.getLogger("worker").info("hello from %d", rank, extra={"metric": "speed", "value": rank * 10})
    """)
    launcher = script(tmp_path, "launch.sh", f"""
        #!/bin/sh
        RANK=0 LOCAL_RANK=0 "{PYTHON}" "{worker}" &
        RANK=1 LOCAL_RANK=1 "{PYTHON}" "{worker}" &
        wait
    """)
    done = tracklog_run(tmp_path / "ws", "sh", launcher)
    assert done.returncode == 0, done.stderr
    run = only_run(tmp_path / "ws")
    ranks = sorted((r["rank"], r["message"]) for r in python_log(run))
    assert ranks == [(0, "hello from 0"), (1, "hello from 1")]
    assert sorted((p.rank, p.value) for p in run.get_metric_history("speed")) == [(0, 0), (1, 10)]


def test_a_bad_run_id_turns_capture_off_without_a_word_on_the_console(tmp_path):
    path = script(tmp_path, "lonely.py", """
        import logging
        logging.basicConfig(level=logging.INFO)
        logging.info("hello")
    """)
    ws = tmp_path / "ws"
    assert tracklog_run(ws, PYTHON, "-c", "pass").returncode == 0  # make the workspace
    bootstrap = str(__import__("tracklog.capture._process", fromlist=["x"]).BOOTSTRAP_DIR)
    base = env()
    child_env = dict(base, TRACKLOG_RUN_ID="0" * 32, TRACKLOG_WORKSPACE=str(ws), PYTHONPATH=bootstrap + ":" + base["PYTHONPATH"])
    done = subprocess.run([PYTHON, str(path)], env=child_env, capture_output=True, timeout=TIMEOUT)
    assert done.returncode == 0
    assert done.stderr == b"INFO:root:hello\n"
    assert len(runs(ws)) == 1
