"""A training script that knows nothing about tracklog; ``tracklog run`` makes it a run.

    tracklog run --experiment demo -- python examples/capture_train.py

Its logging records (with their ``extra=`` metrics) land in the run's
logs/python.log, the JSON lines it prints become metrics and tags, stdout and
stderr are kept in logs/std_log.txt, the file it saves under ./outputs is
collected, and its exit status ends the run. The console looks exactly as it
does without tracklog.
"""

import json
import logging
import os
import sys
import time

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
log = logging.getLogger("train")


def main() -> int:
    lr = 0.3
    weight = 5.0
    log.info("training with lr=%s", lr, extra={"params": {"lr": lr}})
    for epoch in range(5):
        weight -= lr * 2 * weight  # gradient step on weight**2
        loss = weight * weight
        # Either way works: a logging record with extra=..., or a JSON line on stdout
        # (what a program in any language can do).
        log.info("epoch %d loss %.4f", epoch, loss, extra={"metric": "loss", "value": loss, "step": epoch})
        print(json.dumps({"metric": "weight", "value": weight, "step": epoch}), flush=True)
        for pct in (50, 100):  # a progress bar redrawn with \r, as tqdm does
            sys.stderr.write(f"\repoch {epoch}: {pct:3d}%")
            sys.stderr.flush()
            time.sleep(0.01)
        sys.stderr.write("\n")
    print(json.dumps({"tags": {"converged": str(loss < 0.1).lower()}}))
    os.makedirs("outputs", exist_ok=True)
    with open(os.path.join("outputs", "model.json"), "w") as handle:
        json.dump({"weight": weight}, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
