"""The TFRecord reader and the Event decoder: framing, CRCs, torn tails, the value shapes writers use."""

from __future__ import annotations

import os
import struct

import pytest

from tests.capture.tensorboard_support import (
    PNG,
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
from tracklog.capture._tfrecord import (
    IMAGE,
    SCALAR,
    TEXT,
    RecordReader,
    crc32c,
    decode_event,
    frame,
    masked_crc32c,
)


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


def test_simple_values_decode_with_their_step_and_wall_time():
    event = decode_event(scalar_event("Loss/train", 0.25, 41, wall_time=1_700_000_000.5))
    assert (event.wall_time, event.step) == (1_700_000_000.5, 41)
    assert [tuple(v) for v in event.values] == [("Loss/train", SCALAR, 0.25)]
    assert decode_event(file_version()).values == []


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
def test_scalar_tensors_decode_as_tf2_and_keras_write_them(dtype, content, vals, expected):
    tensor = scalar_tensor(getattr(types_pb2, dtype), content, **vals)
    (value,) = decode_event(tensor_event("epoch_loss", tensor, 3)).values
    assert value.kind == SCALAR and value.value == expected and type(value.value) is type(expected)


def test_tensors_that_are_not_one_number_are_not_scalars():
    tensor = scalar_tensor(types_pb2.DT_FLOAT, float_val=[1.0, 2.0])
    tensor.tensor_shape.dim.add(size=2)
    assert decode_event(tensor_event("weights", tensor, 0)).values == []
    histogram = scalar_tensor(types_pb2.DT_DOUBLE, double_val=[1.0])
    assert decode_event(tensor_event("h", histogram, 0, plugin="histograms")).values == []


def test_text_tensors_and_both_image_shapes_decode():
    text = scalar_tensor(types_pb2.DT_STRING, string_val=[b"hello", b"world"])
    assert tuple(decode_event(tensor_event("notes", text, 1, plugin="text")).values[0]) == (
        "notes", TEXT, "hello\nworld",
    )
    tf2_images = scalar_tensor(types_pb2.DT_STRING, string_val=[b"1", b"1", PNG, PNG])
    assert tuple(decode_event(tensor_event("samples", tf2_images, 2, plugin="images")).values[0]) == (
        "samples", IMAGE, [PNG, PNG],
    )
    event = event_pb2.Event(wall_time=1.0, step=3)
    event.summary.value.add(tag="img", image=summary_pb2.Summary.Image(height=1, width=1, encoded_image_string=PNG))
    assert tuple(decode_event(event.SerializeToString()).values[0]) == ("img", IMAGE, [PNG])


def test_real_writers_files_decode_as_tensorboards_own_protos_read_them(tmp_path):
    """Every record of a tensorboardX file: our decoder and tensorboard's event_pb2 agree."""
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
        ours = decode_event(record)
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
def test_scalar_events_of_every_shape_decode_as_tensorboards_protos_do(step, tags):
    """The one-pass reading of the commonest Event agrees with event_pb2 (step 0 is left out by writers)."""
    event = event_pb2.Event(wall_time=1_790_000_000.25, step=step)
    for index, tag in enumerate(tags):
        event.summary.value.add(tag=tag, simple_value=0.5 + index)
    ours = decode_event(event.SerializeToString())
    assert (ours.wall_time, ours.step) == (1_790_000_000.25, step)
    assert [tuple(v) for v in ours.values] == [(tag, SCALAR, 0.5 + i) for i, tag in enumerate(tags)]
