"""Metric lines in plain output (issue 15 §1): each recogniser on real-shaped lines, through ``tracklog run``."""

from __future__ import annotations

import pytest

import tracklog

from tests.capture.capture_support import PYTHON, cli, only_run, runs, script, stream_bytes, tracklog_run
from tracklog._errors import TracklogError
from tracklog.capture._recognise import MetricRules, Pattern, Recogniser
from tracklog.pipeline.target import RunTarget


def fields(line: bytes, recogniser: Recogniser | None = None) -> dict | None:
    return (recogniser or Recogniser())._fields(line)


@pytest.mark.parametrize(("line", "expected"), [
    (b"step=12 loss=0.31 acc=0.9", {"metrics": {"loss": 0.31, "acc": 0.9}, "step": 12}),
    (b"step=12.0 loss=0.31", {"metrics": {"loss": 0.31}, "step": 12}),  # a step printed as a float
    (b"epoch=1.0 loss=0.31", {"metrics": {"epoch": 1.0, "loss": 0.31}}),  # an epoch only as an int
    (b"step=0.5 loss=0.31", {"metrics": {"step": 0.5, "loss": 0.31}}),
    (b'level=info msg="epoch done" loss=0.3', {"metrics": {"loss": 0.3}}),
    (b'time=2026-12-01T10:00:00Z level=info pid=12 msg="a \\"quoted\\" word" loss=3e-2 iteration=7',
     {"metrics": {"loss": 0.03}, "step": 7}),
    (b"loss: 0.3120 - accuracy: 0.8906", {"metrics": {"loss": 0.312, "accuracy": 0.8906}}),
    (b"32/32 [==============================] - 1s 3ms/step - loss: 0.3120 - accuracy: 0.8906",
     {"metrics": {"loss": 0.312, "accuracy": 0.8906}}),
    ("32/32 ━━━━━━━━━━━━━━━━━━━━ 1s 3ms/step - accuracy: 0.8906 - loss: 0.3120".encode(),
     {"metrics": {"accuracy": 0.8906, "loss": 0.312}}),
    (b"32/32 - 0s - loss: 0.6931 - accuracy: 0.5000 - 123ms/epoch - 4ms/step",
     {"metrics": {"loss": 0.6931, "accuracy": 0.5}}),
    (b"epoch: 3, loss: 0.31, acc: 0.9", {"metrics": {"loss": 0.31, "acc": 0.9}, "step": 3}),
    (b"{'loss': '0.6921', 'grad_norm': '0.5658', 'learning_rate': '4.531e-05', 'epoch': '0.25'}",
     {"metrics": {"loss": 0.6921, "grad_norm": 0.5658, "learning_rate": 4.531e-05, "epoch": 0.25}}),
    (b"{'loss': 0.52, 'learning_rate': 4.8e-05, 'epoch': 0.1}",
     {"metrics": {"loss": 0.52, "learning_rate": 4.8e-05, "epoch": 0.1}}),
    (b"{'eval_loss': 0.7, 'step': 40, 'epoch': 1.0}", {"metrics": {"eval_loss": 0.7, "epoch": 1.0}, "step": 40}),
    ("train: 100%|██████████| 10/10 [00:01<00:00,  9.53it/s, loss=0.3, acc=0.9]".encode(),
     {"metrics": {"loss": 0.3, "acc": 0.9}}),
    (b"10it [00:01,  9.53it/s, loss=0.3]", {"metrics": {"loss": 0.3}}),
    (b'{"metric": "loss", "value": 0.3, "step": 1}', {"metric": "loss", "value": 0.3, "step": 1}),
])
def test_each_shape_of_metric_line_is_read(line, expected):
    assert fields(line) == expected


@pytest.mark.parametrize("line", [
    b"The loss: 0.3 was better than yesterday's 0.4",
    b"We trained 3 epochs with loss 0.3 and accuracy 0.9",
    b"Note: loss=0.3 is good",
    b"INFO:root:step=1 loss=0.3",
    b"12:00:01 started worker 3",
    b"http://example.com:8080/path",
    b"cuda:0",
    b"localhost:8080",
    b"python:3.11",
    b"x=a y=b",
    b"a=1 this is prose",
    b"{'message': 'no numbers here'}",
    b"{'a': __import__('os').system('true')}",
    b"{'nested': {'loss': 0.3}}",
    b"{'deep': " + b"[" * 5000 + b"]" * 5000 + b"}",
    b'{"loss": 0.3}',  # JSON without the conventions stays text, as before
    b"10/10 [00:01<00:00,  9.53it/s]",  # a bar without a postfix
])
def test_numbers_inside_prose_and_other_lines_are_not_metrics(line):
    assert fields(line) is None


