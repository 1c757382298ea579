"""A full pipeline answers HTTP 429 / gRPC UNAVAILABLE, and the SDK's retry delivers everything."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest

import tracklog
from tests.receivers.conftest import send, start_sender


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_full_pipeline_makes_the_sdk_retry_and_nothing_is_lost(receive, tmp_path, protocol: str) -> None:
    """While another process holds the workspace's write lock the queue fills; the receiver asks
    clients to retry; once the lock goes, every record is stored."""
    receiver = receive(env={"TRACKLOG_QUEUE_CAPACITY": "400"})
    endpoint = receiver.http if protocol == "http" else receiver.grpc
    send(protocol, endpoint, "--records", "1", "--no-traces", "--no-metrics")  # the run exists
    lock = sqlite3.connect(tmp_path / "ws" / "tracklog.db", timeout=30, check_same_thread=False)
    lock.execute("BEGIN IMMEDIATE")
    released = threading.Timer(4.0, lock.rollback)
    try:
        sender = start_sender(protocol, endpoint, "--records", "3000", "--no-traces", "--no-metrics")
        started = time.monotonic()
        released.start()  # 4 s after the first record, not after the sender's slow imports
        _, errors = sender.communicate(timeout=180)
        took = time.monotonic() - started
        assert sender.returncode == 0, errors
    finally:
        released.cancel()
        lock.rollback()
        lock.close()
    assert receiver.stop() == 0
    assert "asked clients to retry" in receiver.stderr, receiver.stderr
    assert took >= 3.0  # the sender waited for the lock to go, through its retries
    (run,) = tracklog.Workspace(tmp_path / "ws", create=False).get_experiment("Default").get_runs()
    steps = [p.step for p in run.get_metric_history("loss")]
    assert sorted(steps) == sorted([0, *range(3000)])
    assert len(run.get_logs()) == (1 + 1) + (3000 + 1)  # each sender adds a "settings" record
