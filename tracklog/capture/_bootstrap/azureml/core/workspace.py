"""``azureml.core.workspace`` (tracklog's stand-in)."""

from azureml.core import Workspace

__all__ = ["Workspace"]
