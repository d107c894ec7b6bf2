"""`nextword eval --ghost`: type files asking for ghost text, and count the keystrokes it saves.

The text is typed word by word. At each word start and after each typed letter the session is
asked for its inline suggestion (ghost text) and for its completion list. The user accepts the
ghost text's leading words that match the text (folded, as the list's words are compared), one
key per word (VS Code's "Accept Next Word"), or all of it with one key (Tab) when every word
matches; otherwise types the next letter. Keys are counted with the list's accounting
(text/keystrokes.py, Presage's): a word costs its letters plus a space without prediction, and
the space after an accepted word comes free, as it does after a word picked from the list. Words
accepted after the first need the text between them to be one space, as the ghost text joins
them.

Three users type each text: with the list alone (`nextword eval`'s KSR), with the ghost text
alone, and with both (the ghost text's words when its first is right, else the list's word when
it is among the first N). Ghost text figures also: how often it is shown where the ghost-only
user asks, how often its first word is right when shown, how many words it shows.

One pass per file records the list's rank and the ghost text at every prefix of every word (the
answer depends only on the text before the cursor), and every user is read off those records.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Protocol

from nextword.server.commands.evaluate import (
    FileResult,
    TypingSession,
    WordTrial,
    percent,
    summarize,
)
from nextword.server.engine.inline import GhostWord
from nextword.server.text.keystrokes import accepted_keystrokes
from nextword.server.text.tokenizer import fold, tokenize

Cut = Callable[[list[GhostWord], bool], list[GhostWord]]
"""(the ghost text's words, whether letters were typed) -> the words shown."""


class GhostSession(TypingSession, Protocol):
    def ghost(self) -> list[GhostWord]:
        """The ghost text's words at the cursor (the first: the whole current word)."""


@dataclass
class GhostTrial:
    """One typed word: what the list and the ghost text offered at each prefix asked."""

    target: str
    """The word, folded."""
    length: int
    joined: bool
    """Followed by one space and the next word (a ghost text can run on into it)."""
    list_trial: WordTrial
    ghosts: list[list[GhostWord]] = field(default_factory=list)
    """index = letters typed."""


@dataclass
class GhostFile:
    name: str
    trials: list[GhostTrial]
    empty_last_word: bool
    latencies_ms: list[float]
    seconds: float


@dataclass
class GhostFigures:
    """One user's keys and, for the ghost text, what it showed where that user asked."""

    keys: int = 0
    asked: int = 0
    shown: int = 0
    first_right: int = 0
    words_shown: int = 0
    words_accepted: int = 0
    asked_typing: int = 0
    shown_typing: int = 0
    first_right_typing: int = 0


def record(
    text: str, session: GhostSession, suggestions: int, every_prefix: bool = False
) -> GhostFile:
    """Type `text`, recording the list's ranks until its word is first and the ghost text until
    its first word is right (`every_prefix`: at every prefix, for thresholds applied later)."""
    targets = [t for t in tokenize(text) if t.kind in ("word", "number")]
    trials: list[GhostTrial] = []
    latencies: list[float] = []
    typed_to = 0
    started = time.perf_counter()
    for number, token in enumerate(targets):
        session.type_text(text[typed_to : token.start])
        wanted = fold(token.text)
        following = targets[number + 1] if number + 1 < len(targets) else None
        joined = following is not None and text[token.end : following.start] == " "
        trial = GhostTrial(wanted, len(token.text), joined, WordTrial(len(token.text), True, []))
        trial.list_trial.is_word = token.kind == "word"
        list_done = ghost_done = False
        for typed in range(len(token.text)):
            if typed:
                session.type_text(token.text[typed - 1])
            if not list_done:
                words = [fold(w) for w in session.suggest(suggestions)]
                rank = words.index(wanted) if wanted in words else None
                trial.list_trial.ranks.append(rank)
                list_done = rank == 0
            asked = time.perf_counter()
            ghost = session.ghost() if not ghost_done else []
            latencies.append((time.perf_counter() - asked) * 1000)
            trial.ghosts.append(ghost)
            ghost_done = not every_prefix and bool(ghost) and fold(ghost[0].word) == wanted
            if list_done and ghost_done:
                break
        session.type_text(token.text[max(len(trial.ghosts) - 1, 0) :])
        typed_to = token.end
        trials.append(trial)
    session.type_text(text[typed_to:])
    empty_last = bool(text) and not text[-1].isalnum()
    return GhostFile("", trials, empty_last, latencies, time.perf_counter() - started)


def matching_words(trials: list[GhostTrial], at: int, shown: list[GhostWord]) -> int:
    """How many leading words of `shown` are the text's words from trials[at] on."""
    count = 0
    for offset, word in enumerate(shown):
        index = at + offset
        if index >= len(trials) or fold(word.word) != trials[index].target:
            break
        if offset and not trials[index - 1].joined:
            break
        count += 1
    return count


def type_file(
    trials: list[GhostTrial], cut: Cut, suggestions: int | None, ghost: bool = True
) -> GhostFigures:
    """The keys one user spends: with the ghost text (`ghost`), with the list's first
    `suggestions` (None: no list), or both."""
    figures = GhostFigures()
    at = 0
    while at < len(trials):
        trial = trials[at]
        cost, advance = trial.length + 1, 1
        for typed in range(trial.length):
            shown = (
                cut(trial.ghosts[typed], typed > 0) if ghost and typed < len(trial.ghosts) else []
            )
            if ghost:
                count_shown(figures, trial, shown, typed)
            accepted = matching_words(trials, at, shown)
            if accepted:
                cost = accepted_keystrokes(typed, accepted, accepted == len(shown))
                advance = accepted
                figures.words_accepted += accepted
                break
            ranks = trial.list_trial.ranks
            rank = ranks[typed] if typed < len(ranks) else None
            if suggestions is not None and rank is not None and rank < suggestions:
                cost = typed + 1
                break
        figures.keys += cost
        at += advance
    return figures


def count_shown(
    figures: GhostFigures, trial: GhostTrial, shown: list[GhostWord], typed: int
) -> None:
    right = bool(shown) and fold(shown[0].word) == trial.target
    figures.asked += 1
    figures.shown += bool(shown)
    figures.first_right += right
    figures.words_shown += len(shown)
    if typed:
        figures.asked_typing += 1
        figures.shown_typing += bool(shown)
        figures.first_right_typing += right


@dataclass
class GhostSummary:
    system: str
    words: int
    kn: int
    list_ksr: float
    ghost_ksr: float
    both_ksr: float
    shown_percent: float
    first_right_percent: float
    mean_words: float
    shown_typing_percent: float
    first_right_typing_percent: float
    latency_ms: dict[str, float]
    """Of the inline requests."""


def as_shown(words: list[GhostWord], typed: bool) -> list[GhostWord]:
    return words


def summarize_ghost(
    system: str, files: list[GhostFile], suggestions: int, cut: Cut = as_shown
) -> GhostSummary:
    """The three users' savings and the ghost text's figures over `files`."""
    results = []
    for file in files:
        result = FileResult(file.name, [t.list_trial for t in file.trials])
        result.empty_last_word = file.empty_last_word
        result.latencies_ms = file.latencies_ms
        results.append(result)
    listed = summarize(system, results, [suggestions])
    overhead = sum(r.overhead_keys for r in results)

    def ksr(keys: int) -> float:
        return 100.0 * (1 - (keys + overhead) / listed.kn) if listed.kn else 0.0

    alone, both = GhostFigures(), GhostFigures()
    for file in files:
        add(alone, type_file(file.trials, cut, None))
        add(both, type_file(file.trials, cut, suggestions))
    return GhostSummary(
        system=system,
        words=listed.words,
        kn=listed.kn,
        list_ksr=listed.ksr[suggestions],
        ghost_ksr=ksr(alone.keys),
        both_ksr=ksr(both.keys),
        shown_percent=percent(alone.shown, alone.asked),
        first_right_percent=percent(alone.first_right, alone.shown),
        mean_words=alone.words_shown / alone.shown if alone.shown else 0.0,
        shown_typing_percent=percent(alone.shown_typing, alone.asked_typing),
        first_right_typing_percent=percent(alone.first_right_typing, alone.shown_typing),
        latency_ms=listed.latency_ms,
    )


def add(total: GhostFigures, part: GhostFigures) -> None:
    for name in total.__dataclass_fields__:
        setattr(total, name, getattr(total, name) + getattr(part, name))


def evaluate_ghost(
    system: str,
    paths: list,
    open_session: Callable[[], GhostSession],
    suggestions: int,
    cut: Cut = as_shown,
    every_prefix: bool = False,
) -> tuple[GhostSummary, list[GhostFile]]:
    """Type every file into a fresh session (one document each) and summarize."""
    files: list[GhostFile] = []
    for path in paths:
        session = open_session()
        try:
            file = record(path.read_text(encoding="utf-8"), session, suggestions, every_prefix)
        finally:
            session.close()
        file.name = path.name
        files.append(file)
    return summarize_ghost(system, files, suggestions, cut), files


GHOST_HEADER = (
    "system",
    "words",
    "list KSR %",
    "ghost KSR %",
    "list + ghost KSR %",
    "shown %",
    "first word right %",
    "mean words",
    "shown in a word %",
    "right in a word %",
    "inline p99 ms (no budget)",
)


def ghost_row(summary: GhostSummary) -> list[str]:
    return [
        summary.system,
        str(summary.words),
        f"{summary.list_ksr:.2f}",
        f"{summary.ghost_ksr:.2f}",
        f"{summary.both_ksr:.2f}",
        f"{summary.shown_percent:.1f}",
        f"{summary.first_right_percent:.1f}",
        f"{summary.mean_words:.2f}",
        f"{summary.shown_typing_percent:.1f}",
        f"{summary.first_right_typing_percent:.1f}",
        f"{summary.latency_ms['p99']:.2f}",
    ]


def format_ghost_table(summaries: list[GhostSummary]) -> str:
    rows = ["| " + " | ".join(GHOST_HEADER) + " |", "|" + "---|" * len(GHOST_HEADER)]
    rows += ["| " + " | ".join(ghost_row(s)) + " |" for s in summaries]
    return "\n".join(rows)


def report_ghost(
    system: str,
    paths: list,
    open_session: Callable[[], GhostSession],
    suggestions: int,
    as_json: bool,
) -> int:
    """`nextword eval --ghost`: the table (or one JSON object) for the files typed together."""
    summary, _ = evaluate_ghost(system, paths, open_session, suggestions)
    if as_json:
        print(json.dumps(asdict(summary), indent=2))
    else:
        print(format_ghost_table([summary]))
    return 0
