"""TFRecord framing and the few Event protobuf fields tracklog reads: no TensorFlow, no tensorboard.

A TFRecord is ``uint64 length``, ``masked CRC32C of the length``, ``data``,
``masked CRC32C of the data`` (little endian). :class:`RecordReader` reads one
file from a byte offset and remembers where the next record starts, so a file
still being written is read again later from there: a torn tail (a record not
yet whole) is left for the next read; a record whose data fails its CRC is
skipped; a length that fails its CRC is skipped by looking for the next valid
header. Both Event decoders share this framing (tensorboard's own record reader
cannot resume at an offset; see docs/tensorboard.md).

:func:`decode_event` decodes an ``Event`` by hand (a varint walker over the
fields below): :data:`OURS`, used when the ``tensorboard`` package is not
installed (``_tb_proto`` decodes with its generated protobuf when it is;
``_tb_reader`` chooses). :func:`tensor_value` is where both read a tensor.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import BinaryIO, NamedTuple

#: Bytes read from a file at a time; a record bigger than this is read whole.
CHUNK = 8 << 20
#: A length above this (after its CRC passed) is treated as damage, not as a record to buffer.
MAX_RECORD = 1 << 30

_HEADER = 12  # uint64 length + uint32 masked CRC
_unpack_q = struct.Struct("<Q").unpack_from
_unpack_i = struct.Struct("<I").unpack_from


def _tables() -> tuple[tuple[int, ...], ...]:
    """The CRC32C (Castagnoli, reflected 0x82F63B78) tables for eight bytes at a time."""
    first = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        first.append(crc)
    tables = [tuple(first)]
    for _ in range(7):
        prev = tables[-1]
        tables.append(tuple((prev[i] >> 8) ^ first[prev[i] & 0xFF] for i in range(256)))
    return tuple(tables)


_T0, _T1, _T2, _T3, _T4, _T5, _T6, _T7 = _tables()
_pairs = struct.Struct("<II").iter_unpack


def crc32c(data: bytes | memoryview) -> int:
    """CRC32C of ``data``: pure Python, eight bytes per step (a few MB/s)."""
    crc = 0xFFFFFFFF
    if len(data) < 32:  # a length field or a small scalar Event: a plain loop costs less to set up
        t0 = _T0
        for byte in bytes(data):
            crc = t0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
        return crc ^ 0xFFFFFFFF
    t0, t1, t2, t3, t4, t5, t6, t7 = _T0, _T1, _T2, _T3, _T4, _T5, _T6, _T7
    whole = len(data) - len(data) % 8
    for low, high in _pairs(memoryview(data)[:whole]):
        low ^= crc
        crc = (
            t7[low & 0xFF] ^ t6[(low >> 8) & 0xFF] ^ t5[(low >> 16) & 0xFF] ^ t4[low >> 24]
            ^ t3[high & 0xFF] ^ t2[(high >> 8) & 0xFF] ^ t1[(high >> 16) & 0xFF] ^ t0[high >> 24]
        )
    for byte in bytes(data[whole:]):
        crc = t0[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data: bytes | memoryview) -> int:
    """The CRC as TFRecord stores it: rotated right by 15 bits plus a constant."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def frame(data: bytes) -> bytes:
    """One TFRecord holding ``data`` (tests and tools write event files with it)."""
    length = struct.pack("<Q", len(data))
    return length + struct.pack("<I", masked_crc32c(length)) + data + struct.pack("<I", masked_crc32c(data))


