"""``azureml.core.experiment`` (tracklog's stand-in)."""

from azureml.core import Experiment

__all__ = ["Experiment"]
