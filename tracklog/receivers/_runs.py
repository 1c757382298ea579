"""Which run OTLP data joins, and when a run the receiver started ends.

* A resource attribute (or request header) ``tracklog.run_id`` names an existing
  run: the data joins it. ``tracklog run`` sets it for its child, so an
  instrumented child in any language joins the run it runs under. The receiver
  never ends such a run: its owner does.
* Otherwise one run per service instance: ``service.name`` + its instance (see
  :func:`instance_of`), in the experiment named by ``tracklog.experiment``, else
  ``service.namespace``, else ``Default``. It starts on the service's first data and
  ends after ``idle`` seconds without any, or when the receiver stops.
* A resource that tracklog's own OTLP routing sent (it always adds
  ``tracklog.run_name`` beside ``tracklog.run_id``; ``tracklog run`` gives a child only
  the run id) whose run is in the receiver's workspace is that workspace's data coming
  back: the process that routed it stored it there already, so it is not stored twice
  (:func:`is_routed`).
* Such a resource whose run is *not* in the receiver's workspace (the program routed it
  through a collector from another workspace) rebuilds the run here (:func:`is_rebuildable`:
  it also carries ``tracklog.experiment``): a run of its own, keyed by the sender's run id,
  named ``tracklog.run_name`` in the experiment ``tracklog.experiment``, with the sender's
  id in the tag ``tracklog.source_run_id``. The workspace mints the new run's id (the
  stores choose their ids), so this tag is the mapping. It ends when routing sends the
  run's end (a record with event name ``tracklog.status``), with that status and error,
  else as a service's run does.
* Several instances may join one run by id (two instrumented processes under one
  ``tracklog run`` inherit the same ``tracklog.run_id``). Their cumulative counters must not
  share a series: the first instance (``service.name`` + :func:`instance_of`, as a service's
  runs are told apart) to send metrics into the run keeps the plain series names, and each
  other instance's series carry its instance as the attribute ``instance``
  (:meth:`Runs.series_instance`). The receiver remembers which came first while it runs.
* The rule for how it ends: **Failed** when the service's last log record was at
  ERROR or above and carried the OTel exception attributes (``exception.type`` or
  ``exception.message``), with those (and ``exception.stacktrace``) as the error (a
  stack trace that opens with that ``type: message`` line, as JavaScript's does, alone);
  else **Completed**. Data arriving after the end starts a new run.

Runs are opened by callables handed in from above (the CLI gives the workspace's),
so this package never sees a store.
"""

from __future__ import annotations

import logging
import shlex
import threading
import time
from typing import Any, Callable, Mapping, NamedTuple, Protocol, Union

from .. import _config
from .._errors import RunNotFoundError
from .._provenance import COMMAND, CWD, HOST, PYTHON, USER
from .._types import CANCELED, FAILED
from .._threads import start_thread
from ..pipeline.target import RunTarget

__all__ = [
    "DEFAULT_EXPERIMENT", "EXPERIMENT_KEY", "RUN_ID_KEY", "RUN_NAME_KEY", "SOURCE_RUN_TAG", "STATUS_EVENT",
    "RECHECK", "AttachRun", "OpenRun", "ReceivedRun", "Runs", "is_rebuildable", "is_routed", "routed_end",
]

RUN_ID_KEY = "tracklog.run_id"
EXPERIMENT_KEY = "tracklog.experiment"
#: Set on every resource tracklog's routing sends (exporters/_otlp_sink.py), by no SDK.
RUN_NAME_KEY = "tracklog.run_name"
#: The tag of a run rebuilt from routed data: the run's id in the workspace it was routed from.
SOURCE_RUN_TAG = "tracklog.source_run_id"
#: The event name of the record routing sends when a run ends (exporters/_otlp_sink.py), with
#: the attributes ``tracklog.status`` and ``tracklog.error``.
STATUS_EVENT = "tracklog.status"
DEFAULT_EXPERIMENT = _config.DEFAULT_EXPERIMENT

_logger = logging.getLogger("tracklog.receivers")


