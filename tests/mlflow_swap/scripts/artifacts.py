"""Artifacts of every kind: files, folders, text, dicts, figures, images, tables."""

import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from PIL import Image

mlflow.set_experiment("swap-artifacts")
os.makedirs("report/sub", exist_ok=True)
with open("summary.txt", "w") as f:
    f.write("all good\n")
with open("report/a.csv", "w") as f:
    f.write("x,y\n1,2\n")
with open("report/sub/b.txt", "w") as f:
    f.write("b")

with mlflow.start_run(run_name="r-artifacts") as run:
    mlflow.log_artifact("summary.txt")
    mlflow.log_artifact("summary.txt", artifact_path="copies")
    mlflow.log_artifacts("report", artifact_path="report")
    mlflow.log_text("line one\nline two\n", "notes/text.txt")
    mlflow.log_dict({"lr": 0.1, "layers": [64, 32]}, "config.json")
    mlflow.log_dict({"lr": 0.1, "layers": [64, 32]}, "config.yaml")
    fig, ax = plt.subplots()
    ax.plot([0, 1, 2], [0, 1, 4])
    mlflow.log_figure(fig, "plots/curve.png")
    plt.close(fig)
    mlflow.log_image(np.zeros((8, 8, 3), dtype=np.uint8), "images/black.png")
    mlflow.log_image(np.linspace(0, 1, 64).reshape(8, 8), "images/ramp.png")
    mlflow.log_image(Image.new("RGB", (6, 4), (255, 0, 0)), "images/red.png")
    mlflow.log_table({"inputs": ["a", "b"], "score": [0.1, 0.2]}, "eval/table.json")
    mlflow.log_table(pd.DataFrame({"inputs": ["c"], "score": [0.3]}), "eval/table.json")
    uri = mlflow.get_artifact_uri()
    assert uri == run.info.artifact_uri, (uri, run.info.artifact_uri)
    assert mlflow.get_artifact_uri("config.json") == uri + "/config.json"
print("ok")