class RecordReader:
    """The whole, verified records of one TFRecord file, from ``offset`` on.

    ``offset`` is where the next unread record starts (persist it to resume in
    another process); ``bad_data`` and ``bad_headers`` count records skipped
    for a failed data CRC and headers skipped for a failed length CRC.
    """

    def __init__(self, path: str, offset: int = 0) -> None:
        self.path = path
        self.offset = offset
        self.bad_data = 0
        self.bad_headers = 0

    def records(self) -> Iterator[bytes]:
        """Each new whole record's data; stops at the end or at a torn tail (read again later)."""
        try:
            stream = open(self.path, "rb")
        except OSError:
            return
        with stream:
            yield from self._records(stream)

    def _records(self, stream: BinaryIO) -> Iterator[bytes]:
        try:
            size = os.fstat(stream.fileno()).st_size
        except OSError:
            return
        if size < self.offset:  # the file was replaced by a shorter one: start it again
            self.offset = 0
        base = self.offset  # the file offset of buf[0]
        stream.seek(base)
        buf = stream.read(min(CHUNK, size - base))
        pos = 0
        while True:
            if len(buf) - pos < _HEADER:
                if base + len(buf) >= size:
                    return  # the end, or a torn header
                buf, base, pos = buf[pos:] + stream.read(CHUNK), base + pos, 0
                continue
            length = _unpack_q(buf, pos)[0]
            if _unpack_i(buf, pos + 8)[0] != masked_crc32c(buf[pos : pos + 8]) or length > MAX_RECORD:
                self.bad_headers += 1
                found = _next_header(buf, pos + 1)
                if found < 0:  # none in what we hold: resume where a header could still start
                    pos = max(pos + 1, len(buf) - _HEADER + 1)
                    self.offset = base + pos
                    if base + len(buf) >= size:
                        return
                    buf, base, pos = buf[pos:] + stream.read(CHUNK), base + pos, 0
                    continue
                pos = found
                self.offset = base + pos
                continue
            end = pos + _HEADER + length + 4
            if end > len(buf):
                if base + pos + _HEADER + length + 4 > size:
                    return  # a torn tail: the writer has not finished this record
                buf, base, pos = buf[pos:] + stream.read(max(CHUNK, end - len(buf))), base + pos, 0
                continue
            data = buf[pos + _HEADER : end - 4]
            pos = end
            self.offset = base + pos
            if _unpack_i(buf, end - 4)[0] != masked_crc32c(data):
                self.bad_data += 1
                continue
            yield data


def _next_header(buf: bytes, start: int) -> int:
    """The first position from ``start`` where a valid TFRecord header begins, or -1."""
    last = len(buf) - _HEADER
    pos = start
    while pos <= last:
        if not any(buf[pos : pos + _HEADER]):  # zeros (a hole, a zero-filled tail) are never a header
            nonzero = next((i for i in range(pos, len(buf)) if buf[i]), -1)
            if nonzero < 0:
                return -1
            pos = max(pos + 1, nonzero - 11)
            continue
        length = _unpack_q(buf, pos)[0]
        if length <= MAX_RECORD and _unpack_i(buf, pos + 8)[0] == masked_crc32c(buf[pos : pos + 8]):
            return pos
        pos += 1
    return -1


# -- the Event protobuf ------------------------------------------------------------------

#: What a summary value holds, as tracklog reads it.
SCALAR = "scalar"
TEXT = "text"
IMAGE = "image"


class SummaryValue(NamedTuple):
    """One value of an Event's summary: a number (SCALAR), a str (TEXT), or a list of encoded images (IMAGE)."""

    tag: str
    kind: str
    value: object


class TBEvent(NamedTuple):
    """What tracklog reads of one Event: its time, its step and its summary values."""

    wall_time: float
    step: int
    values: list[SummaryValue]


class DecodeError(ValueError):
    """A record that is not a well-formed Event protobuf."""


class Decoder(NamedTuple):
    """An Event decoder: its name (``tracklog`` or ``tensorboard``) and ``decode``, which raises :class:`DecodeError`."""

    name: str
    decode: Callable[[bytes], TBEvent]


