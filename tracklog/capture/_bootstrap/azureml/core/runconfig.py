"""``azureml.core.runconfig`` (tracklog's stand-in)."""

from azureml.core import RunConfiguration

__all__ = ["RunConfiguration"]
