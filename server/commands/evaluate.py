"""`nextword eval`: type files through the completion path and count the keystrokes saved.

Accounting is that of Presage's `presage_simulator` (so figures compare with Presage's): each
word (and number) costs `kn = letters + 1` (the space) without prediction. With prediction the
user types letters until the word is among the first N suggestions, then one key selects it and
the space comes free; a word never offered costs all its letters plus the space. Completions are
asked for before each letter (prefix lengths 0 .. letters-1). Punctuation and spaces cost nothing
either way. Two quirks of `presage_simulator` are copied so that totals agree key for key: it
counts one selection key per file up front (ks starts at 1), and a file that does not end in a
letter or digit ends with an empty word costing one key (kn and ki each + 1).
KSR = 1 - (ki + ks) / kn.

Also reported: next-word recall with nothing typed (top-1 / top-3), the hit rate by the number
of letters typed (a word already top-1 at a shorter prefix counts as a hit: the simulation stops
asking once it is), and the time per completion request.

Every figure comes from one pass per file: at each prefix the rank of the word among
max(--suggestions) completions is recorded, and the cost for every N is read off those ranks.
That is exact for engines whose answer depends only on the document text and cursor.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from nextword.server.commands.progress import progress_bar
from nextword.server.text.keystrokes import keystrokes
from nextword.server.text.tokenizer import fold, tokenize

log = logging.getLogger(__name__)

PREFIX_BUCKETS = (0, 1, 2, 3, 4)
"""Prefix lengths reported separately; the last one collects that many letters or more."""


class TypingSession(Protocol):
    """One document being typed at its end: the interface every evaluated system implements."""

    def type_text(self, text: str) -> None:
        """Append text at the end of the document (the cursor stays at the end)."""

    def suggest(self, limit: int) -> list[str]:
        """Up to `limit` completion words at the cursor, best first."""

    def close(self) -> None: ...


@dataclass
class WordTrial:
    """One typed word: its length and its rank among the suggestions at each prefix asked."""

    length: int
    is_word: bool
    ranks: list[int | None]  # index = letters typed; None: not among the suggestions


def keystrokes_for(trial: WordTrial, suggestions: int) -> int:
    """Keys to enter the word and its space with `suggestions` offered."""
    offered = (rank is not None and rank < suggestions for rank in trial.ranks)
    return keystrokes(offered, trial.length)


@dataclass
class FileResult:
    name: str
    trials: list[WordTrial] = field(default_factory=list)
    latencies_ms: list[float] = field(default_factory=list)
    seconds: float = 0.0
    empty_last_word: bool = False
    """presage_simulator's empty word at the end of a file not ending in a letter or digit."""

    @property
    def overhead_keys(self) -> int:
        """Keys presage_simulator counts besides the words': ks's initial 1, the empty word."""
        return 1 + self.empty_last_word


@dataclass
class Summary:
    """The figures for a set of files, as printed and as written by --json."""

    system: str
    files: list[str]
    words: int
    kn: int
    ksr: dict[int, float]  # suggestions -> keystroke savings rate in percent
    next_word_top1: float
    next_word_top3: float
    hit_rate_by_prefix: dict[str, dict[int, float]]  # "0".."4+" -> suggestions -> percent
    latency_ms: dict[str, float]
    requests: int
    seconds: float


def simulate(
    text: str,
    session: TypingSession,
    max_suggestions: int,
    progress: Callable[[int, int], None] | None = None,
) -> FileResult:
    """Type `text` into `session` word by word, asking for completions before every letter."""
    result = FileResult(name="")
    targets = [t for t in tokenize(text) if t.kind in ("word", "number")]
    typed_to = 0
    started = time.perf_counter()
    for number, token in enumerate(targets):
        session.type_text(text[typed_to : token.start])
        wanted = fold(token.text)
        ranks: list[int | None] = []
        for typed in range(len(token.text)):
            if typed:
                session.type_text(token.text[typed - 1])
            asked = time.perf_counter()
            suggestions = session.suggest(max_suggestions)
            result.latencies_ms.append((time.perf_counter() - asked) * 1000)
            folded = [fold(word) for word in suggestions[:max_suggestions]]
            rank = folded.index(wanted) if wanted in folded else None
            ranks.append(rank)
            if rank == 0:
                break
        session.type_text(token.text[max(len(ranks) - 1, 0) :])
        typed_to = token.end
        result.trials.append(WordTrial(len(token.text), token.kind == "word", ranks))
        if progress and (number % 25 == 0 or number == len(targets) - 1):
            progress(number + 1, len(targets))
    session.type_text(text[typed_to:])
    result.seconds = time.perf_counter() - started
    result.empty_last_word = bool(text) and not text[-1].isalnum()
    return result


