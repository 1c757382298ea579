"""The UI's JSON API over real HTTP: experiments, runs, a run's page data, logs, CSV, compare."""

from __future__ import annotations

import csv
import io
import logging
import math
import os
import platform
import time

import tracklog
from tracklog.pipeline.event import OUTPUT, Event
from tracklog.handlers import RunHandler


def _log_records(run, *records) -> None:
    logger = logging.getLogger("ui.test")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = RunHandler(run)
    logger.addHandler(handler)
    try:
        for level, message in records:
            logger.log(level, message)
    finally:
        logger.removeHandler(handler)
    run.flush()


def test_index_page_and_packaged_static_files_are_served(client):
    """GET / is the page; uPlot and the app script come from the package, not a CDN."""
    page = client.get("/")
    assert page.status == 200 and page.headers["content-type"].startswith("text/html")
    assert b"/static/vendor/uPlot.iife.min.js" in page.body and b"http" not in page.body.split(b"<body>")[1]
    script = client.get("/static/vendor/uPlot.iife.min.js")
    assert script.status == 200 and b"uPlot" in script.body[:200]
    assert client.get("/static/app.js").status == 200
    assert client.get("/static/vendor/uPlot.LICENSE").body.startswith(b"The MIT License")
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_experiments_and_runs_list_carry_status_tags_params_and_last_values(workspace, client):
    """The runs list has status, times, tags, params and each scalar metric's last value."""
    exp = tracklog.Experiment(workspace, "mnist")
    done = exp.start_logging("done", tags={"model": "cnn"})
    done.log_param("lr", 0.1)
    for value in (0.9, 0.5, 0.25):
        done.log("loss", value)
    done.log("phase", "train")
    done.log_row("table", a=1, b=2)
    done.log("bad", float("nan"))
    done.complete()
    live = exp.start_logging("live")
    tracklog.Experiment(workspace, "other").start_logging("elsewhere").complete()

    experiments = client.json("/api/experiments")
    assert experiments["workspace"] == workspace.path
    by_name = {e["name"]: e for e in experiments["experiments"]}
    assert by_name["mnist"]["runs"] == 2 and by_name["mnist"]["running"] == 1

    listing = client.json(f"/api/runs?experiment={by_name['mnist']['id']}")
    assert listing["alive"] is True
    runs = {r["name"]: r for r in listing["runs"]}
    assert set(runs) == {"done", "live"}
    row = runs["done"]
    assert row["status"] == "Completed" and row["end"] >= row["start"]
    assert row["tags"] == {"model": "cnn"} and row["params"] == {"lr": "0.1"}
    assert row["metrics"] == {"loss": 0.25, "phase": "train", "bad": "NaN"}
    assert runs["live"]["status"] == "Running" and runs["live"]["end"] is None
    live.complete()
    assert client.json("/api/runs")["alive"] is False
    assert len(client.json("/api/runs")["runs"]) == 3


def test_run_detail_lists_children_files_logs_and_metric_chart_types(workspace, client, tmp_path):
    """A run's page data: tags, params, child runs, files, log files, and how each metric charts."""
    run = tracklog.Experiment(workspace, "e").start_logging("parent", tags={"t": "1"})
    child = run.child_run("kid")
    child.complete()
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    run.upload_file("outputs/notes.txt", str(notes))
    _log_records(run, (logging.INFO, "hi"))
    run.log("loss", 1.0)
    run.log("loss", 0.5)
    run.log("final", 3)
    run.complete()

    detail = client.json(f"/api/runs/{run.id}")
    assert detail["run"]["name"] == "parent" and detail["tags"] == {"t": "1"}
    source = dict(detail["source"])  # provenance shows under Source, not among the tags
    assert source["user"] and source["host"] and source["python"] == platform.python_version()
    assert source["tracklog"] == tracklog.__version__ and source["cwd"] == os.getcwd()
    assert [c["name"] for c in detail["children"]] == ["kid"]
    names = {f["name"]: f["size"] for f in detail["files"]}
    assert names["outputs/notes.txt"] == 5 and "logs/python.log" in names
    assert detail["logs"] == ["python.log"]
    assert {m["name"]: m["type"] for m in detail["metrics"]} == {"loss": "line", "final": "value"}
    kid = client.json(f"/api/runs/{child.id}")
    assert kid["parent"]["id"] == run.id
    assert client.json(f"/api/runs/{run.id[:8]}")["run"]["id"] == run.id  # a unique prefix works


