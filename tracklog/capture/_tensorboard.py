"""TensorBoard event files into runs: scalars to metrics, text to the run's log, images to files.

One run per event-file directory. The run a sync starts from holds its home
directory's files; every other directory with event files becomes a child run
of it, named by its path, and each run says which directory it holds in the tag
``tracklog.tensorboard_dir``. Each run also keeps, in the tag
``tracklog.tensorboard.offsets``, where the next unread record of each of its
files starts, so syncing again (in this process or a later ``tracklog ingest``)
adds only what is new. Points are written before their offset moves: a sync cut
short adds a record twice at worst, never loses one.

:class:`TensorBoardSync` is the work (``sync()`` as often as you like);
:class:`TensorBoardWatcher` runs it on a thread while ``tracklog run``'s child
runs; :func:`ingest_tensorboard` is ``tracklog ingest --tensorboard``. Records are
framed by our ``RecordReader`` and decoded by ``_tb_reader.decoder`` (tensorboard's
protobuf when installed, else ours), chosen when the first record is read.
"""

from __future__ import annotations

import io
import json
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, NamedTuple

from .. import _diag
from .._errors import InvalidNameError, TracklogError
from .._threads import start_thread
from .._values import UNCONVERTIBLE, check_name, point_value
from ..pipeline.event import IMAGE as IMAGE_KIND
from ..pipeline.event import LOG, METRIC, TAG, Event
from . import _tb_reader
from ._tfrecord import IMAGE, SCALAR, TEXT, DecodeError, RecordReader

if TYPE_CHECKING:
    from ..run import Run  # the type only: runs are opened, tagged and ended through the Run handed in
    from ..workspace import Experiment

#: The tag naming the directory whose event files a run holds (an absolute path).
TAG_DIR = "tracklog.tensorboard_dir"
#: The tag holding, as JSON, the byte offset of the next unread record of each of the run's files.
TAG_OFFSETS = "tracklog.tensorboard.offsets"
#: The log file and logger name text summaries are recorded under.
LOG_FILE = "python.log"
LOGGER = "tensorboard"
#: Directory entries one look for event files visits at most; past it, one warning.
MAX_SCAN = 20_000
#: Folders never looked into for event files.
SKIP_DIRS = frozenset({"__pycache__", "node_modules", "site-packages"})
#: Seconds between polls of known event files, and between looks for new ones, in a watcher.
POLL_INTERVAL = 0.25
SCAN_INTERVAL = 1.0

_IMAGE_TYPES = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"GIF8", ".gif"))


class SyncCounts(NamedTuple):
    """What one sync added: metric points, text records, image files, records skipped as damaged."""

    points: int = 0
    texts: int = 0
    images: int = 0
    damaged: int = 0

    def __add__(self, other: object) -> SyncCounts:  # type: ignore[override]
        assert isinstance(other, SyncCounts)
        return SyncCounts(*(a + b for a, b in zip(self, other)))


def is_event_file(name: str) -> bool:
    """True for a TensorBoard event file name (``events.out.tfevents.*``)."""
    return "tfevents" in name


def find_event_files(root: str, exclude: tuple[str, ...] = ()) -> dict[str, list[str]]:
    """Every directory under ``root`` (itself included) holding event files, with their names.

    Hidden folders, ``__pycache__``, ``node_modules``, ``site-packages`` and the
    paths in ``exclude`` are not looked into; symbolic links are not followed.
    At most ``MAX_SCAN`` entries are visited (one warning past that).
    """
    found: dict[str, list[str]] = {}
    seen = 0
    stack = [root]
    while stack:
        folder = stack.pop()
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError:
            continue
        files = []
        for entry in entries:
            seen += 1
            if seen > MAX_SCAN:
                _diag.warn_once(
                    ("tensorboard-scan", root),
                    "tracklog: more than %d files under %s; TensorBoard event files are looked for "
                    "among the first ones only (name their folder with --tensorboard DIR)",
                    MAX_SCAN,
                    root,
                )
                stack.clear()
                break
            try:
                if entry.is_dir(follow_symlinks=False):
                    name = entry.name
                    if not name.startswith(".") and name not in SKIP_DIRS and entry.path not in exclude:
                        stack.append(entry.path)
                elif is_event_file(entry.name) and entry.is_file(follow_symlinks=False):
                    files.append(entry.name)
            except OSError:
                continue
        if files:
            found[folder] = files
    # In path order (the walk is a stack): a parent before its folders, and Keras's
    # logs/train before logs/validation, so the first folder is the same on every scan.
    return dict(sorted(found.items()))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:100] or "image"


