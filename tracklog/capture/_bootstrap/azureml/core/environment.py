"""``azureml.core.environment`` (tracklog's stand-in)."""

from azureml.core import Environment

__all__ = ["Environment"]
