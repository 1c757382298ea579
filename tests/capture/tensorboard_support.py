"""Helpers for the TensorBoard tests: Event records built with tensorboard's own protos, framed by ours."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from tracklog.capture._tfrecord import frame

event_pb2 = pytest.importorskip("tensorboard.compat.proto.event_pb2")
summary_pb2 = pytest.importorskip("tensorboard.compat.proto.summary_pb2")
tensor_pb2 = pytest.importorskip("tensorboard.compat.proto.tensor_pb2")
types_pb2 = pytest.importorskip("tensorboard.compat.proto.types_pb2")
tensor_shape_pb2 = pytest.importorskip("tensorboard.compat.proto.tensor_shape_pb2")

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