def _image_ext(data: bytes) -> str:
    for magic, ext in _IMAGE_TYPES:
        if data.startswith(magic):
            return ext
    return ".png"


class _RunFiles:
    """One event-file directory and the run that holds it: readers per file, and their offsets."""

    def __init__(self, run: Run, folder: str, offsets: dict[str, int], created: bool) -> None:
        self.run = run
        self.folder = folder
        self.created = created  # a child run this sync started, ended by finish()
        self.readers = {name: RecordReader(os.path.join(folder, name), offset) for name, offset in offsets.items()}
        self.sizes: dict[str, int] = {}
        self.saved = dict(offsets)
        self.ignored: set[str] = set()

    def sync(self, names: list[str] | None) -> SyncCounts:
        """Read what is new in the known files (and in ``names``, found by a look); save the offsets."""
        for name in names or ():
            if name not in self.readers and name not in self.ignored:
                self.readers[name] = RecordReader(os.path.join(self.folder, name))
        counts = SyncCounts()
        for name, reader in self.readers.items():
            try:
                size = os.stat(reader.path).st_size
            except OSError:
                continue
            if size == self.sizes.get(name) or size == reader.offset:
                self.sizes[name] = size
                continue
            self.sizes[name] = size
            counts += self._read(reader)
        self._save_offsets()
        return counts

    def _read(self, reader: RecordReader) -> SyncCounts:
        run = self.run
        target = run.target
        points = texts = images = undecodable = 0
        bad_before = reader.bad_data + reader.bad_headers
        batch: list[Event] = []
        decode_event = _tb_reader.decoder.decode  # chosen (and tensorboard's protos loaded) on first use
        for record in reader.records():
            try:
                event = decode_event(record)
            except DecodeError:
                undecodable += 1
                continue
            if not event.values:
                continue
            ts = event.wall_time if event.wall_time > 0 else time.time()
            step = event.step
            for value in event.values:
                if value.kind == SCALAR:
                    name = _metric_name(value.tag)
                    if name is None:
                        continue
                    number = point_value(name, value.value)
                    if number is UNCONVERTIBLE:
                        continue
                    batch.append(Event(run.id, METRIC, name, number, target.step_for(name, step), ts))
                    points += 1
                elif value.kind == TEXT:
                    tag = value.tag.removesuffix("/text_summary")
                    batch.append(
                        Event(run.id, LOG, LOG_FILE, None, None, ts, logging.INFO, LOGGER, str(value.value),
                              {"extra": {"tag": tag, "step": step}})
                    )
                    texts += 1
                elif value.kind == IMAGE:
                    images += self._images(batch, value.tag, value.value, step, ts)  # type: ignore[arg-type]
            if len(batch) >= 5000:
                target.pipeline.put_many(batch)
                batch = []
        if batch:
            target.pipeline.put_many(batch)
        damaged = reader.bad_data + reader.bad_headers - bad_before + undecodable
        if damaged:
            _diag.warn_once(
                ("tensorboard-damaged", reader.path),
                "tracklog: %s has damaged records (a failed CRC or not an Event); skipped them and read on",
                reader.path,
            )
        return SyncCounts(points, texts, images, damaged)

    def _images(self, batch: list[Event], tag: str, encoded: list[bytes], step: int, ts: float) -> int:
        name = _metric_name(tag)
        if name is None:
            return 0
        stored = 0
        for index, data in enumerate(encoded):
            suffix = f"_{index}" if len(encoded) > 1 else ""
            file_name = f"images/{_safe(tag)}_{step}{suffix}{_image_ext(data)}"
            try:
                self.run.upload_file(file_name, io.BytesIO(data))
            except (OSError, ValueError) as exc:
                _diag.warn_once(
                    ("tensorboard-image", self.folder), "tracklog: could not store TensorBoard image %s: %s", tag, exc
                )
                continue
            batch.append(Event(self.run.id, IMAGE_KIND, name, file_name, step, ts))
            stored += 1
        return stored

    def _save_offsets(self) -> None:
        offsets = {name: reader.offset for name, reader in self.readers.items() if reader.offset}
        if offsets != self.saved:
            self.saved = offsets
            _put_tag(self.run, TAG_OFFSETS, json.dumps(offsets, sort_keys=True, separators=(",", ":")))


