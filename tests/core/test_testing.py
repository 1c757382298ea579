"""tracklog.testing.capture_run gives users a throwaway run to assert on."""

from __future__ import annotations

import logging

import tracklog
from tracklog.testing import capture_run


def _train():
    logging.getLogger("lib").info("epoch", extra={"metric": "loss", "value": 0.5})
    tracklog.log_metric("acc", 0.9)
    tracklog.Run.get_context().tag("done")


def test_capture_run_collects_logging_and_both_vocabularies():
    """Records, log_metric and get_context() calls inside the block land in the captured run."""
    with capture_run() as run:
        _train()
    assert run.get_metrics() == {"loss": 0.5, "acc": 0.9}
    assert {k: v for k, v in run.get_tags().items() if not k.startswith("tracklog.")} == {"done": ""}
    assert [r["message"] for r in run.get_logs(logger="lib")] == ["epoch"]
    assert run.status == "Completed"
    from tracklog.handlers import RunHandler

    assert not any(isinstance(h, RunHandler) for h in logging.getLogger().handlers)
