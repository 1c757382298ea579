"""Azure ML's Environment and CondaDependencies, accepted and not built.

A local run uses the Python it is started from (Azure's user-managed environment):
``ScriptRunConfig(environment=...)`` notes once that the environment is not built.
Its ``environment_variables`` are set for the script, as Azure sets them.
"""

from __future__ import annotations

import os
from typing import Any, Iterable


class _Section:
    """A settings section (``env.python``, ``env.docker``): any attribute may be set."""

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.__dict__!r})"


class CondaDependencies:
    """Azure's CondaDependencies: kept as lists of packages, never installed."""

    def __init__(self, conda_dependencies_file_path: str | None = None, **_ignored: Any) -> None:
        self.conda_packages: list[str] = []
        self.pip_packages: list[str] = []
        self.channels: list[str] = ["conda-forge"]
        self.file = conda_dependencies_file_path

    @classmethod
    def create(
        cls,
        pip_packages: Iterable[str] | None = None,
        conda_packages: Iterable[str] | None = None,
        python_version: str | None = None,
        **_ignored: Any,
    ) -> CondaDependencies:
        deps = cls()
        deps.pip_packages = list(pip_packages or [])
        deps.conda_packages = list(conda_packages or [])
        return deps

    def add_pip_package(self, pip_package: str) -> None:
        self.pip_packages.append(pip_package)

    def add_conda_package(self, conda_package: str) -> None:
        self.conda_packages.append(conda_package)

    def add_channel(self, channel: str) -> None:
        self.channels.append(channel)

    def serialize_to_string(self) -> str:
        lines = ["dependencies:"] + [f"  - {p}" for p in self.conda_packages]
        if self.pip_packages:
            lines += ["  - pip:"] + [f"    - {p}" for p in self.pip_packages]
        return "\n".join(lines) + "\n"


class Environment:
    """Azure's Environment: a name, python/docker settings and environment variables."""

    _registered: dict[str, Environment] = {}

    def __init__(self, name: str = "tracklog-local", **_ignored: Any) -> None:
        self.name = name
        self.version: str | None = None
        self.python = _Section(user_managed_dependencies=True, conda_dependencies=None, interpreter_path=None)
        self.docker = _Section(enabled=False, base_image=None)
        self.environment_variables: dict[str, str] = {}

    @classmethod
    def from_conda_specification(cls, name: str, file_path: str) -> Environment:
        env = cls(name)
        env.python.conda_dependencies = CondaDependencies(os.fspath(file_path))
        return env

    @classmethod
    def from_pip_requirements(cls, name: str, file_path: str, pip_version: str | None = None) -> Environment:
        env = cls(name)
        env.python.conda_dependencies = CondaDependencies(os.fspath(file_path))
        return env

    @classmethod
    def from_existing_conda_environment(cls, name: str, conda_environment_name: str) -> Environment:
        return cls(name)

    @classmethod
    def get(cls, workspace: object, name: str, version: str | None = None, label: str | None = None) -> Environment:
        """A registered environment, else a new one of that name (curated ones included)."""
        return cls._registered.get(name) or cls(name)

    @classmethod
    def list(cls, workspace: object) -> dict[str, Environment]:
        return dict(cls._registered)

    def register(self, workspace: object) -> Environment:
        Environment._registered[self.name] = self
        return self

    def build(self, workspace: object, image_build_compute: object = None) -> None:
        """Nothing to build: the local Python is the environment."""

    def build_local(self, workspace: object, platform: object = None, **_ignored: Any) -> None:
        """Nothing to build: the local Python is the environment."""

    def __repr__(self) -> str:
        return f"Environment({self.name!r})"
