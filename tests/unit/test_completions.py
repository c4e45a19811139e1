"""The shipped completion scripts are what the CLI generates, and completion really completes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

COMPLETIONS = Path(__file__).resolve().parents[2] / "contrib" / "completions"


@pytest.mark.parametrize(("shell", "name"), [("bash", "rpod.bash"), ("zsh", "_rpod"), ("fish", "rpod.fish")])
def test_completion_scripts_are_in_sync(shell: str, name: str) -> None:
    out = subprocess.run([sys.executable, "-m", "rpod", "completion", shell], capture_output=True, text=True,
                         check=True)
    assert out.stdout == (COMPLETIONS / name).read_text(), \
        f"contrib/completions/{name} is stale: run contrib/completions/generate.sh"


def complete(words: str, env: dict[str, str] | None = None) -> list[str]:
    parts = words.split(" ")
    e = dict(env or os.environ, COMP_WORDS=words, COMP_CWORD=str(len(parts) - 1), _RPOD_COMPLETE="bash_complete")
    out = subprocess.run([sys.executable, "-m", "rpod"], env=e, capture_output=True, text=True, check=True)
    return [line.split(",", 1)[1] for line in out.stdout.splitlines() if line.startswith("plain,")]


def test_completes_commands_and_flags() -> None:
    assert {"pull", "images", "image", "info"} <= set(complete("rpod "))
    assert "--quiet" in complete("rpod pull --q")
