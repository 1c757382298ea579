"""In the style of mlflow/examples/sklearn_autolog: autolog, a fit, nested runs, artifacts."""

import json
import os
import tempfile

import mlflow
import mlflow.sklearn
import numpy as np
from sklearn.datasets import load_diabetes
from sklearn.linear_model import ElasticNet
from sklearn.model_selection import train_test_split

mlflow.set_experiment("diabetes")
mlflow.sklearn.autolog(log_models=False)

X, y = load_diabetes(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)

with mlflow.start_run(run_name="sweep") as parent:
    for alpha in (0.1, 0.5):
        with mlflow.start_run(run_name=f"alpha-{alpha}", nested=True):
            model = ElasticNet(alpha=alpha, l1_ratio=0.5, random_state=0)
            model.fit(X_train, y_train)
            rmse = float(np.sqrt(np.mean((model.predict(X_test) - y_test) ** 2)))
            mlflow.log_metric("test_rmse", rmse)
            for epoch in range(3):
                mlflow.log_metric("curve", rmse / (epoch + 1), step=epoch)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "summary.json")
        with open(path, "w") as handle:
            json.dump({"alphas": [0.1, 0.5]}, handle)
        mlflow.log_artifact(path)
        os.makedirs(os.path.join(tmp, "plots"))
        for name in ("a.txt", "b.txt"):
            with open(os.path.join(tmp, "plots", name), "w") as handle:
                handle.write(name)
        mlflow.log_artifacts(os.path.join(tmp, "plots"), artifact_path="plots")
    mlflow.log_text("hello", "notes/hello.txt")
    mlflow.log_params({"dataset": "diabetes", "n_train": len(X_train)})
    mlflow.set_tags({"team": "ml"})
    final = ElasticNet(alpha=0.1, random_state=0).fit(X_train, y_train)
    mlflow.sklearn.log_model(final, name="model", registered_model_name="diabetes-enet",
                             input_example=X_train[:2])

print("PARENT", parent.info.run_id)
