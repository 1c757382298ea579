"""``tracklog ingest --tensorboard LOGDIR``: event files of real writers into runs, again and again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import tracklog
from tests.capture.capture_support import runs
from tests.capture.tensorboard_support import (  # noqa: F401
    PNG,
    reader,
    scalar_event,
    tb_cli,
    write_events,
)
from tracklog.capture._tensorboard import TAG_DIR, TAG_OFFSETS, TensorBoardSync, find_event_files
from tracklog.capture._tfrecord import frame

tensorboardX = pytest.importorskip("tensorboardX")
numpy = pytest.importorskip("numpy")

#: Every test here runs once with each Event decoder (ours, tensorboard's protobuf).
pytestmark = pytest.mark.usefixtures("reader")


def _ingest(ws: Path, logdir: Path, *options: str) -> str:
    result = tb_cli(ws, "ingest", "--tensorboard", str(logdir), *options)
    assert result.returncode == 0, result.stderr.decode()
    return result.stderr.decode()


def _by_name(ws: Path) -> dict[str, object]:
    return {run.name: run for run in runs(ws)}


def _scalars(folder: Path, tag: str, steps: range, scale: float = 1.0) -> None:
    # The suffix keeps two writers of one second apart: the file name holds the time in seconds.
    writer = tensorboardX.SummaryWriter(str(folder), filename_suffix="." + tag.replace("/", "_"))
    for step in steps:
        writer.add_scalar(tag, scale * step, step)
    writer.close()


def test_a_torch_summarywriters_scalars_become_metrics_with_their_steps_and_wall_times(tmp_path):
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    logdir = tmp_path / "runs" / "exp1"
    writer = torch_tb.SummaryWriter(str(logdir))
    for step in range(0, 50, 10):
        writer.add_scalar("Loss/train", 1.0 / (step + 1), step)
    writer.add_scalar("lr", 0.5, 7, new_style=True)  # a scalar tensor with the scalars plugin
    writer.close()
    ws = tmp_path / "ws"
    note = _ingest(ws, logdir)
    assert "6 points" in note
    (run,) = runs(ws)
    assert run.name == "exp1" and run.status == "Completed"
    history = run.get_metric_history("Loss/train")
    assert [p.step for p in history] == [0, 10, 20, 30, 40]
    assert history[1].value == pytest.approx(1.0 / 11, rel=1e-6)  # float32, as TensorBoard keeps it
    start = run.info.start_time
    assert all(start - 600 < p.timestamp <= start + 1 for p in history)  # the writer's wall times, not ingest's
    assert [(p.step, p.value) for p in run.get_metric_history("lr")] == [(7, 0.5)]
    assert run.get_tags()[TAG_DIR] == str(logdir.resolve())


def test_text_goes_to_the_runs_log_and_images_to_its_files(tmp_path):
    logdir = tmp_path / "tb"
    writer = tensorboardX.SummaryWriter(str(logdir))
    writer.add_text("notes", "epoch 1: **fine**", 1)
    writer.add_image("samples", numpy.full((3, 2, 2), 200, dtype=numpy.uint8), 4)
    writer.close()
    ws = tmp_path / "ws"
    assert "1 text, 1 image" in _ingest(ws, logdir)
    (run,) = runs(ws)
    (record,) = run.get_logs(logger="tensorboard")
    assert record["message"] == "epoch 1: **fine**"
    assert record["extra"] == {"tag": "notes", "step": 1}
    assert "images/samples_4.png" in run.get_file_names()
    assert run.get_metrics("samples") == {"samples": "images/samples_4.png"}
    saved = tmp_path / "out.png"
    run.download_file("images/samples_4.png", saved)
    assert saved.read_bytes().startswith(b"\x89PNG")


def test_ingesting_again_adds_only_what_is_new(tmp_path):
    """Same LOGDIR, same run: old records are not added twice; a grown file and a new file are."""
    logdir = tmp_path / "tb"
    _scalars(logdir, "loss", range(3))
    ws = tmp_path / "ws"
    _ingest(ws, logdir)
    assert "nothing new" in _ingest(ws, logdir)
    (event_file,) = logdir.glob("*tfevents*")
    write_events(event_file, [scalar_event("loss", 30.0, 3)], mode="ab")  # the file grew
    _scalars(logdir, "acc", range(2))  # a second writer: a second file
    note = _ingest(ws, logdir)
    assert "3 points" in note
    (run,) = runs(ws)
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 30.0)]
    assert [p.step for p in run.get_metric_history("acc")] == [0, 1]
    offsets = json.loads(run.get_tags()[TAG_OFFSETS])
    assert sorted(offsets) == sorted(p.name for p in logdir.glob("*tfevents*"))


def test_a_tree_of_event_directories_becomes_a_parent_run_with_a_child_per_directory(tmp_path):
    logdir = tmp_path / "logs"
    _scalars(logdir / "train", "epoch_loss", range(3))
    _scalars(logdir / "validation", "epoch_loss", range(3), scale=2.0)
    ws = tmp_path / "ws"
    assert "2 child runs" in _ingest(ws, logdir, "--experiment", "keras")
    found = _by_name(ws)
    parent = found["logs"]
    assert sorted(child.name for child in parent.get_children()) == ["train", "validation"]
    assert found["validation"].get_metrics("epoch_loss") == {"epoch_loss": [0.0, 2.0, 4.0]}
    assert all(child.status == "Completed" for child in parent.get_children())
    # Again, with one more directory: the same parent and children, one new child.
    _scalars(logdir / "test", "epoch_loss", range(1))
    _ingest(ws, logdir, "--experiment", "keras")
    assert sorted(r.name for r in runs(ws)) == ["logs", "test", "train", "validation"]
    assert [p.step for p in found["train"].get_metric_history("epoch_loss")] == [0, 1, 2]  # nothing added twice


def test_a_torn_tail_is_read_once_it_is_whole(tmp_path):
    """A record still being written is not read (nor lost): the next ingest reads it, once."""
    logdir = tmp_path / "tb"
    event_file = logdir / "events.out.tfevents.1.host"
    whole = [scalar_event("loss", float(step), step) for step in range(3)]
    last = frame(scalar_event("loss", 3.0, 3))
    write_events(event_file, whole)
    with open(event_file, "ab") as out:
        out.write(last[:10])
    ws = tmp_path / "ws"
    assert "3 points" in _ingest(ws, logdir)
    with open(event_file, "ab") as out:
        out.write(last[10:])
    assert "1 point" in _ingest(ws, logdir)
    (run,) = runs(ws)
    assert [p.step for p in run.get_metric_history("loss")] == [0, 1, 2, 3]


def test_a_damaged_record_is_skipped_with_one_warning_and_the_rest_kept(tmp_path):
    """Two records failing their CRC and one that is no Event: skipped alike by both decoders."""
    logdir = tmp_path / "tb"
    event_file = logdir / "events.out.tfevents.1.host"
    records = [bytearray(frame(scalar_event("loss", float(step), step))) for step in range(6)]
    for bad in (2, 4):
        records[bad][-6] ^= 0x01  # a bit of the float: without the CRC check the value would just be wrong
    records.insert(5, bytearray(frame(scalar_event("loss", 9.0, 9)[:-3])))  # a whole record, not a whole Event
    event_file.parent.mkdir(parents=True)
    event_file.write_bytes(b"".join(records))
    result = tb_cli(tmp_path / "ws", "ingest", "--tensorboard", str(logdir))
    assert result.returncode == 0
    stderr = result.stderr.decode()
    assert stderr.count("damaged records") == 2  # the one warning, and the summary's count
    assert "3 damaged records skipped" in stderr
    (run,) = runs(tmp_path / "ws")
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(0, 0.0), (1, 1.0), (3, 3.0), (5, 5.0)]


def test_an_existing_run_given_with_run_gets_the_metrics(tmp_path, experiment):
    logdir = tmp_path / "tb"
    _scalars(logdir, "loss", range(2))
    run = experiment.start_logging("mine")
    run.complete()
    ws = Path(experiment.workspace.path)
    _ingest(ws, logdir, "--run", run.id)
    assert run.get_metrics("loss") == {"loss": [0.0, 1.0]}
    assert run.status == "Completed"
    assert len(runs(ws)) == 1


def test_images_written_as_tf2_tensors_become_files(tmp_path):
    from tests.capture.tensorboard_support import scalar_tensor, tensor_event, types_pb2

    images = scalar_tensor(types_pb2.DT_STRING, string_val=[b"1", b"1", PNG, PNG])
    write_events(tmp_path / "tb" / "events.out.tfevents.2.host", [tensor_event("batch", images, 5, plugin="images")])
    _ingest(tmp_path / "ws", tmp_path / "tb")
    (run,) = runs(tmp_path / "ws")
    assert {"images/batch_5_0.png", "images/batch_5_1.png"} <= set(run.get_file_names())


def test_a_missing_logdir_is_a_one_line_error_and_no_run(tmp_path):
    result = tb_cli(tmp_path / "ws", "ingest", "--tensorboard", str(tmp_path / "nowhere"))
    assert result.returncode != 0
    assert "does not exist" in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    assert not (tmp_path / "ws").exists() or runs(tmp_path / "ws") == []



def test_found_in_one_scan_keras_s_train_folder_is_the_run_s_own_and_validation_its_child(tmp_path):
    # tracklog run's watcher makes the first folder with event files the run's own; Keras
    # writes logs/train and logs/validation within one epoch, so both appear in one scan.
    logdir = tmp_path / "logs"
    _scalars(logdir / "validation", "epoch_loss", range(2))
    _scalars(logdir / "train", "epoch_loss", range(2))
    assert list(find_event_files(str(logdir))) == [str(logdir / "train"), str(logdir / "validation")]
    run = tracklog.Experiment(tracklog.Workspace(str(tmp_path / "ws")), "keras").start_logging("fit")
    TensorBoardSync(run, str(logdir)).sync()
    run.complete()
    assert run.get_tags()[TAG_DIR] == str(logdir / "train")
    assert [child.name for child in run.get_children()] == ["validation"]


def test_a_folder_without_event_files_makes_no_run(tmp_path):
    (tmp_path / "empty").mkdir()
    ws = tmp_path / "ws"
    done = tb_cli(ws, "ingest", "--tensorboard", str(tmp_path / "empty"))
    assert done.returncode == 0, done.stderr.decode()
    assert b"no TensorBoard event files" in done.stderr
    assert runs(ws) == []
