"""The code blocks of README.md and docs/*.md, and a way to run one as a real process.

What the test changes in a block before running it is decided in tests/test_docs.py;
this module only finds the blocks and runs programs.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^`\s]*)[ \t]*$")


@dataclass(frozen=True)
class Block:
    """One fenced block: ``doc`` relative to the repo root, ``line`` the 1-based line of its
    opening fence, ``lang`` the word after the fence ("" when none), ``source`` dedented."""

    doc: str
    line: int
    lang: str
    source: str

    @property
    def id(self) -> str:
        return f"{self.doc}:{self.line}"


def doc_files() -> list[Path]:
    """README.md, then docs/*.md in name order."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def blocks_of(path: Path) -> list[Block]:
    """The fenced blocks of one Markdown file, also those indented inside list items."""
    lines = path.read_text(encoding="utf-8").splitlines()
    doc = path.relative_to(ROOT).as_posix()
    found: list[Block] = []
    index = 0
    while index < len(lines):
        opening = _FENCE.match(lines[index])
        if opening is None:
            index += 1
            continue
        indent = opening["indent"]
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        if end == len(lines):
            raise ValueError(f"{doc}:{index + 1}: a code fence that is never closed")
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[index + 1:end]]
        found.append(Block(doc, index + 1, opening["lang"], "\n".join(body) + "\n"))
        index = end + 1
    return found


def all_blocks() -> list[Block]:
    return [block for path in doc_files() for block in blocks_of(path)]


@dataclass(frozen=True)
class Finished:
    returncode: int
    stdout: str
    stderr: str


def run_process(command: list[str], cwd: Path, env: dict[str, str], timeout: float) -> Finished:
    """Run ``command`` in its own process group; on timeout the whole group is killed."""
    proc = subprocess.Popen(
        command, cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, errors="replace", start_new_session=True,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
        stderr += f"\n[docs test: killed after {timeout:.0f} s]"
        return Finished(-signal.SIGKILL, stdout, stderr)
    finally:
        try:  # anything the block left running in the background goes too
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return Finished(proc.returncode, stdout, stderr)
