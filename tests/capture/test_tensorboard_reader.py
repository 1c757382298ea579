"""The TFRecord reader and the two Event decoders (ours, and tensorboard's generated protobuf):
framing, CRCs, torn tails, the value shapes writers use, and which decoder is chosen when."""

from __future__ import annotations

import logging
import math
import os
import struct
import subprocess

import pytest

from tests.capture.capture_support import PYTHON, TIMEOUT, env, runs
from tests.capture.tensorboard_support import (
    PNG,
    READERS,
    decoder_named,
    event_pb2,
    file_version,
    half_bits,
    scalar_event,
    scalar_tensor,
    summary_pb2,
    tensor_event,
    types_pb2,
    write_events,
)
from tracklog import _diag
from tracklog.capture import _tb_reader
from tracklog.capture._tfrecord import (
    IMAGE,
    OURS,
    SCALAR,
    TEXT,
    DecodeError,
    Decoder,
    RecordReader,
    crc32c,
    frame,
    masked_crc32c,
)


@pytest.fixture(params=READERS)
def decoder(request: pytest.FixtureRequest) -> Decoder:
    """Each Event decoder, called directly."""
    return decoder_named(request.param)


def test_crc32c_matches_the_castagnoli_check_value_and_tensorboards_own():
    """The CRC is CRC32C (check value of '123456789'), equal to tensorboard's stub on every length."""
    reference = pytest.importorskip("tensorboard.compat.tensorflow_stub.pywrap_tensorflow")
    assert crc32c(b"123456789") == 0xE3069283
    for size in (0, 1, 7, 8, 9, 15, 16, 17, 100, 4099):
        data = os.urandom(size)
        assert crc32c(data) == reference.crc32c(data)
        assert masked_crc32c(data) == reference.masked_crc32c(data)


def test_records_are_read_in_order_and_the_offset_is_the_end_of_the_last(tmp_path):
    path = tmp_path / "events.out.tfevents.1"
    data = write_events(path, [b"one", b"", b"three" * 1000])
    reader = RecordReader(str(path))
    assert list(reader.records()) == [b"one", b"", b"three" * 1000]
    assert reader.offset == len(data)
    assert list(reader.records()) == []  # nothing new


def test_a_torn_tail_is_left_for_the_next_read_and_read_once_whole(tmp_path):
    """A record the writer has not finished stops the read at its start; once whole it is read."""
    path = tmp_path / "events.out.tfevents.1"
    first = frame(b"first")
    second = frame(b"second record")
    for cut in range(1, len(second)):  # every place a write can be torn: header, data, data CRC
        path.write_bytes(first + second[:cut])
        reader = RecordReader(str(path))
        assert list(reader.records()) == [b"first"]
        assert reader.offset == len(first)
        with open(path, "ab") as out:
            out.write(second[cut:])
        assert list(reader.records()) == [b"second record"]
        assert reader.offset == len(first) + len(second)
        assert reader.bad_data == reader.bad_headers == 0


def test_a_record_whose_data_fails_its_crc_is_skipped_and_the_next_is_read(tmp_path):
    path = tmp_path / "events.out.tfevents.1"
    records = [frame(b"good one"), bytearray(frame(b"damaged!")), frame(b"good two")]
    records[1][14] ^= 0xFF  # a byte of the data
    path.write_bytes(b"".join(records))
    reader = RecordReader(str(path))
    assert list(reader.records()) == [b"good one", b"good two"]
    assert reader.bad_data == 1


def test_a_length_that_fails_its_crc_is_passed_over_to_the_next_valid_record(tmp_path):
    path = tmp_path / "events.out.tfevents.1"
    damaged = bytearray(frame(b"lost"))
    damaged[2] ^= 0x40  # the length: no telling where this record ends
    path.write_bytes(frame(b"before") + bytes(damaged) + b"\x00" * 64 + frame(b"after"))
    reader = RecordReader(str(path))
    assert list(reader.records()) == [b"before", b"after"]
    assert reader.bad_headers == 1
    assert reader.offset == path.stat().st_size


def test_records_bigger_than_a_read_chunk_are_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr("tracklog.capture._tfrecord.CHUNK", 100)
    path = tmp_path / "events.out.tfevents.1"
    records = [os.urandom(n) for n in (10, 250, 99, 1000, 3)]
    write_events(path, records)
    assert list(RecordReader(str(path)).records()) == records