def test_an_epoch_line_is_the_step_of_the_keras_lines_after_it():
    recogniser = Recogniser()
    assert fields(b"Epoch 3/10", recogniser) is None
    assert fields(b"32/32 - 0s - loss: 0.5", recogniser) == {"metrics": {"loss": 0.5}, "step": 3}
    assert fields(b"Epoch 4/10", recogniser) is None
    assert fields(b"32/32 - 0s - loss: 0.4", recogniser) == {"metrics": {"loss": 0.4}, "step": 4}


def test_user_patterns_regex_and_name_equals_regex():
    by_groups = Pattern(r"^eval (?P<name>\w+) is (?P<value>[\d.]+) at (?P<step>\d+)$")
    assert by_groups.fields("eval bleu is 31.5 at 200") == {"metrics": {"bleu": 31.5}, "step": 200}
    one = Pattern(r"val_loss=validation loss (\S+)")
    assert one.fields("the validation loss 0.25 (best)") == {"metrics": {"val_loss": 0.25}}
    assert one.fields("no validation here") is None


@pytest.mark.parametrize("text", ["(unclosed", r"(?P<value>\d+)", "loss=no group", "=(\\d+)"])
def test_a_bad_pattern_is_refused_with_a_clear_message(text):
    with pytest.raises(TracklogError, match="--metrics"):
        Pattern(text)


def test_no_metrics_leaves_only_the_user_patterns():
    assert MetricRules(builtin=False).recogniser() is None
    recogniser = MetricRules(builtin=False, patterns=[r"lr=lr (\S+)"]).recogniser()
    assert recogniser is not None
    assert not recogniser.builtin and recogniser.patterns[0].fields("lr 0.5") == {"metrics": {"lr": 0.5}}


TRAINING = """
    import sys
    print("starting: 3 epochs, 0.001 learning rate")              # prose
    print("step=1 loss=0.9 acc=0.5")                                # logfmt
    print('level=info msg="epoch done" loss=0.8')                   # logfmt with text fields
    print("Epoch 1/2")                                              # Keras
    print("32/32 [==============================] - 1s 3ms/step - loss: 0.7000 - accuracy: 0.6000")
    print("Epoch 2/2")
    print("32/32 - 0s - loss: 0.6000 - accuracy: 0.7000 - 123ms/epoch - 4ms/step")
    print({'loss': '0.6921', 'grad_norm': '0.5658', 'learning_rate': '4.531e-05', 'epoch': '0.25'})  # transformers 5
    print({'loss': 0.52, 'learning_rate': 4.8e-05, 'epoch': 0.5})   # older transformers
    print('{"metric": "loss", "value": 0.4, "step": 9}')            # JSON lines, as before
    print("The loss: 0.1 was reached after 5 epochs")               # prose that looks numeric
    print("step=2 lr=0.01", file=sys.stderr)                        # logfmt on stderr
"""


def test_a_job_s_plain_output_becomes_metrics_through_tracklog_run(tmp_path):
    child = script(tmp_path, "train.py", TRAINING)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    loss = sorted((p.step, p.value) for p in run.get_metric_history("loss"))
    # logfmt step 1, then the next step; Keras epochs 1 and 2; the dict lines the next steps; JSON step 9.
    assert loss == [(1, 0.7), (1, 0.9), (2, 0.6), (2, 0.8), (3, 0.6921), (4, 0.52), (9, 0.4)]
    assert [(p.step, p.value) for p in run.get_metric_history("accuracy")] == [(1, 0.6), (2, 0.7)]
    assert [p.value for p in run.get_metric_history("epoch")] == [0.25, 0.5]
    assert [(p.step, p.value) for p in run.get_metric_history("lr")] == [(2, 0.01)]
    assert set(run.get_metrics()) == {"loss", "acc", "accuracy", "grad_norm", "learning_rate", "epoch", "lr"}
    assert stream_bytes(run, "stdout") == done.stdout  # every line stays text, byte for byte


def test_no_metrics_turns_the_recognisers_off_and_metrics_adds_patterns(tmp_path):
    child = script(tmp_path, "train.py", TRAINING + '    print("validation bleu 31.5")\n')
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child, options=("--no-metrics", "--metrics", r"bleu=validation bleu (\S+)"))
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    assert set(run.get_metrics()) == {"bleu"}
    assert run.get_metric_history("bleu")[0].value == 31.5


