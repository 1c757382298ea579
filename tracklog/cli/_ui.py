"""``tracklog ui``: serve the workspace's runs as a local web page (read-only)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from .. import _ui as ui_server
from .._errors import TracklogError
from .._threads import start_thread
from .._ui import DEFAULT_HOST, DEFAULT_PORT
from ..workspace import Workspace
from ._common import open_workspace
from ._receive import StopSignal, add_receiver_options, describe, make_receiver, receiver_process

if TYPE_CHECKING:
    from ..receivers import OTLPReceiver


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add the ``ui`` command."""

    ui = subparsers.add_parser(
        "ui", help="serve the runs as a local web page: charts, logs, comparison (read-only)"
    )
    ui.add_argument("--host", default=DEFAULT_HOST,
                    help=f"address to listen on (default {DEFAULT_HOST}: this machine only)")
    ui.add_argument("--port", "-p", type=port, default=DEFAULT_PORT,
                    help=f"port to listen on (default {DEFAULT_PORT}; 0 picks a free one)")
    ui.add_argument("--otlp", action="store_true",
                    help="also take OTLP logs, metrics and traces into runs, as `tracklog receive` does "
                    "(on --host; a non-loopback one needs --token)")
    add_receiver_options(ui, prefix="otlp-")
    ui.set_defaults(func=cmd_ui)


def port(text: str) -> int:
    """A --port value: 0 (a free port) up to 65535."""
    try:
        number = int(text)
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port: give 0 to 65535 (0 picks a free one)")
    return number


def cmd_ui(args: argparse.Namespace) -> int:
    if args.otlp:
        receiver_process("tracklog ui")
    # With --otlp the page's workspace also takes data, so it may be created.
    workspace = Workspace(args.workspace) if args.otlp else open_workspace(args)
    receiver: OTLPReceiver | None = make_receiver(workspace, args, args.host, "otlp_") if args.otlp else None
    try:
        # The server's modules load here, when `tracklog ui` runs (tracklog._ui's __getattr__).
        server = ui_server.make_server(workspace, args.host, args.port)
    except OSError as exc:
        if receiver is not None:
            receiver.close()
        raise TracklogError(
            f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc} "
            "(pick another --port, or --port 0 for a free one)"
        ) from exc
    stop = StopSignal()  # SIGTERM stops as Ctrl-C does: what the receiver took is stored
    serving = None
    try:
        print(f"tracklog ui: {workspace.path} at {server.url}  (read-only; Ctrl-C stops)", flush=True)
        if receiver is not None:
            receiver.start()
            print(f"tracklog ui: receiving {describe(receiver)}", flush=True)
        if not server.loopback:
            print(
                f"tracklog ui: listening on {args.host}: anyone who can reach this machine can read "
                "these runs",
                file=sys.stderr,
                flush=True,
            )
        serving = start_thread(server.serve_forever, "tracklog-ui", kwargs={"poll_interval": 0.5})
        stop.wait()
    finally:
        if serving is not None:  # shutdown() waits for serve_forever, so only once it runs
            server.shutdown()
            serving.join(5)
        server.server_close()
        if receiver is not None:
            receiver.close()
            workspace.flush()
        stop.restore()
    return 0
