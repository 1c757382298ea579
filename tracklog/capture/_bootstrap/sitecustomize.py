"""tracklog's bootstrap for ``tracklog run``: a child Python's logging records go to the run.

``tracklog run`` puts this folder first on the child's PYTHONPATH, so every Python
process it starts (directly, through ``python -m``, a shell script or a launcher
such as torchrun) imports this module at startup. It changes nothing the program
can see: it only wraps ``logging.Logger.callHandlers`` once ``logging`` is
imported, so that a record which reaches the root logger (past the levels,
filters and ``propagate`` flags the program set) is also handed to tracklog, as
if a handler sat on the root logger; but no handler is added to it, so
``logging.basicConfig()`` still configures logging and ``logging.lastResort``
still prints when nothing is configured. tracklog itself is imported only when
the first record arrives. Then the ``sitecustomize`` this one shadows, if any,
runs as it would have.

Under tracklog run, a Python without tracklog installed loses the
``MLFLOW_TRACKING_URI=tracklog:...`` that tracklog run set (its MLflow would know no
such store): its MLflow logs where it would have without tracklog.

One thing the program can see: SIGTERM, left at its default, gets a handler that
ends the program as ``sys.exit(143)`` would (``finally`` blocks and exit run, so
what it logged is flushed, its own runs end Canceled), instead of killing it
unflushed. A handler the program sets replaces it; a second SIGTERM kills at once;
a forked child starts with SIGTERM at its default again.

Nothing here may raise or print: the program's console output stays byte-identical.
"""

import _signal  # the C module: ``signal`` itself would import enum into every program
import os as _os
import sys as _sys

_HERE = _os.path.dirname(_os.path.abspath(__file__))
_state = {"deliver": None, "loading": False, "off": False}


def _load():
    """Import tracklog's capture module (from the home tracklog run named, if need be)."""
    _state["loading"] = True
    try:
        try:
            import tracklog.capture._logging as capture
        except ImportError:
            home = _os.environ.get("TRACKLOG_BOOTSTRAP_HOME")
            if not home:
                raise
            _sys.path.append(home)
            try:
                import tracklog.capture._logging as capture
            finally:
                if home in _sys.path:
                    _sys.path.remove(home)
        _state["deliver"] = capture.deliverer()
    except Exception:
        _state["deliver"] = None
    finally:
        _state["loading"] = False
    if _state["deliver"] is None:
        _state["off"] = True


def _patch(logging):
    original = logging.Logger.callHandlers
    if getattr(original, "_tracklog", False):
        return
    root = logging.root

    def callHandlers(self, record):
        original(self, record)
        if _state["off"] or _state["loading"]:
            return
        # One walk up: the record reaches root's handlers only if every logger below
        # root propagates, and is left alone when the program's own RunHandler gets it.
        logger = self
        while True:
            for handler in logger.handlers:
                if getattr(handler, "_tracklog_run_handler", False):
                    return
            if logger is root:
                break
            if not logger.propagate or logger.parent is None:
                return
            logger = logger.parent
        deliver = _state["deliver"]
        if deliver is None:
            _load()
            deliver = _state["deliver"]
            if deliver is None:
                return
        deliver(self, record)

    callHandlers._tracklog = True
    callHandlers.__wrapped__ = original
    callHandlers.__doc__ = original.__doc__
    logging.Logger.callHandlers = callHandlers


class _PatchingLoader:
    """Loads ``logging`` with its own loader, then patches it."""

    def __init__(self, loader):
        self._loader = loader

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = self._loader
        if getattr(module, "__spec__", None) is not None:
            module.__spec__.loader = self._loader
        self._loader.exec_module(module)
        try:
            _patch(module)
        except Exception:
            pass

    def __getattr__(self, name):
        return getattr(self._loader, name)


