"""Tell a SIGINT sent to our whole process group from one sent to us alone.

The child of ``tracklog run`` stays in our process group, so that it can read the
terminal and is stopped and resumed with us. A SIGINT sent to the group (a
terminal's Ctrl-C, ``kill -INT -PGID``, a supervisor's ``killpg``) then reaches
the child as well as us, and must not be passed on again; one sent to our pid
alone (``kill -INT PID``) reaches only us, and must be. The signal itself does
not say which it was (``siginfo_t`` names the sender, not the target, and
Python's handlers do not see it), so we ask a witness: a tiny process of our
own in the same group that answers one byte for every SIGINT it gets. If it
answers, the group got the signal; if it stays silent for ``ANSWER_WAIT``
seconds, only we did.

The witness starts with SIGINT blocked (our thread's mask, put back as soon as it
is spawned) and unblocks it once its handler is in place, so a SIGINT that comes
while it is still starting is answered, not taken for its death.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

#: Seconds we wait for the witness's answer before taking a SIGINT as sent to us alone.
ANSWER_WAIT = 0.5

#: Seconds we wait for a witness whose answers ended (its stdout closed) to be reaped.
_REAP_WAIT = 0.1

#: The witness: one byte "r" once its handler is in place, then one "i" per SIGINT (it starts
#: with SIGINT blocked and unblocks it after the "r": one that came meanwhile is answered then);
#: it ignores the signals that end a job (they are for the job); killed at our end, and leaves
#: by itself if we die (EOF on its stdin).
_WITNESS = (
    "import os, signal\n"
    "for s in ('SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGPIPE'):\n"
    "    signal.signal(getattr(signal, s), signal.SIG_IGN)\n"
    "signal.signal(signal.SIGINT, lambda *_: os.write(1, b'i'))\n"
    "os.write(1, b'r')\n"
    "signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})\n"
    "while os.read(0, 1):\n"
    "    pass\n"
)


class GroupSigintWitness:
    """A process in our group that says whether a SIGINT we got went to the whole group."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._ready = False
        blocked = _block_sigint()
        try:
            self._proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", _WITNESS],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, bufsize=0,
            )
        except OSError:
            self._proc = None  # no witness: callers fall back on their own judgement
        finally:
            if blocked is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def group_got_it(self) -> bool | None:
        """True if the SIGINT just received went to our group, False if to us alone, None if unknown.

        Unknown: the witness could not start, or died of something else than a
        SIGINT (a witness that a SIGINT killed got one sent to the group).
        """
        proc = self._proc
        if proc is None or proc.stdout is None:
            return None
        fd = proc.stdout.fileno()
        answered = False
        deadline = time.monotonic() + ANSWER_WAIT
        while True:
            # Until an answer: up to the deadline (its "r" may come first); then drain what is there.
            wait = 0.0 if answered else max(0.0, deadline - time.monotonic())
            try:
                readable, _w, _x = select.select([fd], [], [], wait)
            except (OSError, ValueError):
                return None
            if not readable:
                return answered if self._ready else None
            data = os.read(fd, 64)
            if not data:
                return True if answered or self._died_of_sigint() else None
            if b"r" in data:
                self._ready = True
            answered = answered or b"i" in data

    def _died_of_sigint(self) -> bool:
        """The witness's answers ended: reap it; True if a SIGINT killed it."""
        proc, self._proc = self._proc, None
        if proc is None:
            return False
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        try:
            code = proc.wait(_REAP_WAIT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return False
        return code == -signal.SIGINT

    def close(self) -> None:
        """End the witness and reap it (killed: it holds nothing, and waiting for it would cost time)."""
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            proc.kill()
        except OSError:
            pass
        for pipe in (proc.stdin, proc.stdout):
            if pipe is not None:
                pipe.close()
        proc.wait()


def _block_sigint() -> set[signal.Signals] | None:
    """Block SIGINT in this thread (a child spawned now inherits it blocked); the mask before, or None."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    try:
        return signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    except (OSError, ValueError):
        return None
