"""`nextword complete`: the command-line way to try the model, through the engine path."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import TINY_BUNDLE, default_bundle_present

from nextword.server.commands.complete import main


def run(capsys, *argv: str) -> list[list[str]]:
    assert main([*argv, "--bundle", str(TINY_BUNDLE)]) == 0
    return [line.split("\t") for line in capsys.readouterr().out.splitlines()]


def test_partial_word_gives_only_words_with_that_prefix(capsys) -> None:
    rows = run(capsys, "Ladies and gover")
    assert sorted(row[0] for row in rows) == ["govern", "government", "governor"]
    scores = [float(row[1]) for row in rows]
    assert scores == sorted(scores, reverse=True)


def test_a_whole_word_at_the_end_also_lists_next_words(capsys) -> None:
    rows = run(capsys, "--top", "3", "The President of the United")
    assert rows and all(row[2] == "next" for row in rows) and len(rows) == 3
    assert run(capsys, "--top", "3", "The President of the United ") == [r[:2] for r in rows]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("He lived in Dallas,", "right after punctuation"),
        ("see http://exa", "in a URL or address"),
        ("```\nsome code", "in a code block"),
        ("the qqqzx", "no vocabulary or document word starts with what is typed"),
    ],
)
def test_no_completions_says_why(capsys, text: str, reason: str) -> None:
    assert run(capsys, text) == []
    assert main([text, "--bundle", str(TINY_BUNDLE)]) == 0
    assert capsys.readouterr().err.strip() == f"(no completions here: {reason})"


@pytest.mark.skipif(not default_bundle_present(), reason="no default bundle")
@pytest.mark.parametrize(
    ("text", "first"),
    [("The President of the United", "States"), ("Ladies and", "gentlemen")],
)
def test_the_default_model_as_a_new_user_tries_it(text: str, first: str) -> None:
    """The issue's own examples, through the console command a user types."""
    result = subprocess.run(
        [sys.executable, "-m", "nextword.server.cli", "complete", text],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0].split("\t")[0] == first
    gover = subprocess.run(
        [sys.executable, "-m", "nextword.server.cli", "complete", "--top", "50", f"{text} gover"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    words = [line.split("\t")[0] for line in gover.stdout.splitlines()]
    assert words and all(word.lower().startswith("gover") for word in words)


def test_missing_bundle_is_reported_not_raised(tmp_path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nextword.server.cli", "complete", "--bundle", str(tmp_path), "x"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1 and "manifest.json is missing" in result.stderr
    assert result.stdout == ""


def test_serve_logs_to_the_log_file_never_to_stdout(tmp_path) -> None:
    log_file = tmp_path / "server.log"
    command = [sys.executable, "-m", "nextword.server.cli", "serve", "-v"]
    result = subprocess.run(
        [*command, "--log-file", str(log_file), "--bundle", str(TINY_BUNDLE)],
        input=b"",
        capture_output=True,
        timeout=60,
    )
    assert result.stdout == b""
    assert log_file.read_text().strip() and result.stderr == b""