class ReceivedRun(Protocol):
    """What the receiver needs of a run: its id and target, and a way to end it."""

    @property
    def id(self) -> str: ...

    @property
    def target(self) -> RunTarget: ...

    def complete(self) -> None: ...

    def fail(self, error: str | None = None) -> None: ...

    def cancel(self) -> None: ...


#: Starts a run: (experiment name, run name, tags) -> the run.
OpenRun = Callable[[str, str, Mapping[str, str]], ReceivedRun]
#: An existing run by id; raises RunNotFoundError when there is none (another TracklogError
#: for other trouble).
AttachRun = Callable[[str], ReceivedRun]


class _Service(NamedTuple):
    experiment: str
    name: str
    instance: str


#: What a live run the receiver started is kept by: its service, or the run id a rebuilt
#: run was routed under.
_Key = Union[_Service, str]


class _Live:
    __slots__ = ("end", "error", "routed", "run", "seen")

    def __init__(self, run: ReceivedRun, routed: bool) -> None:
        self.run = run
        #: Rebuilt from tracklog's routing, which says when the run ends.
        self.routed = routed
        self.seen = time.monotonic()
        self.error: str | None = None
        #: The status and error routing said the run ended with.
        self.end: tuple[str, str | None] | None = None


def failure_of(level: int, attributes: Mapping[str, Any]) -> str | None:
    """The error a service's last log record ends its run with, or None (see the rule above)."""
    if level < logging.ERROR:
        return None
    kind, message = attributes.get("exception.type"), attributes.get("exception.message")
    if kind is None and message is None:
        return None
    head = ": ".join(str(x) for x in (kind, message) if x is not None)
    trace = attributes.get("exception.stacktrace")
    if not trace:
        return head
    trace = str(trace)
    return trace if _states_itself(trace, head, message) else f"{head}\n{trace}"


def _states_itself(trace: str, head: str, message: Any) -> bool:
    """Whether a stack trace already opens with its exception's ``type: message`` line, as a
    JavaScript ``err.stack`` does (``Error: card declined``, its name not always the type the
    SDK sent); Python's opens with ``Traceback`` and ends with that line, so it gets the head."""
    if trace.startswith(head):
        return True
    first = trace.split("\n", 1)[0]
    said = "" if message is None else str(message).split("\n", 1)[0]
    return bool(said) and (first == said or first.endswith(f": {said}"))


def is_routed(resource: Mapping[str, Any]) -> bool:
    """Whether tracklog's own routing sent this resource: it names a run and carries
    ``tracklog.run_name``. Such a run found in the receiver's workspace already holds it."""
    return RUN_NAME_KEY in resource and bool(resource.get(RUN_ID_KEY))


def routed_end(event_name: str, attributes: Mapping[str, Any]) -> tuple[str, str | None] | None:
    """The status and error of a record routing sends when a run ends, else None."""
    status = attributes.get("tracklog.status") if event_name == STATUS_EVENT else None
    if not isinstance(status, str):
        return None
    error = attributes.get("tracklog.error")
    return status, None if error is None else str(error)


def is_rebuildable(resource: Mapping[str, Any]) -> bool:
    """Whether a resource carries all of tracklog's routing markers (run id, run name and
    experiment), so that its run, unknown here, is rebuilt rather than refused."""
    return is_routed(resource) and EXPERIMENT_KEY in resource


#: Seconds a run named by id (``tracklog.run_id``) is taken as its last lookup found it.
RECHECK = 1.0


