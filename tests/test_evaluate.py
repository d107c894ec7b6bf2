"""`nextword eval`: Presage's keystroke accounting, the typing simulation, and both drivers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import TINY_BUNDLE
from hypothesis import given, settings
from hypothesis import strategies as st

from nextword.server.commands.evaluate import (
    FileResult,
    WordTrial,
    evaluate_files,
    keystrokes_for,
    simulate,
    summarize,
)
from nextword.server.commands.sessions import completion_words, engine_session_factory
from nextword.server.text.tokenizer import fold, word_prefix_at


class ScriptedSession:
    """Records the text it receives; suggests from a fixed table {typed prefix: words}."""

    def __init__(self, table: dict[str, list[str]] | None = None) -> None:
        self.text = ""
        self.table = table or {}
        self.asked: list[str] = []

    def type_text(self, text: str) -> None:
        self.text += text

    def suggest(self, limit: int) -> list[str]:
        line = self.text.rsplit("\n", 1)[-1]
        prefix = word_prefix_at(line, len(line))[1]
        self.asked.append(prefix)
        return self.table.get(prefix.lower(), [])[:limit]

    def close(self) -> None:
        pass


def test_cost_follows_presage_rule() -> None:
    # "house": offered at rank 2 after 2 letters, at rank 0 after 3.
    trial = WordTrial(length=5, is_word=True, ranks=[None, None, 2, 0])
    assert keystrokes_for(trial, 1) == 4  # 3 letters + select
    assert keystrokes_for(trial, 3) == 3  # 2 letters + select
    assert keystrokes_for(trial, 6) == 3
    never = WordTrial(length=5, is_word=True, ranks=[None] * 5)
    assert keystrokes_for(never, 6) == 6  # all letters + space
    first_try = WordTrial(length=5, is_word=True, ranks=[0])
    assert keystrokes_for(first_try, 1) == 1


def test_simulation_types_the_exact_text_and_asks_before_each_letter() -> None:
    text = "Ab cd, ab!\n\nDon't 42 go."
    session = ScriptedSession({"": ["ab"], "c": ["cd"]})
    result = simulate(text, session, 3)
    assert session.text == text
    # ab: hit at once; cd: after "c"; ab: at once; don't: never (5 letters asked);
    # 42: never (2 asked); go: never (2 asked).
    assert [t.ranks for t in result.trials] == [
        [0], [None, 0], [0], [None] * 5, [None] * 2, [None] * 2,
    ]  # fmt: skip
    assert session.asked[:4] == ["", "", "c", ""]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from("ab c'-.\n\u00e9\U0001f600"), max_size=60))
def test_simulation_reproduces_any_text(text: str) -> None:
    session = ScriptedSession({"": ["a", "b"], "a": ["ab"]})
    simulate(text, session, 6)
    assert session.text == text


def test_summary_counts_like_presage_simulator() -> None:
    result = FileResult("f", trials=[WordTrial(3, True, [0]), WordTrial(4, True, [None] * 4)])
    result.empty_last_word = True
    summary = summarize("x", [result], [6])
    kn = 4 + 5 + 1
    keys = 1 + 5 + 2  # word costs + ks's initial 1 + the empty last word
    assert summary.kn == kn
    assert summary.ksr[6] == pytest.approx(100 * (1 - keys / kn))
    assert summary.next_word_top1 == 50.0


def test_completion_words_follow_sort_text() -> None:
    result = {
        "isIncomplete": True,
        "items": [
            {"label": "b", "sortText": "0001", "textEdit": {"newText": "Bee", "range": {}}},
            {"label": "a", "sortText": "0000"},
        ],
    }
    assert completion_words(result) == ["a", "Bee"]


PRESAGE_TEXT = """the cat sat on the mat and the dog sat on the cat. the man
said that the dog was in the house, and the cat was on the mat.

she said that he was not in the house when the man came to see the dog.
"""


def replay_presage(trace: list[tuple[str, str, list[str]]]) -> list[dict[str, list[str]]]:
    """Presage's predictions grouped per word: [{typed prefix: predictions}]."""
    words: list[dict[str, list[str]]] = []
    for _target, prefix, predictions in trace:
        if not prefix:
            words.append({})
        words[-1][prefix] = predictions
    return words


class ReplaySession(ScriptedSession):
    def __init__(self, words: list[dict[str, list[str]]]) -> None:
        super().__init__()
        self.words = words

    def suggest(self, limit: int) -> list[str]:
        line = self.text.rsplit("\n", 1)[-1]
        prefix = word_prefix_at(line, len(line))[1]
        finished = len(_words(self.text[: len(self.text) - len(prefix)]))
        return self.words[finished].get(prefix.lower(), [])[:limit]


def _words(text: str) -> list[str]:
    from nextword.server.text.tokenizer import tokenize

    return [t.text for t in tokenize(text) if t.kind == "word"]


@pytest.mark.skipif(not shutil.which("presage_simulator"), reason="presage is not installed")
def test_accounting_matches_presage_simulator_key_for_key(tmp_path: Path) -> None:
    """Replay the predictions presage_simulator made: our KSR must equal the one it prints."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    import presage_eval

    text_file = tmp_path / "text.txt"
    text_file.write_text(PRESAGE_TEXT, encoding="ascii")
    with_user = tmp_path / "user"
    config = presage_eval.write_config(presage_eval.stock_database(), 6, with_user)
    output = subprocess.run(
        ["presage_simulator", "-i", "-c", str(config), str(text_file)],
        capture_output=True, text=True, check=True, env={"HOME": str(with_user)},
    ).stdout  # fmt: skip
    figures = presage_eval.parse_report(output)
    session = ReplaySession(replay_presage(presage_eval.parse_trace(output)))
    result = simulate(PRESAGE_TEXT, session, 6)
    summary = summarize("replay", [result], [6])
    assert summary.kn == figures["kn"]
    assert summary.ksr[6] == pytest.approx(figures["KSR"], abs=1e-3)
    assert fold(session.text) == fold(PRESAGE_TEXT)


def test_engine_and_lsp_paths_give_the_same_figures(tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text(
        "The President of the United States spoke to the people.\n\n"
        "It was the best of times, it was the worst of times.\n",
        encoding="utf-8",
    )
    figures = []
    for extra in ([], ["--lsp"]):
        completed = subprocess.run(
            [sys.executable, "-m", "nextword.server.cli", "eval", "--text", str(text),
             "--bundle", str(TINY_BUNDLE), "--json", "--quiet", *extra],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        figures.append(json.loads(completed.stdout))
    engine, lsp = figures
    assert engine["words"] == lsp["words"] == 22
    assert engine["ksr"] == lsp["ksr"]
    assert engine["hit_rate_by_prefix"] == lsp["hit_rate_by_prefix"]
    assert engine["requests"] == lsp["requests"] > engine["words"]


def test_document_cache_switch_changes_the_ranking() -> None:
    """With the cache weight at 0, words typed earlier get no bonus: the figures differ."""
    text = Path(__file__).resolve().parent / "data" / "bench" / "heldout" / "mobydick.txt"
    on = evaluate_files("on", [text], engine_session_factory(str(TINY_BUNDLE), True), [6], False)
    off = evaluate_files("off", [text], engine_session_factory(str(TINY_BUNDLE), False), [6], False)
    assert on.words == off.words
    assert on.ksr[6] != off.ksr[6]


def test_cli_reports_missing_files(tmp_path: Path) -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "nextword.server.cli", "eval", "--text", str(tmp_path / "no.txt")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert completed.returncode == 2
    assert "no such file" in completed.stderr
