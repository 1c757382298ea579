"""``tracklog receive``: OTLP logs, metrics and traces from any language or collector, into runs."""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .. import _config, engine, exporters, receivers
from .._errors import RunNotFoundError
from .._provenance import VERSION
from .._version import __version__
from ..receivers import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HOST,
    DEFAULT_HTTP_PORT,
    DEFAULT_IDLE,
    DEFAULT_MAX_BYTES,
    DEFAULT_READ_TIMEOUT,
    is_loopback,
)
from ..run import Run
from ..workspace import Workspace

if TYPE_CHECKING:
    from ..receivers import OTLPReceiver

#: The bearer token every request must carry, when --token is not given.
ENV_TOKEN = "TRACKLOG_RECEIVER_TOKEN"


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``receive`` command."""
    receive = subparsers.add_parser(
        "receive", help="take OTLP logs, metrics and traces (HTTP 4318, gRPC 4317) into runs"
    )
    receive.add_argument("--host", default=DEFAULT_HOST,
                         help=f"address to listen on (default {DEFAULT_HOST}; any other needs --token)")
    add_receiver_options(receive, prefix="")
    receive.set_defaults(func=cmd_receive)


def add_receiver_options(parser: argparse.ArgumentParser, prefix: str) -> None:
    """The receiver's ports, token, idle time and size limit (``--otlp-...`` on ``tracklog ui``)."""
    parser.add_argument(f"--{prefix}http-port", type=_port_or_off, default=DEFAULT_HTTP_PORT, metavar="PORT",
                        help=f"OTLP/HTTP port (default {DEFAULT_HTTP_PORT}; 0 picks a free one, off turns it off)")
    parser.add_argument(f"--{prefix}grpc-port", type=_port_or_off, default=DEFAULT_GRPC_PORT, metavar="PORT",
                        help=f"OTLP/gRPC port (default {DEFAULT_GRPC_PORT}; 0 picks a free one, off turns it off)")
    parser.add_argument("--token", default=None,
                        help=f"bearer token every request must carry (default ${ENV_TOKEN}; "
                        "required on a non-loopback --host)")
    parser.add_argument("--idle", type=float, default=DEFAULT_IDLE, metavar="SECONDS",
                        help=f"end a service's run after this long without data (default {DEFAULT_IDLE:.0f})")
    parser.add_argument("--max-bytes", type=int, default=DEFAULT_MAX_BYTES, help=argparse.SUPPRESS)
    parser.add_argument("--read-timeout", type=float, default=DEFAULT_READ_TIMEOUT, help=argparse.SUPPRESS)


def _port_or_off(text: str) -> int | None:
    if text == "off":
        return None
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 0 to 65535, or off")
    return number


def receiver_process(command: str) -> None:
    """Make this process a receiver's: it never routes by ``TRACKLOG_OTLP`` (see
    ``engine.never_route_from_env``), and says so on stderr when the variable is set.
    Call before the workspace is opened."""
    engine.never_route_from_env()
    if exporters.otlp_requested():
        print(f"{command}: TRACKLOG_OTLP is set, but a receiver does not route what it receives "
              "(it would come back to it); forward with an OpenTelemetry Collector instead",
              file=sys.stderr, flush=True)


def make_receiver(workspace: Workspace, args: argparse.Namespace, host: str, prefix: str = "") -> OTLPReceiver:
    """An OTLPReceiver into ``workspace`` from the parsed options (not started)."""

    def open_run(experiment: str, name: str, tags: Mapping[str, str]) -> Run:
        # The service's run: the service's provenance (in ``tags``), not the receiver's, no
        # ./outputs of the receiver's, and not the receiver's current run.
        return Run._start(
            workspace.experiment(experiment), name, tags=dict(tags), provenance={VERSION: __version__},
            make_current=False,
        )

    def attach_run(run_id: str) -> Run:
        run = workspace.get_run(run_id)
        if run.id != run_id:  # a prefix from the wire never picks a run
            raise RunNotFoundError(f"no run {run_id!r} in workspace {workspace.path}")
        return run

    options: dict[str, Any] = vars(args)
    # grpc, protobuf and the HTTP server load here, when a receiver is made
    # (tracklog.receivers' __getattr__), not with `tracklog --help` or `tracklog run`.
    return receivers.OTLPReceiver(
        open_run,
        attach_run,
        host=host,
        http_port=options[f"{prefix}http_port"],
        grpc_port=options[f"{prefix}grpc_port"],
        token=args.token or os.environ.get(ENV_TOKEN) or None,
        idle=args.idle,
        max_bytes=args.max_bytes,
        read_timeout=args.read_timeout,
        queue_limit=max(1, _config.queue_capacity() // 2),
    )


def describe(receiver: OTLPReceiver) -> str:
    """Where the receiver listens, in one line."""
    parts = []
    if receiver.http_url:
        parts.append(f"OTLP/HTTP at {receiver.http_url}")
    if receiver.grpc_port is not None:
        parts.append(f"OTLP/gRPC at {receiver.host}:{receiver.grpc_port}")
    return ", ".join(parts) or "no protocol (both ports off)"


class StopSignal:
    """SIGTERM and Ctrl-C as one orderly stop, for a command that serves until stopped:
    made before serving (from then on SIGTERM only sets a flag), :meth:`wait` until either
    comes, then :meth:`restore` the SIGTERM handler that was there. Main thread only."""

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._previous = signal.signal(signal.SIGTERM, lambda *_: self._stop.set())

    def wait(self) -> None:
        """Return once SIGTERM or Ctrl-C came."""
        try:
            while not self._stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass

    def restore(self) -> None:
        signal.signal(signal.SIGTERM, self._previous)


def cmd_receive(args: argparse.Namespace) -> int:
    receiver_process("tracklog receive")
    workspace = Workspace(args.workspace)
    receiver = make_receiver(workspace, args, args.host)
    stop = StopSignal()
    receiver.start()
    auth = "; bearer token required" if receiver.token else ""
    print(f"tracklog receive: {describe(receiver)} into {workspace.path}{auth}  (Ctrl-C stops)", flush=True)
    if not is_loopback(args.host):
        print(f"tracklog receive: listening on {args.host}: anyone with the token who can reach this "
              "machine can write runs", file=sys.stderr, flush=True)
    try:
        stop.wait()
    finally:
        receiver.close()
        workspace.flush()
        stop.restore()
    if receiver.exporter.refused:
        print(f"tracklog receive: asked clients to retry {receiver.exporter.refused} requests while "
              "the workspace could not keep up", file=sys.stderr, flush=True)
    return 0
