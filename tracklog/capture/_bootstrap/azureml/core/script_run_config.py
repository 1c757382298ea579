"""``azureml.core.script_run_config`` (tracklog's stand-in)."""

from azureml.core import ScriptRunConfig

__all__ = ["ScriptRunConfig"]
