"""In the style of mlflow/examples/quickstart/mlflow_tracking.py: no start_run, the first call starts one."""

import os
import random

from mlflow import log_artifacts, log_metric, log_param, log_params

if __name__ == "__main__":
    rng = random.Random(7)  # its own: MLflow's run names draw from the global one
    log_param("config_value", rng.randint(0, 100))
    log_params({"param1": rng.randint(0, 100), "param2": rng.randint(0, 100)})

    log_metric("accuracy", rng.random() / 2.0)
    log_metric("accuracy", rng.random() + 0.1)
    log_metric("accuracy", rng.random() + 0.2)

    os.makedirs("outputs", exist_ok=True)
    with open("outputs/test.txt", "w") as f:
        f.write("hello world!")
    log_artifacts("outputs")
    print("ok")