def test_charts_give_series_tables_text_and_images(workspace, client, tmp_path):
    """The run page's data: lines over step, a two-numeric-column table as x/y, strings, images."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    for i in range(5000):
        run.log("loss", 1 / (i + 1))
    run.log_list("acc", [0.1, 0.2, 0.3])
    for angle in range(10, 0, -1):
        run.log_row("Cosine Wave", angle=angle / 10, cos=math.cos(angle / 10))
    run.log_table("labels", {"name": ["a", "b"], "count": [1, 2]})
    run.log("phase", "warmup")
    run.log("phase", "train")
    png = tmp_path / "p.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    run.log_image("sample", path=str(png))
    run.complete()

    data = client.json(f"/api/runs/{run.id}/charts?width=200")
    metrics = {m["name"]: m for m in data["metrics"]}
    loss = metrics["loss"]
    assert loss["type"] == "line" and loss["downsampled"] is True and loss["points"] == 5000
    assert len(loss["x"]) <= 400 and max(loss["y"]) == 1.0 and min(loss["y"]) == 1 / 5000
    assert metrics["acc"]["x"] == [0, 1, 2] and metrics["acc"]["y"] == [0.1, 0.2, 0.3]
    wave = metrics["Cosine Wave"]
    assert wave["type"] == "table" and wave["columns"] == ["angle", "cos"]
    assert wave["xy"]["x"] == [i / 10 for i in range(1, 11)]  # x = first column, sorted
    assert wave["xy"]["ys"][0]["name"] == "cos"
    assert metrics["labels"]["xy"] is None and metrics["labels"]["rows"] == [["a", 1], ["b", 2]]
    assert metrics["phase"]["type"] == "text" and metrics["phase"]["rows"] == [[0, "warmup"], [1, "train"]]
    image = metrics["sample"]["images"][0]
    assert image["step"] == 0
    served = client.get(f"/api/runs/{run.id}/file?name={image['file']}")
    assert served.status == 200 and served.headers["content-type"] == "image/png"
    assert served.body == png.read_bytes()


def test_series_endpoint_zooms_into_a_step_range(workspace, client):
    """/series with xmin/xmax returns that range at full resolution once it is small enough."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    for i in range(100_000):
        run.log("m", float(i))
    run.complete()
    full = client.json(f"/api/runs/{run.id}/series?name=m&width=500")
    assert full["downsampled"] is True and full["points"] == 100_000
    zoom = client.json(f"/api/runs/{run.id}/series?name=m&width=500&xmin=40000&xmax=40300")
    assert zoom["x"] == list(range(40000, 40301)) and zoom["downsampled"] is False
    assert client.get(f"/api/runs/{run.id}/series?name=nope").status == 404
    assert client.get(f"/api/runs/{run.id}/series?name=m&xmin=abc").status == 400
    assert client.get(f"/api/runs/{run.id}/series?name=m&xmin=inf").status == 400
    assert client.get(f"/api/runs/{run.id}/csv?name=nope").status == 404


def test_csv_download_has_every_point_at_full_precision(workspace, client):
    """The CSV link gives the whole series, however long, with exact values."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    values = [math.sin(i) / 3 for i in range(60_000)]
    for v in values:
        run.log("wave/sin", v)
    run.log_row("tbl", x=1, y=0.5)
    run.complete()
    answer = client.get(f"/api/runs/{run.id}/csv?name=wave%2Fsin")
    assert answer.status == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert "attachment" in answer.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(answer.body.decode())))
    assert rows[0] == ["step", "value", "timestamp", "rank"]
    assert len(rows) == 60_001
    assert [float(r[1]) for r in rows[1:]] == values
    table = list(csv.reader(io.StringIO(client.get(f"/api/runs/{run.id}/csv?name=tbl").body.decode())))
    assert table == [["step", "x", "y"], ["0", "1", "0.5"]]


def test_logs_filter_by_level_and_tail_from_an_offset(workspace, client):
    """Log records come structured, a level filter drops lower ones, offset gives only new lines."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    _log_records(run, (logging.DEBUG, "dbg"), (logging.INFO, "info"), (logging.ERROR, "bad"))
    first = client.json(f"/api/runs/{run.id}/logs?file=python.log")
    assert [r["message"] for r in first["records"]] == ["dbg", "info", "bad"]
    assert first["records"][2]["level"] == "ERROR" and first["running"] is True
    assert first["offset"] == first["size"]
    warn = client.json(f"/api/runs/{run.id}/logs?file=python.log&level=WARNING")
    assert [r["message"] for r in warn["records"]] == ["bad"]
    _log_records(run, (logging.WARNING, "later"))
    more = client.json(f"/api/runs/{run.id}/logs?file=python.log&offset={first['offset']}")
    assert [r["message"] for r in more["records"]] == ["later"]
    run.complete()
    assert client.json(f"/api/runs/{run.id}/logs?offset={more['offset']}")["running"] is False
    assert client.get(f"/api/runs/{run.id}/logs?level=LOUD").status == 400