class Runs:
    """The live runs of a receiver, by service (or routed run id); thread-safe."""

    def __init__(self, open_run: OpenRun, attach_run: AttachRun, idle: float) -> None:
        self._open = open_run
        self._attach = attach_run
        self.idle = idle
        self._lock = threading.Lock()
        self._services: dict[_Key, _Live] = {}
        # Runs named by id, and when they were looked up (monotonic): its owner, elsewhere,
        # may end one at any time, so one is looked up again after RECHECK seconds.
        self._attached: dict[str, tuple[ReceivedRun, float]] = {}
        # Runs named by id: the instances that sent them metrics, first one first, and the
        # qualifier of each one's series (None for the first).
        self._joined: dict[str, dict[tuple[str, str], str | None]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread that ends idle runs."""
        self._thread = start_thread(self._watch, "tracklog-receiver-idle")

    def resolve(
        self, resource: Mapping[str, Any], header_run_id: str | None, rebuild: bool = True
    ) -> tuple[ReceivedRun, _Live | None] | None:
        """The run for data of this resource (opened now when new), and its live state when
        the receiver started it; raises when a named run is missing and cannot be rebuilt.
        None when it would be rebuilt now but ``rebuild`` is False."""
        run_id = resource.get(RUN_ID_KEY) or header_run_id
        with self._lock:
            if run_id:
                run_id = str(run_id)
                live = self._services.get(run_id)
                if live is not None:  # a run rebuilt from routed data
                    if live.end is None:  # once its end came, it is not kept alive
                        live.seen = time.monotonic()
                    return live.run, live
                now = time.monotonic()
                cached = self._attached.get(run_id)
                if cached is not None and now - cached[1] < RECHECK:
                    return cached[0], None
                try:
                    # Opening it reads its status: a run its owner ended since is closed here
                    # too, so its later metrics, tags and params are refused (partial_success).
                    found = self._attach(run_id)
                except RunNotFoundError:
                    if not is_rebuildable(resource):
                        raise
                    if not rebuild:
                        return None
                    return self._live(run_id, *_rebuilt(resource, run_id))
                self._attached[run_id] = (found, now)
                return found, None
            service = _service(resource)
            return self._live(service, service.experiment, service.name, _tags(resource))

    def series_instance(self, run_id: str, resource: Mapping[str, Any]) -> str | None:
        """For metrics of this resource into the run named by id ``run_id``: None for the
        first instance that sent the run metrics (its series keep their plain names), else the
        text that tells this instance's series apart (its instance; its service name when it
        has none, or both when its service differs from the first's)."""
        identity = (str(resource.get("service.name") or "unknown_service"), instance_of(resource))
        with self._lock:
            seen = self._joined.get(run_id)
            if seen is None:
                self._joined[run_id] = {identity: None}
                return None
            if identity not in seen:
                seen[identity] = _qualifier(identity, next(iter(seen)))
            return seen[identity]

    def _live(self, key: _Key, experiment: str, name: str, tags: Mapping[str, str]) -> tuple[ReceivedRun, _Live]:
        """The live run kept by ``key``, opened now when there is none; the lock is held."""
        live = self._services.get(key)
        if live is None:
            live = self._services[key] = _Live(self._open(experiment, name, tags), isinstance(key, str))
        elif live.end is None:
            live.seen = time.monotonic()
        return live.run, live

    def end_soon(self, live: _Live, end: tuple[str, str | None]) -> None:
        """A rebuilt run whose routing said it ended: the idle thread ends it so, within half
        a second (not on the request's thread, which holds the export lock)."""
        if live.routed:
            with self._lock:
                live.end = end
                live.seen = float("-inf")

    def ended(self, run: ReceivedRun) -> None:
        """Forget a run named by id that has ended, so the next data looks it up again."""
        with self._lock:
            self._attached.pop(run.id, None)

    def _watch(self) -> None:
        while not self._stop.wait(min(0.5, max(self.idle / 4, 0.05))):
            now = time.monotonic()
            with self._lock:
                idle = [(key, live) for key, live in self._services.items() if now - live.seen >= self.idle]
                for key, _ in idle:
                    del self._services[key]
            for _, live in idle:
                _end(live)

    def close(self) -> None:
        """End every run the receiver started, by the rule above."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        with self._lock:
            lives = list(self._services.values())
            self._services.clear()
            self._attached.clear()
        for live in lives:
            _end(live)

    def live_count(self) -> int:
        with self._lock:
            return len(self._services)


def _end(live: _Live) -> None:
    status, error = live.end or (FAILED if live.error is not None else "", live.error)
    try:
        if status == FAILED:
            live.run.fail(error)
        elif status == CANCELED:
            live.run.cancel()
        else:
            live.run.complete()
    except Exception:  # one run's store trouble must not stop the others ending
        _logger.warning("tracklog: receiver could not end run %s", live.run.id, exc_info=True)


def _service(resource: Mapping[str, Any]) -> _Service:
    experiment = resource.get(EXPERIMENT_KEY) or resource.get("service.namespace") or DEFAULT_EXPERIMENT
    name = resource.get("service.name") or "unknown_service"
    return _Service(str(experiment), str(name), instance_of(resource))


#: What tells replicas apart when there is no ``service.instance.id``, in this order: each
#: group is used whole when its first attribute is set (a pod's name is unique in its namespace).
_INSTANCE_KEYS = (
    ("k8s.pod.uid",),
    ("k8s.pod.name", "k8s.namespace.name"),
    ("container.id",),
    ("host.name", "process.pid"),
    ("host.id", "process.pid"),
    ("process.pid",),
)


def instance_of(resource: Mapping[str, Any]) -> str:
    """Which instance of its service a resource is: ``service.instance.id``; else, as a
    collector keeps series of different resources apart, the pod (``k8s.pod.uid``, else
    ``k8s.pod.name`` in ``k8s.namespace.name``), else ``container.id``, else the host and
    ``process.pid``; "" when none is set (replicas that send none of them are one instance).
    Replicas' cumulative counters must never share a series."""
    explicit = resource.get("service.instance.id")
    if explicit not in (None, ""):
        return str(explicit)
    for keys in _INSTANCE_KEYS:
        if resource.get(keys[0]) not in (None, ""):
            return ",".join(f"{key}={resource[key]}" for key in keys if resource.get(key) not in (None, ""))
    return ""


def _qualifier(identity: tuple[str, str], first: tuple[str, str]) -> str:
    """What tells an instance's series apart from those of ``first`` in one joined run."""
    service, instance = identity
    if not instance:
        return service
    return instance if service == first[0] else f"{service}/{instance}"


_TAGGED = (
    "service.name", "service.namespace", "service.instance.id", "service.version", "telemetry.sdk.language",
    "k8s.pod.uid", "k8s.pod.name", "k8s.namespace.name", "container.id", "host.name", "host.id", "process.pid",
)


def _tags(resource: Mapping[str, Any]) -> dict[str, str]:
    """Run tags from the resource that identify the service, and its provenance."""
    tags = _service_provenance(resource)
    tags.update((key, str(resource[key])) for key in _TAGGED if resource.get(key) not in (None, ""))
    return tags


#: Python's runtimes as OpenTelemetry's ``process.runtime.name`` spells them.
_PYTHONS = frozenset({"cpython", "pypy", "python"})


def _service_provenance(resource: Mapping[str, Any]) -> dict[str, str]:
    """The service's provenance under tracklog's tag names (``tracklog.user``, ``.host``,
    ``.command``, ``.cwd``, ``.python``), from the resource's semantic-convention attributes:
    a run the receiver opens stands for the service, not for the receiver's own process."""
    found = {
        USER: resource.get("process.owner"),
        HOST: resource.get("host.name"),
        CWD: resource.get("process.working_directory"),
        COMMAND: resource.get("process.command_line") or _command(resource),
    }
    runtime = str(resource.get("process.runtime.name") or "").lower()
    if runtime in _PYTHONS:
        found[PYTHON] = resource.get("process.runtime.version")
    return {key: str(value) for key, value in found.items() if value not in (None, "")}


def _command(resource: Mapping[str, Any]) -> str | None:
    """The command line from ``process.command_args``, else the command alone (its
    ``argv[0]``), else the executable."""
    args = resource.get("process.command_args")
    if isinstance(args, (list, tuple)) and args:
        return shlex.join(str(a) for a in args)
    return resource.get("process.command") or resource.get("process.executable.path") or resource.get("process.executable.name")


def _rebuilt(resource: Mapping[str, Any], run_id: str) -> tuple[str, str, dict[str, str]]:
    """Experiment, run name and tags of a run rebuilt from routed data (an empty experiment
    or name, which routing sends when it could not read them, falls back as for a service)."""
    experiment = str(resource.get(EXPERIMENT_KEY) or "") or _service(resource).experiment
    name = str(resource.get(RUN_NAME_KEY) or "") or f"routed-{run_id[:8]}"
    return experiment, name, {**_tags(resource), SOURCE_RUN_TAG: run_id}
