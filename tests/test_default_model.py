"""The bundled default model, tried as a new user would: through the console command."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

NEXTWORD = Path(sys.executable).with_name("nextword")


def next_words(text: str) -> list[str]:
    """What `nextword complete` offers after TEXT and a space, best first."""
    done = subprocess.run(
        [str(NEXTWORD), "complete", text + " ", "--top", "6"],
        capture_output=True, text=True, timeout=120, check=True,
    )  # fmt: skip
    return [line.split("\t")[0] for line in done.stdout.splitlines() if line.strip()]


@pytest.mark.parametrize(
    ("text", "expected", "within"),
    [
        ("Please let me know if you have any", "questions", 1),
        ("This pull request fixes a", "bug", 3),
        ("As a matter of", "fact", 1),
    ],
)
def test_modern_phrases_are_completed(text: str, expected: str, within: int) -> None:
    offered = next_words(text)
    assert expected in offered[:within], f"{text!r} -> {offered}"
