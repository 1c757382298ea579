"""Run names as MLflow makes them when none is given: adjective-animal-number
(``gentle-moth-598``), at most 20 characters, as ``mlflow.utils.name_utils`` spells them
(its own word lists: the shape is MLflow's, not the words)."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from ._mlflow_entities import RUN_NAME_TAG, MlflowRequestError

_ADJECTIVES = (
    "able", "bold", "brave", "bright", "calm", "clever", "crisp", "curious", "daring", "eager",
    "fair", "fast", "fluffy", "gentle", "glad", "grand", "happy", "honest", "jolly", "keen",
    "kind", "lively", "loud", "lucky", "merry", "mighty", "nimble", "noble", "patient", "polite",
    "proud", "quick", "quiet", "rare", "shy", "silent", "sleek", "smart", "sneaky", "steady",
    "sunny", "swift", "tidy", "tiny", "upbeat", "vast", "warm", "wise", "witty", "zesty",
)
_ANIMALS = (
    "ant", "ape", "bass", "bat", "bear", "bee", "bird", "boar", "carp", "cat", "cod", "colt",
    "crab", "crow", "deer", "doe", "dove", "duck", "eel", "elk", "finch", "fish", "fox", "frog",
    "goat", "gull", "hare", "hawk", "hen", "jay", "koi", "lark", "lynx", "mole", "moth", "mouse",
    "newt", "owl", "ox", "panda", "ram", "seal", "shrew", "skink", "slug", "snail", "squid",
    "stork", "swan", "toad", "trout", "wasp", "whale", "wolf", "worm", "wren", "yak",
)
_MAX_LENGTH = 20


def random_run_name() -> str:
    """A new run's name when the caller gives none, as MLflow's stores make it."""
    name = ""
    for _ in range(10):
        name = f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}-{random.randint(0, 1000)}"
        if len(name) <= _MAX_LENGTH:
            return name
    return name[:_MAX_LENGTH]


def new_run_name(run_name: str | None, tags: Mapping[str, Any]) -> str:
    """A new run's name as MLflow's stores choose it: ``run_name``, else its
    ``mlflow.runName`` tag, else a random one; both given and different is MLflow's error."""
    tagged = tags.get(RUN_NAME_TAG)
    if run_name and tagged and run_name != tagged:
        raise MlflowRequestError(
            "Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different "
            f"values (run_name='{run_name}', mlflow.runName='{tagged}')."
        )
    return str(run_name or tagged or random_run_name())
