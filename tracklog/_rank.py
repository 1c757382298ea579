"""The distributed rank of this process, read from the launcher's environment."""

from __future__ import annotations

import os

# torchrun/accelerate set RANK; Open MPI, MPICH/Intel MPI and Slurm set their own.
_RANK_VARS = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID")
_LOCAL_RANK_VARS = ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID")


def _first_int(names: tuple[str, ...]) -> int | None:
    for name in names:
        raw = os.environ.get(name)
        if raw is not None and raw.strip().lstrip("-").isdigit():
            return int(raw)
    return None


def current_rank() -> int | None:
    """The global rank (RANK and kin), else the local rank, else None when not distributed."""
    rank = _first_int(_RANK_VARS)
    return rank if rank is not None else _first_int(_LOCAL_RANK_VARS)
