"""`nextword complete`: the command-line way to try the model, through the engine path."""

from __future__ import annotations

import subprocess
import sys

from conftest import TINY_BUNDLE

from nextword.server.complete import main


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