def test_a_half_written_log_line_waits_for_its_newline(workspace, client):
    """A line still being appended is not returned until it ends; the offset stays before it."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    _log_records(run, (logging.INFO, "whole"))
    path = f"{workspace.path}/runs/{run.id}/logs/python.log"
    with open(path, "ab") as handle:
        handle.write(b'{"message": "half')
    answer = client.json(f"/api/runs/{run.id}/logs")
    assert [r["message"] for r in answer["records"]] == ["whole"]
    with open(path, "ab") as handle:
        handle.write(b'", "levelno": 20, "level": "INFO"}\n')
    rest = client.json(f"/api/runs/{run.id}/logs?offset={answer['offset']}")
    assert [r["message"] for r in rest["records"]] == ["half"]
    run.complete()


def test_a_long_log_opens_at_its_tail(workspace, client):
    """Without an offset, only the last `tail` bytes are read, starting at a whole line."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    _log_records(run, *[(logging.INFO, f"line {i:05d}") for i in range(3000)])
    answer = client.json(f"/api/runs/{run.id}/logs?tail=2000")
    assert answer["skipped"] > 0
    messages = [r["message"] for r in answer["records"]]
    assert messages[-1] == "line 02999" and 5 < len(messages) < 100
    assert all(m.startswith("line ") for m in messages)
    run.complete()


def test_captured_output_lines_show_with_their_stream(workspace, client):
    """std_log.txt lines (captured stdout/stderr) read back with the stream as their level."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    run.target.pipeline.put(Event(run.id, OUTPUT, "std_log.txt", b"oops\n", None, 1700000000.5, logger="stderr"))
    run.flush()
    path = f"{workspace.path}/runs/{run.id}/logs/std_log.txt"
    with open(path, "a") as handle:
        handle.write("plain text line\n")
    answer = client.json(f"/api/runs/{run.id}/logs?file=std_log.txt&level=ERROR")
    assert [(r["level"], r["message"]) for r in answer["records"]] == [("stderr", "oops"), ("", "plain text line")]
    assert answer["records"][0]["time"].startswith("2023-11-14T22:13:20.5")
    run.complete()


def test_compare_overlays_one_metric_of_several_runs(workspace, client):
    """/compare gives each run's series of the chosen metric and the union of metric names."""
    exp = tracklog.Experiment(workspace, "e")
    runs = []
    for k in range(3):
        run = exp.start_logging(f"r{k}")
        for i in range(100):
            run.log("loss", (k + 1) / (i + 1))
        if k == 2:
            run.log("extra", 1.0)
            run.log("extra", 2.0)
        run.complete()
        runs.append(run)
    ids = ",".join(r.id for r in runs)
    answer = client.json(f"/api/compare?runs={ids}&name=loss&width=300")
    assert answer["metrics"] == ["loss", "extra"]
    assert [s["run"] for s in answer["series"]] == [r.id for r in runs]
    assert [s["y"][0] for s in answer["series"]] == [1.0, 2.0, 3.0]
    extra = client.json(f"/api/compare?runs={ids}&name=extra")
    assert [s["points"] for s in extra["series"]] == [0, 0, 2]
    assert client.get("/api/compare?runs=ffffffffffff").status == 404
    assert client.get("/api/compare").status == 400


def test_unknown_runs_and_pages_are_404_with_a_json_message(client):
    """A missing run or API path answers 404 with an error message, never a traceback."""
    for path in ("/api/runs/0123abcd", "/api/runs/0123abcd/charts", "/api/nope", "/nope", "/api/runs/XYZ"):
        answer = client.get(path)
        assert answer.status == 404, path
        assert "error" in answer.json()


def test_the_runs_list_stays_valid_json_with_infinite_values(workspace, client):
    """inf and NaN last values travel as strings, so the page's JSON.parse never fails."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    run.log("up", float("inf"))
    run.log("down", float("-inf"))
    run.log("m", float("inf"))
    run.log("m", 1.0)
    run.log("m", float("inf"))
    run.complete()
    row = client.json("/api/runs")["runs"][0]
    assert row["metrics"] == {"up": "Infinity", "down": "-Infinity", "m": "Infinity"}
    series = client.json(f"/api/runs/{run.id}/series?name=m")
    assert series["y"] == [None, 1.0, None]


def test_the_page_data_of_a_running_run_grows_between_requests(workspace, client):
    """A live run's charts and status change from one request to the next (what auto-refresh shows)."""
    run = tracklog.Experiment(workspace, "e").start_logging("r")
    run.log("m", 1.0)
    run.flush()
    before = client.json(f"/api/runs/{run.id}/charts")
    run.log("m", 2.0)
    run.flush()
    deadline = time.monotonic() + 30
    after = before
    while time.monotonic() < deadline and after["metrics"][0]["points"] < 2:
        time.sleep(0.05)
        after = client.json(f"/api/runs/{run.id}/charts")
    assert before["run"]["status"] == "Running" and before["metrics"][0]["type"] == "value"
    assert after["metrics"][0]["points"] == 2 and after["metrics"][0]["type"] == "line"
    run.complete()
    assert client.json(f"/api/runs/{run.id}")["run"]["status"] == "Completed"
