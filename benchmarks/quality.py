"""Keystroke savings of every system on every held-out text (the quality half of run_all).

Systems: Presage trained on the corpus's training split and Presage's stock database (both with
online learning on, through `presage_simulator`), buffer-word completion, unigram frequency,
nextword with and without the document cache, and the softmax-head network of the same shape.
Presage runs in a worker thread (a child process) while the Python systems run here, so the two
CPU cores are both busy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import presage_eval
from baselines import BufferWordsSession, UnigramModel, UnigramSession

from nextword.server.commands.evaluate import Summary, TypingSession, evaluate_files
from nextword.server.commands.sessions import engine_session_factory

log = logging.getLogger("benchmarks.quality")

SUGGESTIONS = [1, 3, 6]
NEXTWORD = "nextword"
UNIGRAM = "unigram + prefix"
PRESAGE_TRAINED = "Presage, trained on the corpus"
"""Presage with a database built from the training split of the same corpora as nextword."""
_CACHE_LOCK = threading.Lock()


@dataclass
class QualityConfig:
    texts: dict[str, Path]
    presage_training_text: Path | None
    presage_database: Path | None
    bundle: Path | None
    other_bundles: dict[str, Path]
    """More bundles to type with (name -> bundle), e.g. the softmax-head network."""
    unigram_text: Path
    cache: Path
    suggestions: list[int] = field(default_factory=lambda: list(SUGGESTIONS))
    presage_suggestions: list[int] = field(default_factory=lambda: list(SUGGESTIONS))
    presage_texts: int = 0
    """Run Presage on only the first this many texts (0: all); it is the slow one."""
    presage_cache: Path | None = None
    """Where Presage runs are remembered (None: always run)."""
    rows_cache: Path | None = None
    """Where the in-process systems' rows are remembered (None: always run)."""
    progress: bool = True
    systems: tuple[str, ...] = ()
    """Only the systems of these names (empty: every system)."""

    def wanted(self, system: str) -> bool:
        return not self.systems or system in self.systems


@dataclass
class Row:
    """One system on one kind of text."""

    system: str
    text: str
    words: int
    ksr: dict[int, float]
    next_word_top1: float | None
    next_word_top3: float | None
    hit_rate_by_prefix: dict[str, dict[int, float]] | None = None
    latency_ms: dict[str, float] | None = None
    seconds: float = 0.0
    note: str = ""


def row_from_summary(summary: Summary, text: str) -> Row:
    return Row(
        summary.system, text, summary.words, summary.ksr, summary.next_word_top1,
        summary.next_word_top3, summary.hit_rate_by_prefix, summary.latency_ms, summary.seconds,
    )  # fmt: skip


def cached_presage_run(
    path: Path, database: Path, suggestions: int, cache: Path | None
) -> presage_eval.PresageRun:
    """A presage_simulator run, reused from `cache` when the same text and database were run
    before (Presage does not change between our runs; it is by far the slowest system)."""
    key = "|".join(
        [
            hashlib.sha256(path.read_bytes()).hexdigest(),
            str(database),
            str(database.stat().st_size),
            str(suggestions),
        ]
    )
    stored = json.loads(cache.read_text(encoding="utf-8")) if cache and cache.exists() else {}
    if key in stored:
        log.info("Presage run reused from %s", cache)
        return presage_eval.PresageRun(**{**stored[key], "reused": True})
    run = presage_eval.run_simulator(path, database, suggestions)
    if cache:
        with _CACHE_LOCK:
            stored = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
            stored[key] = asdict(run)
            cache.write_text(json.dumps(stored, indent=1), encoding="utf-8")
    return run


def presage_row(
    name: str, database: Path, kind: str, path: Path, suggestions: list[int], cache: Path | None
) -> Row:
    runs = {n: cached_presage_run(path, database, n, cache) for n in suggestions}
    widest = runs[max(suggestions)]
    log.info("%s on %s: KSR %s", name, kind, {n: round(r.ksr, 1) for n, r in runs.items()})
    return Row(
        name, kind, widest.words, {n: run.ksr for n, run in runs.items()},
        widest.next_word_top1, widest.next_word_top3,
        latency_ms={"mean": 1000 * widest.seconds / max(widest.predictions, 1)},
        seconds=sum(run.seconds for run in runs.values()),
        note="reused from an earlier run" if widest.reused else "",
    )  # fmt: skip


