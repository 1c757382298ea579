"""Which decoder reads Events: the ``tensorboard`` package's protobuf when it imports, else ours.

``decoder`` is chosen the first time it is asked for (PEP 562 ``__getattr__``), that
is when the first event file is read, so that ``import tracklog`` and ``tracklog run``
load no protobuf. ``TRACKLOG_TENSORBOARD_READER`` overrides the choice: ``tracklog``
always uses ours, ``tensorboard`` asks for tensorboard's (ours, with one warning, when
it cannot import), unset or ``auto`` picks tensorboard's when installed. The framing
(:class:`~._tfrecord.RecordReader`) is ours either way.
"""

from __future__ import annotations

import os
from typing import Any

from .. import _diag
from ._tfrecord import OURS, Decoder

#: The environment variable that forces one decoder (``tracklog``, ``tensorboard``, ``auto``).
ENV_READER = "TRACKLOG_TENSORBOARD_READER"
_CHOICES = ("auto", "tensorboard", "tracklog")

__all__ = ["ENV_READER", "decoder"]

decoder: Decoder  # set by __getattr__ on first use


def __getattr__(name: str) -> Any:
    """``decoder`` on first use: importing tensorboard's protos takes 0.03 to 0.1 s."""
    if name != "decoder":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    wanted = os.environ.get(ENV_READER, "").strip().lower() or "auto"
    if wanted not in _CHOICES:
        _diag.warn_once(
            ("tensorboard-reader", wanted),
            "tracklog: %s=%s is not one of %s; choosing the reader as for auto",
            ENV_READER, wanted, ", ".join(_CHOICES),
        )
        wanted = "auto"
    chosen = OURS
    if wanted != "tracklog":
        try:
            from . import _tb_proto
        except ImportError as exc:
            if wanted == "tensorboard" or not _not_installed(exc):
                _warn_fallback(exc)
        except Exception as exc:  # noqa: BLE001  a broken install (a protobuf its generated code refuses): ours reads on
            _warn_fallback(exc)
        else:
            chosen = _tb_proto.DECODER
    globals()["decoder"] = chosen
    return chosen


def _not_installed(exc: ImportError) -> bool:
    """True when tensorboard (or protobuf) is simply absent: the normal case, not worth a warning."""
    return isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] in ("tensorboard", "google")


def _warn_fallback(exc: BaseException) -> None:
    _diag.warn_once(
        "tensorboard-reader-import",
        "tracklog: the tensorboard package's Event protobuf could not be loaded (%s: %s); "
        "event files are read with tracklog's own decoder",
        type(exc).__name__, exc,
    )


def reset() -> None:
    """Forget the choice, so that the next use chooses again (tests use this with ``ENV_READER``)."""
    globals().pop("decoder", None)