def _metric_name(tag: str) -> str | None:
    try:
        return check_name(tag)
    except InvalidNameError as exc:
        _diag.warn_once(("tensorboard-name", tag), "tracklog: TensorBoard tag %r is not recorded: %s", tag, exc)
        return None


def _put_tag(run: Run, key: str, value: str) -> None:
    """A tag through the pipeline: it also lands on a run that has already ended."""
    run.target.pipeline.put(Event(run.id, TAG, key, value, None, time.time()))


def _offsets_of(tags: dict[str, str]) -> dict[str, int]:
    try:
        raw = json.loads(tags.get(TAG_OFFSETS) or "{}")
    except ValueError:
        return {}
    if not isinstance(raw, dict):
        return {}
    return {str(k): v for k, v in raw.items() if type(v) is int and v >= 0}


class TensorBoardSync:
    """The event files under ``root`` into ``run`` (its home directory) and child runs (the others).

    ``home`` is the directory whose files go into ``run`` itself; ``None``
    makes it the first directory where event files appear (``tracklog run``).
    ``skip_existing`` ignores the event files already there now: they belong
    to earlier jobs; ``skip`` names more files to ignore (other runs read them). ``exclude`` are paths not looked into (the workspace).
    """

    def __init__(
        self,
        run: Run,
        root: str,
        *,
        home: str | None = None,
        skip_existing: bool = False,
        exclude: tuple[str, ...] = (),
        skip: Iterable[str] = (),
    ) -> None:
        self.run = run
        self.root = os.path.abspath(root)
        self.home = os.path.abspath(home) if home is not None else None
        self.exclude = tuple(os.path.abspath(p) for p in exclude)
        self.folders: dict[str, _RunFiles] = {}
        self.counts = SyncCounts()
        self._lock = threading.Lock()
        self._existing: set[str] = {os.path.abspath(path) for path in skip}
        if skip_existing:
            for folder, names in find_event_files(self.root, self.exclude).items():
                self._existing.update(os.path.join(folder, name) for name in names)
        self._children: dict[str, Run] | None = None
        self._home_tags: dict[str, str] | None = None

    def sync(self, look: bool = True) -> SyncCounts:
        """Read what is new; ``look`` also looks for new event files (else the known ones are stat'ed)."""
        with self._lock:
            if self.home is not None and self._home_tags is None:
                self._claim(self.home)
            found = find_event_files(self.root, self.exclude) if look else {}
            counts = SyncCounts()
            for folder, names in found.items():
                names = [n for n in names if os.path.join(folder, n) not in self._existing]
                if names and folder not in self.folders:
                    self.folders[folder] = self._open(folder)
            for folder, files in list(self.folders.items()):
                names = [n for n in found.get(folder, ()) if os.path.join(folder, n) not in self._existing]
                counts += files.sync(names if look else None)
            self.counts += counts
            return counts

    def _claim(self, folder: str) -> None:
        """Make ``folder`` the run's own directory, reading the offsets it kept for it."""
        self.home = folder
        self._home_tags = self.run.get_tags()
        if self._home_tags.get(TAG_DIR) != folder:
            self._home_tags = {}  # offsets kept for another folder's files do not apply
            _put_tag(self.run, TAG_DIR, folder)

    def _open(self, folder: str) -> _RunFiles:
        if self.home is None:
            self._claim(folder)
        if folder == self.home:
            return _RunFiles(self.run, folder, _offsets_of(self._home_tags or {}), False)
        children = self._child_runs()
        child = children.get(folder)
        created = child is None
        if child is None:
            base = self.home if _inside(folder, self.home) else self.root
            child = self.run.child_run(os.path.relpath(folder, base).replace(os.sep, "/"))
            _put_tag(child, TAG_DIR, folder)
            children[folder] = child
            tags: dict[str, str] = {}
        else:
            tags = child.get_tags()
        return _RunFiles(child, folder, _offsets_of(tags), created)

    def _child_runs(self) -> dict[str, Run]:
        """The run's children that hold a TensorBoard directory, by that directory."""
        if self._children is None:
            self._children = {}
            for child in self.run.get_children():
                folder = child.get_tags().get(TAG_DIR)
                if folder:
                    self._children.setdefault(folder, child)
        return self._children

    def child_runs(self) -> list[Run]:
        """The child runs this sync writes into."""
        return [f.run for f in self.folders.values() if f.run is not self.run]

    def finish(self) -> None:
        """Flush, and complete the child runs this sync started."""
        with self._lock:
            for files in self.folders.values():
                if files.created:
                    try:
                        files.run.complete()
                    except Exception:
                        _diag.logger.warning("tracklog: could not end TensorBoard run %s", files.run.id, exc_info=True)
                    files.created = False