def _varint(buf: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        if pos >= len(buf):
            raise DecodeError("a varint runs past the end")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise DecodeError("a varint is too long")


def _fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value): an int for varints, bytes for the rest."""
    pos, end = 0, len(buf)
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(buf, pos)
            yield number, wire, value
        elif wire == 1:
            if pos + 8 > end:
                raise DecodeError("a fixed64 runs past the end")
            yield number, wire, buf[pos : pos + 8]
            pos += 8
        elif wire == 2:
            length, pos = _varint(buf, pos)
            if pos + length > end:
                raise DecodeError("a field runs past the end")
            yield number, wire, buf[pos : pos + length]
            pos += length
        elif wire == 5:
            if pos + 4 > end:
                raise DecodeError("a fixed32 runs past the end")
            yield number, wire, buf[pos : pos + 4]
            pos += 4
        else:
            raise DecodeError(f"wire type {wire} is not read")


def _signed(value: int) -> int:
    return value - (1 << 64) if value >= 1 << 63 else value


def _text(raw: object) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else ""


def decode_event(data: bytes) -> TBEvent:
    """The wall time, step and readable summary values of one serialized Event."""
    fast = _simple_scalars(data)
    if fast is not None:
        return fast
    wall_time, step, values = 0.0, 0, []
    for number, wire, raw in _fields(data):
        if number == 1 and wire == 1:
            wall_time = struct.unpack("<d", raw)[0]  # type: ignore[arg-type]
        elif number == 2 and wire == 0:
            step = _signed(raw)  # type: ignore[arg-type]
        elif number == 5 and wire == 2:
            for v_number, v_wire, v_raw in _fields(raw):  # type: ignore[arg-type]
                if v_number == 1 and v_wire == 2:
                    value = _summary_value(v_raw)  # type: ignore[arg-type]
                    if value is not None:
                        values.append(value)
    return TBEvent(wall_time, step, values)


_unpack_d = struct.Struct("<d").unpack_from
_unpack_f = struct.Struct("<f").unpack_from


def _simple_scalars(data: bytes) -> TBEvent | None:
    """The commonest Event (wall_time, step, summary of tag + simple_value pairs) read in one
    pass without the field walker; None for any other shape (the walker reads those)."""
    try:
        if data[0] != 0x09 or data[9] != 0x10:
            return None
        wall_time = _unpack_d(data, 1)[0]
        step, pos = _varint(data, 10)
        if data[pos] != 0x2A:
            return None
        length, pos = _varint(data, pos + 1)
        if pos + length != len(data):
            return None
        values = []
        while pos < len(data):
            if data[pos] != 0x0A:
                return None
            length, pos = _varint(data, pos + 1)
            end = pos + length
            if data[pos] != 0x0A:
                return None
            tag_length, pos = _varint(data, pos + 1)
            tag_end = pos + tag_length
            if tag_end + 5 != end or data[tag_end] != 0x15:
                return None
            values.append(SummaryValue(data[pos:tag_end].decode("utf-8", "replace"), SCALAR, _unpack_f(data, tag_end + 1)[0]))
            pos = end
        return TBEvent(wall_time, _signed(step), values) if values else None
    except (IndexError, struct.error, DecodeError):
        return None


def _summary_value(data: bytes) -> SummaryValue | None:
    tag, simple, image, tensor, plugin = "", None, None, None, ""
    for number, wire, raw in _fields(data):
        if number == 1 and wire == 2:
            tag = _text(raw)
        elif number == 2 and wire == 5:
            simple = struct.unpack("<f", raw)[0]  # type: ignore[arg-type]
        elif number == 4 and wire == 2:
            image = raw
        elif number == 8 and wire == 2:
            tensor = raw
        elif number == 9 and wire == 2:
            plugin = _plugin_name(raw)  # type: ignore[arg-type]
    if simple is not None:
        return SummaryValue(tag, SCALAR, simple)
    if image is not None:
        encoded = [raw for number, wire, raw in _fields(image) if number == 4 and wire == 2]  # type: ignore[arg-type]
        return SummaryValue(tag, IMAGE, encoded) if encoded else None
    if tensor is None:
        return None
    return tensor_value(tag, plugin, *_tensor(tensor))  # type: ignore[arg-type]


def tensor_value(
    tag: str,
    plugin: str,
    dtype: int,
    elements: int,
    content: bytes | None,
    numbers: Mapping[int, Sequence[float | int]],
    strings: Sequence[bytes],
) -> SummaryValue | None:
    """What a tensor-backed summary value holds, by its plugin: text, images, or one number.

    Both decoders end here, so that which tensors count and how their numbers read is
    decided once. ``numbers`` are the TensorProto's ``*_val`` fields by field number.
    """
    if plugin == "text":
        return SummaryValue(tag, TEXT, "\n".join(_text(s) for s in strings)) if strings else None
    if plugin == "images":
        # tf.summary.image: [width, height, image, image, ...] as strings
        return SummaryValue(tag, IMAGE, list(strings[2:])) if len(strings) > 2 else None
    if plugin not in ("scalars", "") or elements != 1:
        return None
    number = _scalar(dtype, content, numbers)
    return None if number is None else SummaryValue(tag, SCALAR, number)


def _plugin_name(metadata: bytes) -> str:
    for number, wire, raw in _fields(metadata):
        if number == 1 and wire == 2:  # plugin_data
            for p_number, p_wire, p_raw in _fields(raw):  # type: ignore[arg-type]
                if p_number == 1 and p_wire == 2:
                    return _text(p_raw)
    return ""


# DataType values and how one element of tensor_content reads.
_CONTENT = {1: "<f", 2: "<d", 3: "<i", 4: "<B", 5: "<h", 6: "<b", 9: "<q", 10: "<?", 17: "<H", 19: "<e", 22: "<I", 23: "<Q"}
_BFLOAT16 = 14
_FLOAT_TYPES = (1, 2, 14, 19)


def _tensor(data: bytes) -> tuple[int, int, bytes | None, dict[int, list[float | int]], list[bytes]]:
    """(dtype, element count, tensor_content, the *_val numbers by field, string_val) of a TensorProto."""
    dtype, elements, content = 0, 1, None
    numbers: dict[int, list[float | int]] = {}
    strings: list[bytes] = []
    for number, wire, raw in _fields(data):
        if number == 1 and wire == 0:
            dtype = raw  # type: ignore[assignment]
        elif number == 2 and wire == 2:
            elements = _elements(raw)  # type: ignore[arg-type]
        elif number == 4 and wire == 2:
            content = raw  # type: ignore[assignment]
        elif number == 8 and wire == 2:
            strings.append(raw)  # type: ignore[arg-type]
        elif number in (5, 6, 7, 10, 11, 13, 16, 17):
            numbers.setdefault(number, []).extend(_repeated(number, wire, raw))
    return dtype, elements, content, numbers, strings


def _elements(shape: bytes) -> int:
    count = 1
    for number, wire, raw in _fields(shape):
        if number == 2 and wire == 2:  # dim
            for d_number, d_wire, d_raw in _fields(raw):  # type: ignore[arg-type]
                if d_number == 1 and d_wire == 0:
                    count *= _signed(d_raw)  # type: ignore[arg-type]
    return count


def _repeated(number: int, wire: int, raw: object) -> list[float | int]:
    """The numbers of one float_val/double_val/int_val/... field, packed or not."""
    if number == 5:  # float_val
        fmt = "<f"
    elif number == 6:  # double_val
        fmt = "<d"
    else:
        if wire == 0:
            values = [raw]
        else:
            values, pos = [], 0
            while pos < len(raw):  # type: ignore[arg-type]
                value, pos = _varint(raw, pos)  # type: ignore[arg-type]
                values.append(value)
        if number in (7, 10):
            values = [_signed(v) for v in values]  # type: ignore[arg-type]
        if number == 11:
            return [int(bool(v)) for v in values]
        return values  # type: ignore[return-value]
    size = struct.calcsize(fmt)
    blob = raw if isinstance(raw, bytes) else b""
    return [v[0] for v in struct.iter_unpack(fmt, blob[: len(blob) - len(blob) % size])]


#: The *_val field each DataType's values travel in (half and bfloat16: their bits in half_val).
_VAL_FIELD = {1: 5, 2: 6, 3: 7, 4: 7, 5: 7, 6: 7, 17: 7, 9: 10, 10: 11, 14: 13, 19: 13, 22: 16, 23: 17}


def _scalar(dtype: int, content: bytes | None, numbers: Mapping[int, Sequence[float | int]]) -> float | int | None:
    """The one number of a scalar tensor, as a float for float types and an int otherwise."""
    value: float | int
    if content:
        if dtype == _BFLOAT16 and len(content) == 2:
            value = struct.unpack("<f", b"\x00\x00" + content)[0]
        elif dtype in _CONTENT and len(content) == struct.calcsize(_CONTENT[dtype]):
            value = struct.unpack(_CONTENT[dtype], content)[0]
        else:
            return None
    else:
        found = numbers.get(_VAL_FIELD.get(dtype, 0))
        if not found:
            return None
        value = found[0]
        if dtype == _BFLOAT16:
            value = struct.unpack("<f", struct.pack("<I", (int(value) & 0xFFFF) << 16))[0]
        elif dtype == 19:
            value = struct.unpack("<e", struct.pack("<H", int(value) & 0xFFFF))[0]
    if isinstance(value, bool):
        return int(value)
    return float(value) if dtype in _FLOAT_TYPES else value


#: Our decoder: the one used without the ``tensorboard`` package.
OURS = Decoder("tracklog", decode_event)