def test_reading_resumes_from_a_saved_offset(tmp_path):
    path = tmp_path / "events.out.tfevents.1"
    write_events(path, [b"a", b"b"])
    offset = RecordReader(str(path))
    list(offset.records())
    write_events(path, [b"c"], mode="ab")
    assert list(RecordReader(str(path), offset.offset).records()) == [b"c"]


def test_simple_values_decode_with_their_step_and_wall_time(decoder):
    event = decoder.decode(scalar_event("Loss/train", 0.25, 41, wall_time=1_700_000_000.5))
    assert (event.wall_time, event.step) == (1_700_000_000.5, 41)
    assert [tuple(v) for v in event.values] == [("Loss/train", SCALAR, 0.25)]
    assert decoder.decode(file_version()).values == []


@pytest.mark.parametrize(
    ("dtype", "content", "vals", "expected"),
    [
        ("DT_FLOAT", struct.pack("<f", 0.5), {}, 0.5),
        ("DT_FLOAT", None, {"float_val": [0.75]}, 0.75),
        ("DT_DOUBLE", struct.pack("<d", 0.1), {}, 0.1),
        ("DT_DOUBLE", None, {"double_val": [0.1]}, 0.1),
        ("DT_INT32", None, {"int_val": [-3]}, -3),
        ("DT_INT64", struct.pack("<q", -(2**40)), {}, -(2**40)),
        ("DT_INT64", None, {"int64_val": [2**40]}, 2**40),
        ("DT_HALF", None, {"half_val": [half_bits(1.5)]}, 1.5),
        ("DT_BFLOAT16", struct.pack("<f", 2.0)[2:], {}, 2.0),
        ("DT_BOOL", None, {"bool_val": [True]}, 1),
    ],
)
def test_scalar_tensors_decode_as_tf2_and_keras_write_them(decoder, dtype, content, vals, expected):
    tensor = scalar_tensor(getattr(types_pb2, dtype), content, **vals)
    (value,) = decoder.decode(tensor_event("epoch_loss", tensor, 3)).values
    assert value.kind == SCALAR and value.value == expected and type(value.value) is type(expected)


def test_tensors_that_are_not_one_number_are_not_scalars(decoder):
    tensor = scalar_tensor(types_pb2.DT_FLOAT, float_val=[1.0, 2.0])
    tensor.tensor_shape.dim.add(size=2)
    assert decoder.decode(tensor_event("weights", tensor, 0)).values == []
    histogram = scalar_tensor(types_pb2.DT_DOUBLE, double_val=[1.0])
    assert decoder.decode(tensor_event("h", histogram, 0, plugin="histograms")).values == []


def test_text_tensors_and_both_image_shapes_decode(decoder):
    text = scalar_tensor(types_pb2.DT_STRING, string_val=[b"hello", b"world"])
    assert tuple(decoder.decode(tensor_event("notes", text, 1, plugin="text")).values[0]) == (
        "notes", TEXT, "hello\nworld",
    )
    tf2_images = scalar_tensor(types_pb2.DT_STRING, string_val=[b"1", b"1", PNG, PNG])
    assert tuple(decoder.decode(tensor_event("samples", tf2_images, 2, plugin="images")).values[0]) == (
        "samples", IMAGE, [PNG, PNG],
    )
    event = event_pb2.Event(wall_time=1.0, step=3)
    event.summary.value.add(tag="img", image=summary_pb2.Summary.Image(height=1, width=1, encoded_image_string=PNG))
    assert tuple(decoder.decode(event.SerializeToString()).values[0]) == ("img", IMAGE, [PNG])


def test_real_writers_files_decode_as_tensorboards_own_protos_read_them(tmp_path, decoder):
    """Every record of a tensorboardX file: the decoder and the fields of tensorboard's event_pb2 agree."""
    tensorboardX = pytest.importorskip("tensorboardX")
    numpy = pytest.importorskip("numpy")
    writer = tensorboardX.SummaryWriter(str(tmp_path / "tbx"))
    for step in range(5):
        writer.add_scalar("loss", 1.0 / (step + 1), step)
    writer.add_text("note", "some *text*", 2)
    writer.add_image("img", numpy.zeros((3, 4, 4), dtype=numpy.uint8), 3)
    writer.close()
    (path,) = (tmp_path / "tbx").glob("*tfevents*")
    seen = 0
    for record in RecordReader(str(path)).records():
        ours = decoder.decode(record)
        theirs = event_pb2.Event.FromString(record)
        assert (ours.wall_time, ours.step) == (theirs.wall_time, theirs.step)
        expected = []
        for value in theirs.summary.value:
            if value.HasField("simple_value"):
                expected.append((value.tag, SCALAR, value.simple_value))
            elif value.HasField("image"):
                expected.append((value.tag, IMAGE, [value.image.encoded_image_string]))
            elif value.metadata.plugin_data.plugin_name == "text":
                expected.append((value.tag, TEXT, value.tensor.string_val[0].decode()))
        assert [tuple(v) for v in ours.values] == expected
        seen += len(expected)
    assert seen == 7