def _inside(path: str, folder: str | None) -> bool:
    return folder is not None and path != folder and path.startswith(folder.rstrip(os.sep) + os.sep)


class TensorBoardWatcher:
    """A thread that syncs event files into a run while a child process runs, then once more.

    It polls: every ``poll`` seconds it stats the event files it knows, every
    ``scan`` seconds it looks for new ones. ``stop()`` does a last full sync and
    completes the child runs it started. Failures are one warning, never raised.
    """

    def __init__(self, sync: TensorBoardSync, poll: float = POLL_INTERVAL, scan: float = SCAN_INTERVAL) -> None:
        self.sync = sync
        self.poll = poll
        self.scan = scan
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start watching (a daemon thread)."""
        self._thread = start_thread(self._loop, "tracklog-tensorboard")

    def _loop(self) -> None:
        next_look = 0.0
        while not self._stop.wait(self.poll):
            now = time.monotonic()
            look = now >= next_look
            if look:
                next_look = now + self.scan
            self._sync(look)

    def _sync(self, look: bool) -> None:
        try:
            with _diag.handling():
                self.sync.sync(look)
        except Exception:
            _warn_failed(self.sync.root)

    def stop(self) -> SyncCounts:
        """Stop the thread, sync once more, complete the child runs started; the total added."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sync(True)
        try:
            self.sync.finish()
        except Exception:
            _warn_failed(self.sync.root)
        return self.sync.counts


def _warn_failed(root: str) -> None:
    with _diag.handling():
        _diag.warn_once(
            ("tensorboard-sync", root),
            "tracklog: syncing TensorBoard event files under %s failed; the run keeps what was read",
            root,
        )
        _diag.logger.debug("tracklog: TensorBoard sync failure", exc_info=True)


def find_synced_run(experiment: Experiment, logdir: str) -> Run | None:
    """The top-level run of ``experiment`` that holds ``logdir`` (by its tag), or None."""
    folder = os.path.abspath(logdir)
    for run in experiment.get_runs():
        if run.info.parent_run_id is None and run.get_tags().get(TAG_DIR) == folder:
            return run
    return None


def read_by_others(experiment: Experiment, logdir: str, run: Run | None) -> set[str]:
    """The event files under ``logdir`` that runs of ``experiment`` other than ``run`` (and its
    children) have read: jobs that reuse one log folder (``SummaryWriter("logs")``, Keras's
    ``logs/train``) each own the files they wrote, and an ingest of the folder adds none of them again."""
    root = os.path.abspath(logdir)
    own = {run.id} if run is not None else set()
    found: set[str] = set()
    for other in experiment.get_runs(include_children=True):
        if other.id in own or other.info.parent_run_id in own:
            continue
        tags = other.get_tags()
        folder = tags.get(TAG_DIR)
        if folder and (folder == root or _inside(folder, root)):
            found.update(os.path.join(folder, name) for name in _offsets_of(tags))
    return found


def ingest_tensorboard(run: Run, logdir: str, skip: Iterable[str] = ()) -> tuple[SyncCounts, list[Run]]:
    """Sync the event files under ``logdir`` into ``run`` (and child runs), but those in ``skip``;
    what was added, and the children."""
    if not os.path.isdir(logdir):
        what = "is a file; give the folder that holds it" if os.path.exists(logdir) else "does not exist"
        raise TracklogError(f"--tensorboard {logdir}: {what}")
    sync = TensorBoardSync(run, logdir, home=logdir, skip=skip)
    counts = sync.sync()
    sync.finish()
    run.flush()
    return counts, sync.child_runs()


__all__ = [
    "TAG_DIR",
    "TAG_OFFSETS",
    "SyncCounts",
    "TensorBoardSync",
    "TensorBoardWatcher",
    "find_event_files",
    "find_synced_run",
    "ingest_tensorboard",
    "is_event_file",
    "read_by_others",
]
