"""Sources from processes: in-process tee and fd capture, child processes
(``tracklog run``), ``tracklog ingest``, TensorBoard event files, and zero-change logging capture."""

from __future__ import annotations

from ._follow import FollowedFile
from ._formats import FORMATS
from ._ingest import IngestResult, ingest_lines, ingest_stream, split_timestamp
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
from ._tensorboard import TensorBoardSync, TensorBoardWatcher, find_synced_run, ingest_tensorboard
from ._stream import OutputCapture, capture_output

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
    "default_run_name",
    "find_synced_run",
    "ingest_lines",
    "ingest_stream",
    "ingest_tensorboard",
    "outputs_snapshot",
    "signal_name",
    "split_timestamp",
]
