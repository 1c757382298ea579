"""A small training script that logs the way Python programs already do.

    python examples/train.py && tracklog show latest

It configures plain ``logging.basicConfig`` with tracklog's RunHandler beside the
console handler, logs metrics through ``extra=`` and through the run API, and
leaves everything in ./.tracklog.
"""

from __future__ import annotations

import logging
import math
import random

import tracklog
from tracklog.handlers import RunHandler

logging.basicConfig(
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    handlers=[logging.StreamHandler(), RunHandler()],
)
log = logging.getLogger("train")


def main(epochs: int = 5, lr: float = 0.1) -> str:
    experiment = tracklog.Experiment(tracklog.Workspace(), "example-train")
    with experiment.start_logging("ridge-sgd") as run:
        run.log_param("lr", lr)
        run.log_param("epochs", epochs)
        run.tag("model", "ridge")
        random.seed(0)
        weight, loss = 0.0, float("inf")
        for epoch in range(epochs):
            # one noisy gradient step on y = 3x
            grad = sum(2 * (weight * x - 3 * x) * x for x in (random.uniform(-1, 1) for _ in range(64))) / 64
            weight -= lr * grad * 10
            loss = (weight - 3) ** 2
            log.info(
                "epoch %d loss %.4f",
                epoch,
                loss,
                extra={"metrics": {"loss": loss, "weight": weight}, "step": epoch},
            )
            run.log_row("weights", epoch=epoch, weight=weight)
        run.log("final_loss", loss)
        run.log_list("lr_schedule", [lr * math.cos(i / epochs) for i in range(epochs)])
        log.info("done", extra={"tags": {"converged": str(loss < 0.1)}})
        return run.id


if __name__ == "__main__":
    print(f"run {main()}")
