"""Events decoded with the ``tensorboard`` package's generated protobuf (``event_pb2``), when it is installed.

The schema's own parser reads every field and wire shape writers use (packed or
not, any order); what a summary value means is then decided as for our decoder,
by :func:`~._tfrecord.tensor_value`. Importing this module loads protobuf and
tensorboard's proto modules (0.03 to 0.1 s), so ``_tb_reader`` imports it when the
first event file is read, never with ``import tracklog``. No TensorFlow: only
``tensorboard.compat.proto`` is imported, which never looks for it.
"""

from __future__ import annotations

from google.protobuf.message import DecodeError as ProtoDecodeError
from tensorboard.compat.proto import event_pb2

from ._tfrecord import (
    IMAGE,
    SCALAR,
    DecodeError,
    Decoder,
    SummaryValue,
    TBEvent,
    tensor_value,
)

_from_string = event_pb2.Event.FromString


def decode_event(data: bytes) -> TBEvent:
    """The wall time, step and readable summary values of one serialized Event."""
    try:
        event = _from_string(data)
    except ProtoDecodeError as exc:
        raise DecodeError(str(exc)) from None
    values = []
    for value in event.summary.value:
        kind = value.WhichOneof("value")
        if kind == "simple_value":
            values.append(SummaryValue(value.tag, SCALAR, value.simple_value))
        elif kind == "image":
            encoded = value.image.encoded_image_string
            if encoded:
                values.append(SummaryValue(value.tag, IMAGE, [encoded]))
        elif kind == "tensor":
            found = _tensor(value)
            if found is not None:
                values.append(found)
    return TBEvent(event.wall_time, event.step, values)


def _tensor(value: object) -> SummaryValue | None:
    tensor = value.tensor  # type: ignore[attr-defined]
    elements = 1
    for dim in tensor.tensor_shape.dim:
        elements *= dim.size
    numbers = {
        5: tensor.float_val,
        6: tensor.double_val,
        7: tensor.int_val,
        10: tensor.int64_val,
        11: tensor.bool_val,
        13: tensor.half_val,
        16: tensor.uint32_val,
        17: tensor.uint64_val,
    }
    plugin = value.metadata.plugin_data.plugin_name  # type: ignore[attr-defined]
    return tensor_value(
        value.tag, plugin, tensor.dtype, elements, tensor.tensor_content or None, numbers, tensor.string_val  # type: ignore[attr-defined]
    )


#: The decoder ``_tb_reader`` picks when this module imports.
DECODER = Decoder("tensorboard", decode_event)
