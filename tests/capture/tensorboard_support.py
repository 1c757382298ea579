"""Helpers for the TensorBoard tests: Event records built with tensorboard's own protos, framed by ours,
and the ``reader`` fixture that runs a test once with each Event decoder."""

from __future__ import annotations

import os
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.capture.capture_support import PYTHON, TIMEOUT, env
from tracklog.capture import _tb_reader
from tracklog.capture._tfrecord import OURS, Decoder, frame

event_pb2 = pytest.importorskip("tensorboard.compat.proto.event_pb2")
summary_pb2 = pytest.importorskip("tensorboard.compat.proto.summary_pb2")
tensor_pb2 = pytest.importorskip("tensorboard.compat.proto.tensor_pb2")
types_pb2 = pytest.importorskip("tensorboard.compat.proto.types_pb2")
tensor_shape_pb2 = pytest.importorskip("tensorboard.compat.proto.tensor_shape_pb2")
_tb_proto = pytest.importorskip("tracklog.capture._tb_proto")

#: A 1x1 PNG.
PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010802000000907753de"
    "0000000c4944415408d763f8cfc0000003010100c9fe92ef0000000049454e44ae426082"
)


def scalar_event(tag: str, value: float, step: int, wall_time: float | None = None) -> bytes:
    """A serialized Event with one simple_value, as torch's and tensorboardX's add_scalar write."""
    event = event_pb2.Event(wall_time=time.time() if wall_time is None else wall_time, step=step)
    event.summary.value.add(tag=tag, simple_value=value)
    return event.SerializeToString()


def tensor_event(tag: str, tensor: object, step: int, plugin: str = "scalars", wall_time: float = 1.0e9) -> bytes:
    """A serialized Event with one tensor value, as TF2's tf.summary (Keras) writes them."""
    event = event_pb2.Event(wall_time=wall_time, step=step)
    value = event.summary.value.add(tag=tag)
    value.tensor.CopyFrom(tensor)
    value.metadata.plugin_data.plugin_name = plugin
    return event.SerializeToString()


def file_version() -> bytes:
    return event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()


def write_events(path: Path, records: list[bytes], mode: str = "wb") -> bytes:
    """Frame ``records`` into the event file ``path``; the bytes written."""
    data = b"".join(frame(r) for r in records)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, mode) as out:
        out.write(data)
    return data


def scalar_tensor(dtype: int, content: bytes | None = None, **vals: list[object]) -> object:
    """A 0-d TensorProto of ``dtype`` holding its number in tensor_content or a *_val field."""
    tensor = tensor_pb2.TensorProto(dtype=dtype, tensor_shape=tensor_shape_pb2.TensorShapeProto())
    if content is not None:
        tensor.tensor_content = content
    for field, values in vals.items():
        getattr(tensor, field).extend(values)
    return tensor


def half_bits(value: float) -> int:
    return struct.unpack("<H", struct.pack("<e", value))[0]


#: The two Event decoders: ours, and the tensorboard package's generated protobuf.
READERS = ("tracklog", "tensorboard")


def decoder_named(name: str) -> Decoder:
    """The decoder itself, not through the choice."""
    return OURS if name == "tracklog" else _tb_proto.DECODER


@pytest.fixture(params=READERS)
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Each decoder in turn: chosen through TRACKLOG_TENSORBOARD_READER (pass ``reader_env`` to children)."""
    monkeypatch.setenv(_tb_reader.ENV_READER, request.param)
    _tb_reader.reset()
    yield request.param
    chosen = vars(_tb_reader).get("decoder")
    _tb_reader.reset()
    assert chosen is None or chosen.name == request.param, f"read with {chosen.name}, not {request.param}"


def reader_env() -> dict[str, str]:
    """The variable the ``reader`` fixture set, for a child (children get no TRACKLOG_* otherwise)."""
    chosen = os.environ.get(_tb_reader.ENV_READER)
    return {_tb_reader.ENV_READER: chosen} if chosen else {}


#: What a child warns when the forced tensorboard decoder cannot load: a dual-decoder
#: test that sees it did not test the official decoder.
FALLBACK_WARNING = "Event protobuf could not be loaded"


def tb_cli(ws: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    """``python -m tracklog --workspace WS ARGS``, reading event files with the ``reader`` fixture's decoder."""
    argv = [PYTHON, "-m", "tracklog", "--workspace", str(ws), *args]
    done = subprocess.run(
        argv, check=False, env=env(**reader_env()), capture_output=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    assert FALLBACK_WARNING.encode() not in done.stderr, done.stderr.decode()
    return done
