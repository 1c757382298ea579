"""``tracklog models``: the workspace's registered models and their versions."""

from __future__ import annotations

import argparse
import time

from ..models import Model
from ._common import open_workspace


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``tracklog models [NAME]``."""
    models = subparsers.add_parser("models", help="registered models (run.register_model, MLflow's registry)")
    models.add_argument("name", nargs="?", help="only this model's versions")
    models.set_defaults(func=cmd_models)


def cmd_models(args: argparse.Namespace) -> int:
    workspace = open_workspace(args)
    found = Model.list(workspace, name=args.name)
    if not found:
        print("no registered models" + (f" called {args.name!r}" if args.name else ""))
        return 0
    print(f"{'MODEL':<28} {'VERSION':>7}  {'RUN':<12} {'PATH':<28} CREATED")
    for model in found:
        created = time.strftime("%Y-%m-%d %H:%M", time.localtime(model.created_time))
        run = (model.run_id or "-")[:12]
        print(f"{model.name:<28} {model.version:>7}  {run:<12} {(model.model_path or model.url):<28} {created}")
    return 0
