"""`nextword eval --ghost` (commands/ghost.py): the ghost text's keystroke accounting, the typing
that records it, and the engine and stdio paths agreeing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from conftest import TINY_BUNDLE
from test_evaluate import ScriptedSession

from nextword.server.commands.evaluate import WordTrial
from nextword.server.commands.ghost import GhostFile, GhostTrial, record, summarize_ghost, type_file
from nextword.server.engine.inline import GhostWord
from nextword.server.text.tokenizer import word_prefix_at

SENTENCE = ("ladies", "and", "gentlemen")
KN = sum(len(word) + 1 for word in SENTENCE)


def trials(ghosts: dict[tuple[int, int], list[str]], joined: bool = True) -> list[GhostTrial]:
    """The three words of SENTENCE, the ghost text at (word, letters typed) from `ghosts`, the
    list never offering anything."""
    made = []
    for index, word in enumerate(SENTENCE):
        trial = GhostTrial(word, len(word), joined, WordTrial(len(word), True, []))
        trial.ghosts = [
            [GhostWord(w, 1.0) for w in ghosts.get((index, typed), [])]
            for typed in range(len(word))
        ]
        made.append(trial)
    return made


def keys(ghosts: dict[tuple[int, int], list[str]], joined: bool = True) -> int:
    return type_file(trials(ghosts, joined), lambda words, typed: words, None).keys


def test_the_whole_phrase_right_costs_one_key() -> None:
    assert keys({(0, 0): ["Ladies", "and", "gentlemen"]}) == 1  # Tab


def test_each_word_accepted_costs_one_key() -> None:
    # Two words right, the third wrong: "accept next word" twice, then gentlemen typed in full.
    assert keys({(0, 0): ["Ladies", "and", "boys"]}) == 2 + len("gentlemen") + 1


def test_letters_typed_before_the_ghost_text_is_right_count() -> None:
    # Wrong at the word start, right after two letters: 2 letters + 1 key; the rest typed.
    ghosts = {(0, 0): ["Lords"], (0, 2): ["ladies", "and", "gentlemen"]}
    assert keys(ghosts) == 2 + 1
    assert keys({}) == KN  # never right: every letter and space


def test_words_accepted_together_must_be_one_space_apart() -> None:
    """Ghost text joins its words with a space: after "ladies," it cannot run on."""
    ghosts = {(0, 0): ["Ladies", "and", "gentlemen"]}
    assert keys(ghosts, joined=False) == 1 + len("and") + 1 + len("gentlemen") + 1


def test_with_the_list_the_cheaper_offer_is_taken_first() -> None:
    made = trials({(2, 3): ["gentlemen"]})
    made[1].list_trial.ranks = [None, 0]  # "and" first in the list after one letter
    made[2].list_trial.ranks = [None, None, None, None, 4]
    both = type_file(made, lambda words, typed: words, 6)
    # ladies typed (7), and: 1 letter + pick (2), gentlemen: ghost after 3 letters (4).
    assert both.keys == 7 + 2 + 4
    ghost_only = type_file(made, lambda words, typed: words, None)
    assert ghost_only.keys == 7 + 4 + 4
    list_only = type_file(made, lambda words, typed: words, 6, ghost=False)
    assert list_only.keys == 7 + 2 + 5


def test_shown_and_right_are_counted_where_the_user_asks() -> None:
    made = trials({(0, 0): ["Lords"], (0, 1): ["ladies"], (1, 0): ["and", "gentlemen"]})
    figures = type_file(made, lambda words, typed: words, None)
    # Asked: ladies at 0 (wrong), 1 (right); and at 0 (right, both words): 3 asks, all shown.
    assert (figures.asked, figures.shown, figures.first_right) == (3, 3, 2)
    assert (figures.asked_typing, figures.shown_typing, figures.first_right_typing) == (1, 1, 1)
    assert figures.words_shown == 1 + 1 + 2 and figures.words_accepted == 3
    file = GhostFile("t", made, False, [1.0], 0.0)
    summary = summarize_ghost("t", [file], 6)
    assert summary.ghost_ksr == 100.0 * (1 - (2 + 1 + 1) / KN)  # + the initial selection key
    assert summary.first_right_percent == 100.0 * 2 / 3 and summary.mean_words == 4 / 3


class GhostScript(ScriptedSession):
    """ScriptedSession with ghost text from a table {typed prefix: words}."""

    def __init__(self, ghosts: dict[str, list[str]]) -> None:
        super().__init__()
        self.ghosts = ghosts

    def ghost(self) -> list[GhostWord]:
        line = self.text.rsplit("\n", 1)[-1]
        prefix = word_prefix_at(line, len(line))[1]
        return [GhostWord(w, 1.0) for w in self.ghosts.get(prefix, [])]


def test_recording_types_the_exact_text() -> None:
    text = "Ladies and gentlemen, the end.\n"
    session = GhostScript({"Ladi": ["Ladies", "and"]})
    file = record(text, session, 6)
    assert session.text == text
    assert [t.target for t in file.trials] == ["ladies", "and", "gentlemen", "the", "end"]
    assert [t.joined for t in file.trials] == [True, True, False, True, False]
    # The list never offers "ladies": asked at every prefix; the ghost text, until right at 4.
    assert [len(ghost) for ghost in file.trials[0].ghosts] == [0, 0, 0, 0, 2, 0]
    assert session.asked == ["", "L", "La", "Lad", "Ladi", "Ladie", *session.asked[6:]]


def test_engine_and_lsp_paths_give_the_same_figures(tmp_path: Path) -> None:
    text = tmp_path / "t.txt"
    text.write_text(
        "Zorblat Quenwick came. Then Zorblat Quenwick left. We met Zorblat Quenwick again.\n\n"
        "The people of the town met the people of the city.\n",
        encoding="utf-8",
    )
    figures = []
    for extra in ([], ["--lsp"]):
        completed = subprocess.run(
            [sys.executable, "-m", "nextword.server.cli", "eval", "--ghost", "--text", str(text),
             "--bundle", str(TINY_BUNDLE), "--json", "--quiet", *extra],
            capture_output=True, text=True, check=True, timeout=120,
        )  # fmt: skip
        figures.append(json.loads(completed.stdout))
    engine, lsp = figures
    for figures_of in (engine, lsp):
        figures_of.pop("latency_ms"), figures_of.pop("system")
    assert engine == lsp
    assert engine["ghost_ksr"] > 0 and engine["shown_percent"] > 0
    assert engine["both_ksr"] >= engine["list_ksr"]