@pytest.mark.parametrize("step", [0, 1, 300, 2**40, -5])
@pytest.mark.parametrize("tags", [("loss",), ("Loss/train", "accuracy", "lr"), ("verlust_ä",)])
def test_scalar_events_of_every_shape_decode_as_tensorboards_protos_do(decoder, step, tags):
    """The one-pass reading of the commonest Event agrees with event_pb2 (step 0 is left out by writers)."""
    event = event_pb2.Event(wall_time=1_790_000_000.25, step=step)
    for index, tag in enumerate(tags):
        event.summary.value.add(tag=tag, simple_value=0.5 + index)
    ours = decoder.decode(event.SerializeToString())
    assert (ours.wall_time, ours.step) == (1_790_000_000.25, step)
    assert [tuple(v) for v in ours.values] == [(tag, SCALAR, 0.5 + i) for i, tag in enumerate(tags)]


_KERAS_NUMBERS = (0.1, 1.0 / 3.0, -2.5, 65504.0, 6e-8, 1e300, -0.0, math.inf, math.nan)


@pytest.mark.parametrize("number", _KERAS_NUMBERS, ids=repr)
@pytest.mark.parametrize(
    "form",
    ["float64 tensor_content", "float64 double_val", "float16 tensor_content", "float16 half_val",
     "float32 tensor_content", "float32 float_val"],
)
def test_keras_style_tensor_scalars_read_as_tensorboards_make_ndarray_reads_them(decoder, form, number):
    """float64 and float16 scalars, in tensor_content or their *_val field: the point TensorBoard shows."""
    tensor_util = pytest.importorskip("tensorboard.util.tensor_util")
    width, field = form.split()
    fmt = {"float64": "<d", "float32": "<f", "float16": "<e"}[width]
    dtype = {"float64": types_pb2.DT_DOUBLE, "float32": types_pb2.DT_FLOAT, "float16": types_pb2.DT_HALF}[width]
    try:
        packed = struct.pack(fmt, number)
    except OverflowError:  # 1e300 has no float16 or float32: a writer would have written inf
        packed = struct.pack(fmt, math.copysign(math.inf, number))
    if field == "tensor_content":
        tensor = scalar_tensor(dtype, packed)
    elif width == "float16":
        tensor = scalar_tensor(dtype, half_val=[struct.unpack("<H", packed)[0]])
    else:
        tensor = scalar_tensor(dtype, **{field: [struct.unpack(fmt, packed)[0]]})
    expected = tensor_util.make_ndarray(tensor).item()
    (value,) = decoder.decode(tensor_event("epoch_loss", tensor, 4)).values
    assert value.kind == SCALAR and type(value.value) is float
    assert struct.pack("<d", value.value) == struct.pack("<d", expected)  # bit for bit: -0.0 and nan too


def _every_summary_writer(folder, torch_tb, tensorboardX, numpy):  # type: ignore[no-untyped-def]
    """Files of torch's and tensorboardX's writers with every kind of summary they write."""
    for name, module in (("torch", torch_tb), ("tbx", tensorboardX)):
        writer = module.SummaryWriter(str(folder / name))
        for step in range(3):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
            if name == "torch":  # tensorboardX writes simple_values only
                writer.add_scalar("new_style", 0.5 * step, step, new_style=True)
            writer.add_scalars("pair", {"a": step, "b": -step}, step)
            writer.add_histogram("weights", numpy.arange(10.0) * step, step)
        if name == "torch":
            writer.add_scalar("double", 0.1, 7, new_style=True, double_precision=True)
        writer.add_text("note", "some *text*", 2)
        writer.add_image("img", numpy.zeros((3, 4, 4), dtype=numpy.uint8), 3)
        writer.add_images("batch", numpy.zeros((2, 3, 4, 4), dtype=numpy.uint8), 3)
        writer.add_pr_curve("pr", numpy.array([0, 1, 1, 0]), numpy.array([0.1, 0.9, 0.8, 0.3]), 4)
        if name == "torch":  # tensorboardX's add_audio needs soundfile
            writer.add_audio("beep", numpy.zeros((1, 800), dtype=numpy.float32), 5, sample_rate=8000)
        writer.add_hparams({"lr": 0.1, "opt": "sgd"}, {"hp/acc": 0.9})
        writer.close()


