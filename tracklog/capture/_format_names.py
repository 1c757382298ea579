"""The names ``tracklog ingest --format`` takes, apart from their decoders (``_formats``): the
command line is built with them, and the decoders load only when something is ingested."""

from __future__ import annotations

FORMATS = ("auto", "text", "docker", "cri", "journald")