def test_a_bad_metrics_pattern_is_refused_before_a_run_starts(tmp_path):
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, "-c", "pass", options=("--metrics", "loss=(unclosed"))
    assert done.returncode != 0
    assert b"--metrics 'loss=(unclosed': not a regular expression" in done.stderr
    assert not (ws / "runs").exists() or runs(ws) == []


def test_the_project_file_sets_the_patterns_once(tmp_path):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\n\n[tool.tracklog]\nmetrics = [\'bleu=bleu (\\S+)\']\nbuiltin-metrics = false\n'
    )
    child = script(tmp_path, "train.py", 'print("step=1 loss=0.3")\nprint("bleu 30.5")\n')
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert set(only_run(ws).get_metrics()) == {"bleu"}
    # tracklog.toml in the same folder comes first.
    (tmp_path / "tracklog.toml").write_text("builtin-metrics = true\n")
    ws2 = tmp_path / "ws2"
    tracklog_run(ws2, PYTHON, child, cwd=tmp_path)
    assert set(only_run(ws2).get_metrics()) == {"loss"}


def test_a_malformed_project_file_is_refused_with_its_path(tmp_path):
    (tmp_path / "tracklog.toml").write_text("metrics = 3\n")
    done = tracklog_run(tmp_path / "ws", PYTHON, "-c", "pass", cwd=tmp_path)
    assert done.returncode != 0
    assert b"tracklog.toml: metrics must be a list of patterns" in done.stderr


def test_a_real_tqdm_bar_s_postfix_is_read_once_per_completed_bar(tmp_path):
    pytest.importorskip("tqdm")
    child = script(tmp_path, "bar.py", """
        import time
        from tqdm import tqdm
        for epoch in range(2):
            bar = tqdm(range(5), desc=f"epoch {epoch}", mininterval=0, ascii=True)
            for i in bar:
                bar.set_postfix(loss=round(1 / (i + 1 + epoch * 5), 4))
                time.sleep(0.01)
    """)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child)
    assert done.returncode == 0, done.stderr
    assert done.stderr.count(b"\r") >= 10 and b"loss=" in done.stderr
    run = only_run(ws)
    loss = [(p.step, p.value) for p in run.get_metric_history("loss")]
    assert loss == [(0, 0.2), (1, 0.1)]  # the final picture of each bar, once
    assert stream_bytes(run, "stderr") == done.stderr


def test_a_tqdm_bar_padded_with_spaces_keeps_its_postfix(tmp_path):
    """tqdm pads a redraw shorter than the one before with spaces; the padded bar's postfix still counts."""
    child = script(tmp_path, "bar.py", """
        import sys
        sys.stderr.write("\\r 90%|#########2| 9/10 [00:01<00:00, 12.71it/s, loss=0.3125]")
        sys.stderr.write("\\r100%|##########| 10/10 [00:01<00:00, 9.53it/s, loss=0.3]  \\n")
        sys.stderr.write("100%|##########| 10/10 [00:01<00:00, 9.53it/s, acc=0.4]\\n")
    """)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(0, 0.3)]
    assert [(p.step, p.value) for p in run.get_metric_history("acc")] == [(0, 0.4)]


def test_names_with_a_colon_stay_text_and_a_capitalised_step_key_is_the_step(tmp_path):
    """`cuda:0`, `localhost:8080`, `python:3.11` alone on a line are names, not metrics (a pair
    has a space after its colon); `Epoch: 3, Loss: 0.5` and `Step=11 loss=0.2` give the step,
    also read a chunk at a time; Keras's lines are read as before."""
    child = script(tmp_path, "job.py", """
        import sys
        sys.stdout.write("cuda:0\\nlocalhost:8080\\npython:3.11\\nredis:6379\\n")
        sys.stdout.write("Epoch: 3, Loss: 0.5\\n")
        sys.stdout.flush()
        sys.stdout.write("".join(f"Step={i} loss=0.{i}\\n" for i in range(11, 15)))
        sys.stdout.flush()
        sys.stdout.write("Epoch 4/10\\n32/32 [====] - 1s 3ms/step - loss: 0.3120 - accuracy: 0.8906\\n")
    """)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    history = {name: [(p.step, p.value) for p in run.get_metric_history(name)] for name in run.get_metrics()}
    assert history == {
        "Loss": [(3, 0.5)],
        "loss": [(4, 0.312), (11, 0.11), (12, 0.12), (13, 0.13), (14, 0.14)],
        "accuracy": [(4, 0.8906)],
    }