def percent(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def prefix_bucket(typed: int) -> str:
    last = PREFIX_BUCKETS[-1]
    return f"{last}+" if typed >= last else str(typed)


def hit_rates(trials: list[WordTrial], suggestions: Iterable[int]) -> dict[str, dict[int, float]]:
    """Percent of words longer than k that are among the first N after k letters."""
    table: dict[str, dict[int, float]] = {}
    for typed in PREFIX_BUCKETS:
        eligible = [t for t in trials if t.is_word and t.length > typed]
        row: dict[int, float] = {}
        for n in suggestions:
            hits = sum(keystrokes_for(t, n) - 1 <= typed for t in eligible)
            row[n] = percent(hits, len(eligible))
        table[prefix_bucket(typed)] = row
    return table


def summarize(system: str, results: list[FileResult], suggestions: list[int]) -> Summary:
    trials = [trial for result in results for trial in result.trials]
    kn = sum(t.length + 1 for t in trials) + sum(r.empty_last_word for r in results)
    overhead = sum(r.overhead_keys for r in results)
    ksr: dict[int, float] = {}
    for n in suggestions:
        keys = sum(keystrokes_for(t, n) for t in trials) + overhead
        ksr[n] = 100.0 * (1 - keys / kn) if kn else 0.0
    words = [t for t in trials if t.is_word]
    first = [t.ranks[0] if t.ranks else None for t in words]
    latencies = np.asarray([ms for r in results for ms in r.latencies_ms] or [0.0])
    return Summary(
        system=system,
        files=[r.name for r in results],
        words=len(words),
        kn=kn,
        ksr=ksr,
        next_word_top1=percent(sum(r == 0 for r in first), len(words)),
        next_word_top3=percent(sum(r is not None and r < 3 for r in first), len(words)),
        hit_rate_by_prefix=hit_rates(trials, suggestions),
        latency_ms={
            "mean": float(latencies.mean()),
            "p50": float(np.percentile(latencies, 50)),
            "p95": float(np.percentile(latencies, 95)),
            "p99": float(np.percentile(latencies, 99)),
        },
        requests=sum(len(r.latencies_ms) for r in results),
        seconds=sum(r.seconds for r in results),
    )


def evaluate_files(
    system: str,
    paths: list[Path],
    open_session: Callable[[], TypingSession],
    suggestions: list[int],
    show_progress: bool = True,
) -> Summary:
    """Type every file into a fresh session (one document each) and summarize."""
    results: list[FileResult] = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        session = open_session()
        label = f"{system}: {path.name}"
        try:
            result = simulate(text, session, max(suggestions), progress_bar(label, show_progress))
        finally:
            session.close()
        result.name = path.name
        results.append(result)
    return summarize(system, results, suggestions)


def format_table(summaries: list[Summary]) -> str:
    """A Markdown table: one row per system."""
    ns = sorted({n for s in summaries for n in s.ksr})
    header = ["system", "words", *[f"KSR@{n} %" for n in ns], "next top-1 %", "next top-3 %"]
    header += ["p50 ms", "p99 ms"]
    rows = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for s in summaries:
        cells = [s.system, str(s.words), *[f"{s.ksr.get(n, float('nan')):.1f}" for n in ns]]
        cells += [f"{s.next_word_top1:.1f}", f"{s.next_word_top3:.1f}"]
        cells += [f"{s.latency_ms['p50']:.2f}", f"{s.latency_ms['p99']:.2f}"]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def format_prefix_table(summary: Summary) -> str:
    ns = sorted(summary.ksr)
    rows = ["| letters typed | " + " | ".join(f"in top-{n} %" for n in ns) + " |"]
    rows.append("|" + "---|" * (len(ns) + 1))
    for bucket, row in summary.hit_rate_by_prefix.items():
        rows.append(f"| {bucket} | " + " | ".join(f"{row[n]:.1f}" for n in ns) + " |")
    return "\n".join(rows)


def summary_to_json(summary: Summary) -> dict:
    return asdict(summary)