class _LoggingFinder:
    """Waits for the program to import ``logging`` (importing it here would change import order)."""

    def __init__(self):
        self._busy = False

    def find_spec(self, name, path=None, target=None):
        if name != "logging" or self._busy:
            return None
        self._busy = True
        try:
            import importlib.util

            spec = importlib.util.find_spec(name)
        except Exception:
            return None
        finally:
            self._busy = False
        if spec is None or spec.loader is None:
            return None
        try:
            _sys.meta_path.remove(self)
        except ValueError:
            pass
        spec.loader = _PatchingLoader(spec.loader)
        return spec


def _install():
    if not _os.environ.get("TRACKLOG_RUN_ID") or _os.environ.get("TRACKLOG_LOGGING_CAPTURE") == "0":
        return
    if "logging" in _sys.modules:
        _patch(_sys.modules["logging"])
    else:
        _sys.meta_path.insert(0, _LoggingFinder())


def _on_sigterm(signum, frame):
    """SIGTERM under ``tracklog run``: exit as ``sys.exit(128 + signum)`` does, flushing on the way."""
    lifecycle = _sys.modules.get("tracklog._lifecycle")
    handle = getattr(lifecycle, "handle_termination", None)
    if handle is not None:
        # tracklog is loaded: its runs end Canceled, and an exit already under way finishes.
        handle(signum, frame)
        return
    _signal.signal(signum, _signal.SIG_DFL)  # a second SIGTERM ends the process at once
    raise SystemExit(128 + signum)


_on_sigterm._tracklog_sigterm = True


def _catch_sigterm():
    if not _os.environ.get("TRACKLOG_RUN_ID"):
        return
    if _signal.getsignal(_signal.SIGTERM) == _signal.SIG_DFL:  # not when inherited as ignored
        _signal.signal(_signal.SIGTERM, _on_sigterm)
        if hasattr(_os, "register_at_fork"):
            _os.register_at_fork(after_in_child=_default_sigterm_in_child)


def _default_sigterm_in_child():
    # A forked child (a Pool worker) keeps SIGTERM's default: a Python handler in a child
    # that blocks in C can miss it, and Pool.terminate() would then wait on it forever.
    if _signal.getsignal(_signal.SIGTERM) is _on_sigterm:
        _signal.signal(_signal.SIGTERM, _signal.SIG_DFL)


def _installed(name):
    """True when a distribution ``name`` is installed where this Python looks (its
    ``*.dist-info`` folder on sys.path): what MLflow needs to find tracklog's store."""
    prefix = name + "-"
    for entry in _sys.path:
        if not isinstance(entry, str) or not entry:
            continue
        try:
            names = _os.listdir(entry)
        except OSError:
            continue
        for item in names:
            if item.startswith(prefix) and item.endswith(".dist-info"):
                return True
    return False


def _mlflow_uri_guard():
    """tracklog run pointed MLflow at its workspace (``MLFLOW_TRACKING_URI=tracklog:...``).
    In a Python without tracklog installed MLflow knows no store for that scheme and every
    MLflow call would fail, so the variable goes: such a program's MLflow logs where it
    would have without tracklog run. A value the program or the user set is never touched."""
    marked = _os.environ.get("TRACKLOG_MLFLOW_URI_SET")
    if not marked or _os.environ.get("MLFLOW_TRACKING_URI") != marked:
        return
    if not _installed("tracklog"):
        del _os.environ["MLFLOW_TRACKING_URI"]


def _chain():
    """Run the sitecustomize this one shadows, as site.py would have."""
    try:
        import importlib.machinery
        import importlib.util
    except ImportError:  # a Python too old for tracklog: leave it as it is
        return

    rest = [p for p in _sys.path if isinstance(p, str) and _os.path.abspath(p or ".") != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is None or spec.loader is None:
        return
    module = importlib.util.module_from_spec(spec)
    _sys.modules["sitecustomize"] = module
    spec.loader.exec_module(module)


try:
    _install()
except Exception:
    pass
try:
    _catch_sigterm()
except Exception:
    pass
try:
    _mlflow_uri_guard()
except Exception:
    pass
_chain()
