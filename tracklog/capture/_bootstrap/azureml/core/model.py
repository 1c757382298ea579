"""``azureml.core.model`` (tracklog's stand-in)."""

from azureml.core import Model

__all__ = ["Model"]
