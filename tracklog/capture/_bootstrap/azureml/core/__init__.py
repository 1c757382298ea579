"""``azureml.core`` for a v1 script under ``tracklog run`` when azureml-core is not
installed: the names re-exported from tracklog, which logs into the run."""

from azureml.core._tracklog import load as _load

_tracklog = _load()

Run = _tracklog.Run
Workspace = _tracklog.Workspace
Experiment = _tracklog.Experiment
ScriptRunConfig = _tracklog.ScriptRunConfig
RunConfiguration = _tracklog.RunConfiguration
Environment = _tracklog.Environment
Model = _tracklog.Model
VERSION = _tracklog.__version__

__all__ = [
    "Environment", "Experiment", "Model", "Run", "RunConfiguration", "ScriptRunConfig", "VERSION", "Workspace",
]
