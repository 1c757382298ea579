"""The std_log.txt format: raw bytes under a per-line header, read back and viewed."""

from __future__ import annotations

from tracklog._output_format import (
    StdLogView,
    collapse_redraws,
    encode_output,
    read_output,
)
from tracklog.capture._recorder import MAX_PENDING, OutputRecorder, json_lines
from tracklog.pipeline.event import OUTPUT, Event

TS = 1795480468.123456


def _event(data: bytes, stream: str = "stdout") -> Event:
    return Event("r", OUTPUT, "std_log.txt", data, None, TS, 0, stream)


def test_a_chunk_of_lines_gets_one_header_per_line_and_keeps_the_bytes():
    encoded = encode_output(_event(b"one\n\xff two\n"), None)
    assert encoded == (
        b"2026-11-24T00:34:28.123456Z stdout | one\n"
        b"2026-11-24T00:34:28.123456Z stdout | \xff two\n"
    )


def test_a_trailing_piece_without_newline_is_marked_partial_and_joined_on_reading():
    first = encode_output(_event(b"a\nhalf "), 2)
    second = encode_output(_event(b"done\n"), 2)
    assert first.endswith(b"stdout rank=2 partial | half \n")
    lines = list(read_output((first + second).splitlines(keepends=True)))
    assert [(l.data, l.rank, l.complete) for l in lines] == [(b"a", 2, True), (b"half done", 2, True)]


def test_pieces_of_different_streams_do_not_mix():
    raw = (
        encode_output(_event(b"out-", "stdout"), None)
        + encode_output(_event(b"err line\n", "stderr"), None)
        + encode_output(_event(b"rest\n", "stdout"), None)
    )
    lines = list(read_output(raw.splitlines(keepends=True)))
    assert [(l.stream, l.data) for l in lines] == [("stderr", b"err line"), ("stdout", b"out-rest")]


def test_redraws_collapse_to_the_last_drawn_state():
    assert collapse_redraws("\r 10%|#   |\r 50%|##  |\r100%|####|") == "100%|####|"
    assert collapse_redraws("windows line\r") == "windows line"
    assert collapse_redraws("done\r\r") == "done"
    assert collapse_redraws("plain") == "plain"


def test_the_view_filters_streams_and_shows_foreign_lines_as_they_are():
    view = StdLogView(streams=["stderr"])
    shown = view.feed(encode_output(_event(b"x\n", "stdout"), None))
    shown += view.feed(encode_output(_event(b"\rbar 1\rbar 2\n", "stderr"), None))
    assert shown == ["2026-11-24T00:34:28.123456Z stderr | bar 2"]
    assert StdLogView().feed(b"hand-written note\n") == ["hand-written note"]


def test_only_lines_starting_with_a_brace_are_json_candidates():
    block = b'{"a": 1}\nplain {"b": 2}\n{"c": 3}\n'
    assert list(json_lines(block)) == [b'{"a": 1}', b'{"c": 3}']
    assert list(json_lines(b"x\ny\n")) == []


def test_the_recorder_splits_lines_across_any_chunking(run):
    recorder = OutputRecorder(run, "stdout")
    data = b"alpha\nbe" + b"ta\ngam" + b"ma\n"
    for i in range(0, len(data), 3):
        recorder.feed(data[i : i + 3])
    recorder.close()
    run.flush()
    lines = list(read_output(run.workspace.store.iter_log_lines(run.id, "std_log.txt")))
    assert [l.data for l in lines] == [b"alpha", b"beta", b"gamma"]


def test_a_line_longer_than_the_limit_is_recorded_in_pieces_that_read_back_whole(run):
    recorder = OutputRecorder(run, "stdout")
    big = b"y" * (MAX_PENDING + 10)
    for i in range(0, len(big), 1 << 20):
        recorder.feed(big[i : i + (1 << 20)])
    recorder.feed(b"\n")
    run.flush()
    raw = list(run.workspace.store.iter_log_lines(run.id, "std_log.txt"))
    assert len(raw) == 2 and b" partial | " in raw[0]
    (line,) = read_output(raw)
    assert line.data == big and line.complete