def presage_jobs(config: QualityConfig) -> list[tuple]:
    """(name, database, kind, path, suggestions, cache) for every Presage row to make."""
    if not presage_eval.available():
        return []
    texts = list(config.texts.items())[: config.presage_texts or None]
    databases = [
        (
            "Presage, stock database",
            presage_eval.stock_database(),
            [max(config.presage_suggestions)],
        )
    ]
    if config.presage_database is not None:
        databases.insert(
            0,
            (PRESAGE_TRAINED, config.presage_database, config.presage_suggestions),
        )
    return [
        (name, database, kind, path, suggestions, config.presage_cache)
        for name, database, suggestions in databases
        for kind, path in texts
        if config.wanted(name)
    ]


def python_systems(config: QualityConfig) -> dict[str, Callable[[], TypingSession]]:
    """name -> session factory for the systems that run in this process."""
    systems: dict[str, Callable[[], TypingSession]] = {"buffer words": BufferWordsSession}
    if config.wanted(UNIGRAM):
        counts = config.cache / f"unigram-counts-{config.unigram_text.stem}.json"
        unigram = UnigramModel.from_text(config.unigram_text, counts)
        systems[UNIGRAM] = lambda: UnigramSession(unigram)
    widest = max(config.suggestions)
    if config.bundle:
        systems[NEXTWORD] = engine_session_factory(str(config.bundle), True, widest)
        systems["nextword, no document cache"] = engine_session_factory(
            str(config.bundle), False, widest
        )
        if systems[NEXTWORD].engine.ranker.ngrams is not None:  # type: ignore[attr-defined]
            systems["nextword, no corpus counts"] = engine_session_factory(
                str(config.bundle), True, widest, ngrams=False
            )
    for name, bundle in config.other_bundles.items():
        systems[name] = engine_session_factory(str(bundle), True, widest)
    return systems


def system_identity(factory: Callable[[], TypingSession], config: QualityConfig) -> str:
    """What a system's figures depend on: its bundle's manifest and its settings (engine
    systems), or its code and the unigram counts' training text (baselines)."""
    engine = getattr(factory, "engine", None)
    if engine is None:
        return f"baseline|{config.unigram_text}|{config.unigram_text.stat().st_size}"
    manifest = (engine.bundle.path / "manifest.json").read_bytes()
    return f"{hashlib.sha256(manifest).hexdigest()}|{engine.settings!r}"


def evaluate_cached(
    name: str, kind: str, path: Path, factory: Callable[[], TypingSession], config: QualityConfig
) -> Row:
    """One system on one text, reused from `config.rows_cache` when nothing it depends on
    changed (same text, bundle, settings, suggestion counts)."""
    cache = config.rows_cache
    key = "|".join(
        [name, hashlib.sha256(path.read_bytes()).hexdigest(), system_identity(factory, config),
         str(config.suggestions)]
    )  # fmt: skip
    stored = json.loads(cache.read_text(encoding="utf-8")) if cache and cache.exists() else {}
    if key in stored:
        log.info("%s on %s: reused from %s", name, kind, cache)
        row = Row(**stored[key])
        row.ksr = {int(n): v for n, v in row.ksr.items()}
        row.note = "reused from an earlier run"
        return row
    summary = evaluate_files(name, [path], factory, config.suggestions, config.progress)
    row = row_from_summary(summary, kind)
    log.info("%s on %s: KSR %s", name, kind, {n: round(v, 1) for n, v in summary.ksr.items()})
    if cache:
        with _CACHE_LOCK:
            stored = json.loads(cache.read_text(encoding="utf-8")) if cache.exists() else {}
            stored[key] = asdict(row)
            cache.write_text(json.dumps(stored, indent=1), encoding="utf-8")
    return row


def run_quality(config: QualityConfig) -> list[Row]:
    rows: list[Row] = []
    # Presage runs as child processes, two at a time: it is the slowest system by far, and the
    # in-process systems finish long before it.
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures: list[Future] = [pool.submit(presage_row, *job) for job in presage_jobs(config)]
        for name, factory in python_systems(config).items():
            if not config.wanted(name):
                continue
            for kind, path in config.texts.items():
                rows.append(evaluate_cached(name, kind, path, factory, config))
        rows.extend(future.result() for future in futures)
    return rows


def rows_to_json(rows: list[Row]) -> list[dict]:
    return [asdict(row) for row in rows]
