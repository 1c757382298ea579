"""One crash check for every store: is a Running run's owner gone, or its heartbeat stale?"""

from __future__ import annotations

import os
import socket
import time

from .._types import NO_OWNER, RunInfo

HOST = socket.gethostname()
#: What a store records as the error of a run whose owner died without ending it.
CRASH_ERROR = "the process that owned this run ended without ending it (no heartbeat)"


def pid_alive(pid: int) -> bool:
    """Whether a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


def owner_dead(info: RunInfo) -> bool:
    """Certain: the run's owner ran on this host, is another process, and is gone."""
    return (
        info.owner_host == HOST
        and bool(info.owner_pid)
        and info.owner_pid != os.getpid()
        and not pid_alive(info.owner_pid)  # type: ignore[arg-type]
    )


def heartbeat_stale(info: RunInfo, timeout: float, since_start: bool = True) -> bool:
    """No heartbeat for ``timeout`` seconds (counting from the start when none came yet,
    if ``since_start``)."""
    beat = info.heartbeat if info.heartbeat is not None else (info.start_time if since_start else None)
    return beat is not None and time.time() - beat > timeout


def crashed(info: RunInfo, timeout: float, since_start: bool = True) -> bool:
    """A Running run that reads as Crashed: its owner is gone, or its heartbeat is stale.
    A run with no owner (``NO_OWNER``) never does: nobody of ours is there to die."""
    if info.owner_pid == NO_OWNER or (info.owner_host == HOST and info.owner_pid == os.getpid()):
        return False
    return owner_dead(info) or heartbeat_stale(info, timeout, since_start)