def test_pairs_without_a_space_after_the_colon_count_on_a_line_of_two_or_more(tmp_path):
    """`loss:0.3, acc:0.9` and `epoch:3 | loss:0.25` are metric lines (two or more pairs, no space
    after the colons); a lone `cuda:0` or `localhost:8080` stays text, and so does a lone `ETA:3s`
    beside one pair."""
    child = script(tmp_path, "job.py", """
        print("cuda:0")
        print("loss:0.3, acc:0.9")
        print("localhost:8080")
        print("epoch:3 | loss:0.25")
        print("ETA:3s - loss:0.2")
        print("loss:0.1 - acc:0.95")
    """)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    history = {name: [(p.step, p.value) for p in run.get_metric_history(name)] for name in run.get_metrics()}
    assert history == {"loss": [(0, 0.3), (3, 0.25), (4, 0.1)], "acc": [(0, 0.9), (1, 0.95)]}


def test_a_step_key_counts_in_lower_capitalised_or_upper_case_only(tmp_path):
    """`step`, `Step` and `STEP` are the line's step, one by one and a chunk at a time (the step
    key is matched with one exact lookup, no per-pair case folding); `sTep` is a metric's name."""
    child = script(tmp_path, "job.py", """
        import sys
        sys.stdout.write("Step=1 loss=0.1\\nSTEP=2 loss=0.2\\nsTep=3 loss=0.3\\n")
        sys.stdout.flush()
        sys.stdout.write("".join(f"sTep={i} acc=0.{i}\\n" for i in range(4, 7)))
        sys.stdout.flush()
        sys.stdout.write("".join(f"STEP={i} acc=0.{i}\\n" for i in range(7, 10)))
    """)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    history = {name: [(p.step, p.value) for p in run.get_metric_history(name)] for name in run.get_metrics()}
    assert history == {
        "loss": [(1, 0.1), (2, 0.2), (3, 0.3)],
        "sTep": [(0, 3), (1, 4), (2, 5), (3, 6)],
        "acc": [(0, 0.4), (1, 0.5), (2, 0.6), (7, 0.7), (8, 0.8), (9, 0.9)],
    }


def test_keras_shaped_output_with_terminal_redraws(tmp_path):
    # Keras 3 on a terminal redraws its bar with \r, then ends the epoch's line with \n.
    child = script(tmp_path, "keras.py", """
        import sys
        for epoch in (1, 2):
            print(f"Epoch {epoch}/2")
            for step in (1, 2):
                sys.stdout.write(f"\\r{step}/2 ━━━━━━━━━━ 0s 3ms/step - accuracy: 0.{epoch}{step} - loss: {3 - epoch}.{step}")
                sys.stdout.flush()
            sys.stdout.write("\\n")
    """)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child)
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(1, 2.2), (2, 1.2)]
    assert [(p.step, p.value) for p in run.get_metric_history("accuracy")] == [(1, 0.12), (2, 0.22)]


def test_ingest_reads_metric_lines_too(tmp_path):
    ws = tmp_path / "ws"
    done = cli(ws, "ingest", "-", input=b"step=1 loss=0.5\nloss is 0.2 today\n{'loss': 0.25, 'epoch': 1}\n")
    assert done.returncode == 0, done.stderr
    run = only_run(ws)
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(1, 0.5), (2, 0.25)]
    assert [(p.step, p.value) for p in run.get_metric_history("epoch")] == [(0, 1.0)]


TRAINER = """
    import torch
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    torch.manual_seed(0)
    config = BertConfig(vocab_size=32, hidden_size=8, num_hidden_layers=1, num_attention_heads=1,
                        intermediate_size=8, max_position_embeddings=16, num_labels=2)
    model = BertForSequenceClassification(config)  # built from a config: nothing is downloaded
    data = [{"input_ids": torch.tensor([1 + i % 7, 2, 3, 4]), "labels": torch.tensor(i % 2)} for i in range(32)]
    args = TrainingArguments(output_dir="out", max_steps=8, logging_steps=2, per_device_train_batch_size=4,
                             report_to=[], save_strategy="no", use_cpu=True)
    Trainer(model=model, args=args, train_dataset=data).train()
"""


