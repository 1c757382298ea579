"""``azureml.core.conda_dependencies`` (tracklog's stand-in)."""

from azureml.core._tracklog import load as _load

CondaDependencies = _load().CondaDependencies

__all__ = ["CondaDependencies"]
