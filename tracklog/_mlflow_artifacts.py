"""The bytes MLflow writes for log_dict, log_text, log_figure, log_image and log_table.

No I/O and no tracklog layer: callers store the bytes as run files. pandas, PyYAML
and Pillow are optional and loaded only when a call needs them; a numpy image
becomes a PNG without Pillow.
"""

from __future__ import annotations

import importlib
import io
import json
import posixpath
import struct
import zlib
from collections.abc import Mapping
from typing import Any

__all__ = [
    "dict_bytes",
    "figure_bytes",
    "image_bytes",
    "optional_module",
    "table_bytes",
]

_IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".gif": "GIF", ".bmp": "BMP",
                  ".tif": "TIFF", ".tiff": "TIFF", ".webp": "WEBP"}


def optional_module(name: str, purpose: str) -> Any:
    """An optional dependency, imported on first use (pandas costs ~0.5 s; most scripts never
    need it), or ModuleNotFoundError saying what needs it."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        package = {"yaml": "PyYAML", "PIL": "Pillow"}.get(name, name)
        raise ModuleNotFoundError(f"{purpose} needs {package}: pip install {package}") from exc


def dict_bytes(dictionary: Any, artifact_file: str) -> bytes:
    """As MLflow's log_dict: YAML for a .yaml/.yml file, else JSON indented by 2."""
    ext = posixpath.splitext(artifact_file)[1].lower()
    if ext in (".yaml", ".yml"):
        yaml = optional_module("yaml", f"log_dict into {artifact_file!r}")
        return str(yaml.dump(dictionary, indent=2, default_flow_style=False)).encode()
    return json.dumps(dictionary, indent=2).encode()


def figure_bytes(figure: Any, artifact_file: str, save_kwargs: Mapping[str, Any] | None = None) -> bytes:
    """A matplotlib Figure (or pyplot) saved by its file extension; a plotly figure as
    HTML (.html) or an image (write_image, which needs kaleido)."""
    ext = posixpath.splitext(artifact_file)[1].lower()
    kwargs = dict(save_kwargs or {})
    buffer = io.BytesIO()
    target = figure.gcf() if hasattr(figure, "gcf") else figure
    if hasattr(target, "savefig"):
        kwargs.setdefault("format", ext.lstrip(".") or "png")
        target.savefig(buffer, **kwargs)
        return buffer.getvalue()
    if ext == ".html" and hasattr(target, "to_html"):
        return str(target.to_html(**kwargs)).encode()
    if hasattr(target, "write_image"):
        target.write_image(buffer, format=ext.lstrip(".") or "png", **kwargs)
        return buffer.getvalue()
    raise TypeError(
        f"log_figure: unsupported figure type {type(figure).__name__}; give a matplotlib "
        "Figure or a plotly figure"
    )


def image_bytes(image: Any, artifact_file: str) -> bytes:
    """A numpy array (HxW, HxWx1/3/4; ints 0-255 or floats 0-1, as MLflow checks) or a
    PIL image, encoded by the file's extension (PNG when it has none)."""
    ext = posixpath.splitext(artifact_file)[1].lower() or ".png"
    if hasattr(image, "dtype") and hasattr(image, "shape"):
        array = _uint8(image)
        if ext == ".png":
            return _png(array)
        pil = optional_module("PIL.Image", f"log_image into {artifact_file!r} (not .png)")
        image = pil.fromarray(array)
    if hasattr(image, "save") and hasattr(image, "mode"):
        buffer = io.BytesIO()
        image.save(buffer, format=_IMAGE_FORMATS.get(ext, "PNG"))
        return buffer.getvalue()
    raise TypeError(
        f"log_image: unsupported image type {type(image).__name__}; give a numpy array or a PIL image"
    )


def _uint8(array: Any) -> Any:
    kind = array.dtype.kind
    if kind not in "biuf":
        raise TypeError(f"log_image: invalid array data type {array.dtype}; use bool, integers or floats")
    if array.ndim not in (2, 3):
        raise ValueError(f"log_image: an image must be a 2D or 3D array, got shape {array.shape}")
    if array.ndim == 3 and array.shape[2] not in (1, 3, 4):
        raise ValueError(f"log_image: invalid channel length {array.shape[2]}; must be 1, 3 or 4")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise ValueError(
                "log_image: integer pixel values out of range [0, 255] "
                f"(min {array.min()}, max {array.max()})"
            )
        return array.astype("uint8")
    array = array.astype("float64")
    if array.size and (array.min() < 0 or array.max() > 1):  # MLflow rescales, with a warning
        span = array.max() - array.min()
        array = (array - array.min()) / (span if span else 1)
    return (array * 255).astype("uint8")


def _png(array: Any) -> bytes:
    """An 8-bit PNG of a uint8 array (gray, gray+alpha, RGB or RGBA), with zlib alone."""
    height, width = array.shape[0], array.shape[1]
    channels = 1 if array.ndim == 2 else array.shape[2]
    color = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    data = array.tobytes()
    stride = width * channels
    raw = b"".join(b"\x00" + data[row * stride:(row + 1) * stride] for row in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, color, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def table_bytes(data: Any, artifact_file: str, existing: bytes | None) -> bytes:
    """As MLflow's log_table: a dict of columns or a DataFrame as pandas' ``orient="split"``
    JSON without the index, appended to the table already in the file."""
    if not artifact_file.endswith(".json"):
        raise ValueError(
            f"log_table: {artifact_file!r} must end in .json (tracklog writes JSON tables only)"
        )
    pandas = optional_module("pandas", "log_table")
    if isinstance(data, dict):
        try:
            frame = pandas.DataFrame(data)
        except ValueError:  # all scalars: one row, as MLflow does
            frame = pandas.DataFrame([data])
    elif isinstance(data, pandas.DataFrame):
        frame = data
    else:
        raise TypeError("log_table: data must be a pandas.DataFrame or a dictionary")
    if existing is not None:
        old = pandas.read_json(io.StringIO(existing.decode()), orient="split")
        frame = pandas.concat([old, frame], ignore_index=True)
    return str(frame.to_json(orient="split", index=False, date_format="iso")).encode()