def test_both_decoders_read_every_record_of_real_writers_files_alike(tmp_path):
    """torch's and tensorboardX's files, every summary kind they write: the same values from both decoders."""
    torch_tb = pytest.importorskip("torch.utils.tensorboard")
    tensorboardX = pytest.importorskip("tensorboardX")
    numpy = pytest.importorskip("numpy")
    _every_summary_writer(tmp_path, torch_tb, tensorboardX, numpy)
    official = decoder_named("tensorboard")
    kinds: set[tuple[str, str]] = set()
    records = 0
    for path in sorted(tmp_path.rglob("*tfevents*")):
        for record in RecordReader(str(path)).records():
            ours, theirs = OURS.decode(record), official.decode(record)
            assert ours == theirs, path
            kinds.update((value.kind, type(value.value).__name__) for value in ours.values)
            records += 1
    assert records > 40
    assert kinds == {(SCALAR, "float"), (TEXT, "str"), (IMAGE, "list")}


@pytest.mark.parametrize(
    "record",
    [scalar_event("loss", 0.5, 3)[:-3], b"\xff\xff\xff", b"\x0a\x05abc"],
    ids=["a cut Event", "a varint past the end", "a field past the end"],
)
def test_a_record_that_is_not_an_event_is_a_decode_error_on_both(decoder, record):
    with pytest.raises(DecodeError):
        decoder.decode(record)


def test_the_decoder_is_tensorboards_when_installed_unless_the_environment_says_otherwise(monkeypatch, caplog):
    """auto (or unset) and ``tensorboard`` choose tensorboard's protobuf; ``tracklog`` ours; a typo warns once."""
    for value, expected in (("", "tensorboard"), ("auto", "tensorboard"), ("TensorBoard", "tensorboard"),
                            ("tracklog", "tracklog")):
        monkeypatch.setenv(_tb_reader.ENV_READER, value)
        _tb_reader.reset()
        assert _tb_reader.decoder.name == expected, value
    _diag.reset_warnings()
    monkeypatch.setenv(_tb_reader.ENV_READER, "tensorflow")
    _tb_reader.reset()
    with caplog.at_level(logging.WARNING, logger="tracklog"):
        assert _tb_reader.decoder.name == "tensorboard"
    assert "TRACKLOG_TENSORBOARD_READER=tensorflow is not one of auto, tensorboard, tracklog" in caplog.text
    _tb_reader.reset()


#: ``tracklog ingest`` in an interpreter where the tensorboard package cannot be imported.
_WITHOUT_TENSORBOARD = """
import runpy, sys
sys.modules["tensorboard"] = None  # what an environment without the package gives: ModuleNotFoundError
sys.argv = ["tracklog", *sys.argv[1:]]
runpy.run_module("tracklog", run_name="__main__", alter_sys=True)
"""


@pytest.mark.parametrize(("forced", "warned"), [("auto", False), ("tensorboard", True)])
def test_without_tensorboard_our_decoder_reads_and_only_a_forced_choice_warns(tmp_path, forced, warned):
    """No tensorboard package: ours reads the points; asking for tensorboard's decoder is one warning, not a failure."""
    logdir = tmp_path / "tb"
    write_events(logdir / "events.out.tfevents.1.host", [scalar_event("loss", float(s), s) for s in range(3)])
    ws = str(tmp_path / "ws")
    argv = [PYTHON, "-c", _WITHOUT_TENSORBOARD, "--workspace", ws, "ingest", "--tensorboard", str(logdir)]
    result = subprocess.run(
        argv, check=False, env=env(TRACKLOG_TENSORBOARD_READER=forced), capture_output=True, timeout=TIMEOUT
    )
    assert result.returncode == 0, result.stderr.decode()
    stderr = result.stderr.decode()
    assert stderr.count("Event protobuf could not be loaded") == int(warned), stderr
    assert "3 points" in stderr
    (run,) = runs(tmp_path / "ws")
    assert run.get_metrics("loss") == {"loss": [0.0, 1.0, 2.0]}
