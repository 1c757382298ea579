"""Sources from processes: in-process tee and fd capture, child processes
(``tracklog run``), ``tracklog ingest``, TensorBoard event files, and zero-change logging capture.

Ingest's line decoders (``_ingest``, ``_formats``) load with the first of their names that is
used (PEP 562 below), not with ``tracklog run``, which never needs them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._follow import FollowedFile
from ._format_names import FORMATS
from ._process import (
    ChildProcess,
    child_env,
    collect_outputs,
    default_run_name,
    outputs_snapshot,
    signal_name,
)
from ._recognise import MetricRules, Recogniser
from ._recorder import OutputRecorder
from ._tensorboard import (
    TensorBoardSync,
    TensorBoardWatcher,
    find_event_files,
    find_synced_run,
    ingest_tensorboard,
    read_by_others,
)
from ._stream import OutputCapture, capture_output

if TYPE_CHECKING:
    from ._ingest import IngestResult, decompressed, ingest_lines, ingest_stream, split_timestamp

__all__ = [
    "FORMATS",
    "ChildProcess",
    "FollowedFile",
    "IngestResult",
    "MetricRules",
    "OutputCapture",
    "OutputRecorder",
    "Recogniser",
    "TensorBoardSync",
    "TensorBoardWatcher",
    "capture_output",
    "child_env",
    "collect_outputs",
    "decompressed",
    "default_run_name",
    "find_event_files",
    "find_synced_run",
    "ingest_lines",
    "ingest_stream",
    "ingest_tensorboard",
    "outputs_snapshot",
    "read_by_others",
    "signal_name",
    "split_timestamp",
]

#: The names of ``tracklog ingest``'s reader, loaded on first use.
_INGEST_NAMES = ("IngestResult", "decompressed", "ingest_lines", "ingest_stream", "split_timestamp")


def __getattr__(name: str) -> Any:
    """Ingest's names, imported on first use (``tracklog run`` never reads a container log)."""
    if name not in _INGEST_NAMES:
        raise AttributeError(f"module 'tracklog.capture' has no attribute {name!r}")
    from . import _ingest

    value = getattr(_ingest, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
