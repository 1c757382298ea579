"""A real ``tracklog receive`` in a subprocess on free ports, and the SDK sender beside it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Iterator

import pytest

SENDER = Path(__file__).with_name("otlp_sender.py")
_LINE = re.compile(r"OTLP/HTTP at (?P<http>http://[\d.]+:\d+)(, OTLP/gRPC at (?P<grpc>[\d.]+:\d+))?")


class Receiver:
    """A ``tracklog receive`` process: its URLs, its workspace, and how to stop it."""

    def __init__(self, workspace: Path, *options: str, env: dict[str, str] | None = None) -> None:
        self.workspace = workspace
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tracklog", "receive", "-w", str(workspace), "--http-port", "0",
             "--grpc-port", "0", *options],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, **(env or {})},
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        found = _LINE.search(line)
        if found is None:
            self.proc.kill()
            raise AssertionError(f"tracklog receive did not start: {line!r} {self.proc.stderr.read()!r}")
        self.http = found["http"]
        self.grpc = found["grpc"]
        self.stderr = ""

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it; its exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            _, self.stderr = self.proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            _, self.stderr = self.proc.communicate()
        return self.proc.returncode


@pytest.fixture
def receive(tmp_path: Path) -> Iterator:
    """Start receivers (``receive(*options, env=...)``); every one is stopped after the test."""
    started: list[Receiver] = []

    def start(*options: str, env: dict[str, str] | None = None, workspace: Path | None = None) -> Receiver:
        receiver = Receiver(workspace or tmp_path / "ws", *options, env=env)
        started.append(receiver)
        return receiver

    yield start
    for receiver in started:
        receiver.stop()


def send(protocol: str, endpoint: str, *options: str, timeout: float = 180) -> subprocess.CompletedProcess:
    """Run the SDK sender in its own process until it has exported everything."""
    done = subprocess.run(
        _sender_command(protocol, endpoint, *options),
        capture_output=True, text=True, timeout=timeout, env=_sender_env(),
    )
    assert done.returncode == 0, done.stderr
    return done


def start_sender(protocol: str, endpoint: str, *options: str) -> subprocess.Popen:
    """Start the SDK sender and return once it says it is sending (its imports, slow on a
    busy machine, are behind it): its stdout and stderr are pipes."""
    proc = subprocess.Popen(
        [*_sender_command(protocol, endpoint, *options), "--announce"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=_sender_env(),
    )
    line = proc.stderr.readline() if proc.stderr else ""
    assert line.strip() == "sending", line + (proc.stderr.read() if proc.stderr else "")
    return proc


def _sender_command(protocol: str, endpoint: str, *options: str) -> list[str]:
    return [sys.executable, str(SENDER), "--protocol", protocol, "--endpoint", endpoint, *options]


def _sender_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("OTEL_", "TRACKLOG_"))}


def wait_for(check, timeout: float = 60.0, every: float = 0.2):  # type: ignore[no-untyped-def]
    """``check()``'s first truthy value within ``timeout`` seconds, else its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(every)