def test_a_real_transformers_trainer_s_log_lines_become_metrics(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    pytest.importorskip("accelerate")
    child = script(tmp_path, "trainer.py", TRAINER)
    ws = tmp_path / "ws"
    done = tracklog_run(ws, PYTHON, child, cwd=tmp_path, extra_env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    printed = [line for line in done.stdout.splitlines() if line.startswith(b"{'loss'")]
    assert len(printed) == 4, done.stdout  # logging_steps=2 of max_steps=8
    run = only_run(ws)
    loss = run.get_metric_history("loss")
    assert [p.step for p in loss] == [0, 1, 2, 3]
    assert all(0.5 < p.value < 0.9 for p in loss)
    assert [p.value for p in run.get_metric_history("epoch")][:4] == [0.25, 0.5, 0.75, 1.0]
    assert {"grad_norm", "learning_rate", "train_loss", "train_runtime"} <= set(run.get_metrics())


def test_an_epoch_line_alone_in_a_chunk_and_a_bar_ended_by_a_later_newline(tmp_path):
    # The chunks a pipe delivers: "Epoch 3/10\n" alone, then a redrawn line whose "\n" comes later.
    from tracklog.capture._recorder import OutputRecorder

    run = tracklog.Experiment(tracklog.Workspace(tmp_path / "ws"), "e").start_logging("chunks")
    recorder = OutputRecorder(run, "stdout", conventions=True)
    for chunk in (b"Epoch 3/10\n", b"\r1/2 - loss: 0.9", b"\r2/2 - loss: 0.4", b"\n", b"\rloss=7", b"\rdone\n"):
        recorder.feed(chunk)
    recorder.close()
    run.complete()
    assert [(p.step, p.value) for p in run.get_metric_history("loss")] == [(3, 0.4)]


def test_keras_3_coloured_progress_lines_are_read_without_their_escapes():
    # Keras 3's Progbar on a terminal: bold counts, a green bar, then the metrics.
    recogniser = Recogniser()
    assert fields(b"Epoch 2/3", recogniser) is None
    line = ("\x1b[1m32/32\x1b[0m \x1b[32m━━━━━━━━━━━━━━━━━━━━\x1b[0m\x1b[37m\x1b[0m \x1b[1m1s\x1b[0m 3ms/step"
            " - accuracy: 0.9950 - loss: 0.0050").encode()
    target = RunTarget("r", None)  # type: ignore[arg-type]
    events = recogniser.events(target, b"\x08" * 10 + b"\r" + line + b"\n", 1.0)
    assert sorted((e.name, e.value, e.step) for e in events) == [("accuracy", 0.995, 2), ("loss", 0.005, 2)]
    coloured = Recogniser().events(target, b"\x1b[32mstep=3 loss=0.5\x1b[0m\n" * 3, 1.0)
    assert [(e.name, e.value, e.step) for e in coloured] == [("loss", 0.5, 3)] * 3


@pytest.mark.parametrize("line", [b"pid: 4242 - loss: 0.5", b"{'loss': 0.5, 'pid': 4242}", b"Port: 8080, loss: 0.5"])
def test_the_never_metric_fields_hold_in_every_shape(line):
    assert fields(line) == {"metrics": {"loss": 0.5}}


def test_user_patterns_also_read_lines_a_built_in_shape_reads():
    recogniser = MetricRules(patterns=[r"train_loss=loss=(\S+)"]).recogniser()
    assert recogniser is not None
    target = RunTarget("r", None)  # type: ignore[arg-type]
    events = recogniser.events(target, b"step=3 loss=0.1 acc=0.9\n" * 4, 1.0)
    names = [event.name for event in events]
    assert names.count("loss") == names.count("acc") == names.count("train_loss") == 4


def test_name_equals_regex_may_name_its_value_group():
    pattern = Pattern(r"val_loss=val loss (?P<value>\S+) at (?P<step>\d+)")
    assert pattern.fields("val loss 0.25 at 7") == {"metrics": {"val_loss": 0.25}, "step": 7}


def test_a_last_line_without_a_newline_is_read_when_the_stream_ends(tmp_path):
    ws = tmp_path / "ws"
    done = tracklog_run(ws, "printf", "loss=0.5\\nloss=0.25")
    assert done.returncode == 0, done.stderr
    assert [p.value for p in only_run(ws).get_metric_history("loss")] == [0.5, 0.25]
    ingested = tmp_path / "ws2"
    done = cli(ingested, "ingest", "-", input=b"loss=0.5\nloss=0.25")
    assert done.returncode == 0, done.stderr
    assert [p.value for p in only_run(ingested).get_metric_history("loss")] == [0.5, 0.25]
