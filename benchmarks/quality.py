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

from nextword.server.evaluate import Summary, TypingSession, evaluate_files
from nextword.server.evaluate_sessions import engine_session_factory

log = logging.getLogger("benchmarks.quality")

SUGGESTIONS = [1, 3, 6]
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
    progress: bool = True


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


def presage_rows(
    name: str,
    database: Path,
    texts: dict[str, Path],
    suggestions: list[int],
    cache: Path | None = None,
) -> list[Row]:
    rows: list[Row] = []
    for kind, path in texts.items():
        runs = {n: cached_presage_run(path, database, n, cache) for n in suggestions}
        widest = runs[max(suggestions)]
        rows.append(
            Row(
                name, kind, widest.words, {n: run.ksr for n, run in runs.items()},
                widest.next_word_top1, widest.next_word_top3,
                latency_ms={"mean": 1000 * widest.seconds / max(widest.predictions, 1)},
                seconds=sum(run.seconds for run in runs.values()),
                note="reused from an earlier run" if widest.reused else "",
            )
        )  # fmt: skip
        log.info("%s on %s: KSR %s", name, kind, {n: round(r.ksr, 1) for n, r in runs.items()})
    return rows


def python_systems(config: QualityConfig) -> dict[str, Callable[[], TypingSession]]:
    """name -> session factory for the systems that run in this process."""
    unigram = UnigramModel.from_text(config.unigram_text, config.cache / "unigram-counts.json")
    systems: dict[str, Callable[[], TypingSession]] = {
        "buffer words": BufferWordsSession,
        "unigram + prefix": lambda: UnigramSession(unigram),
    }
    widest = max(config.suggestions)
    if config.bundle:
        systems["nextword"] = engine_session_factory(str(config.bundle), True, widest)
        systems["nextword, no document cache"] = engine_session_factory(
            str(config.bundle), False, widest
        )
    for name, bundle in config.other_bundles.items():
        systems[name] = engine_session_factory(str(bundle), True, widest)
    return systems


def run_quality(config: QualityConfig) -> list[Row]:
    rows: list[Row] = []
    futures: list[Future] = []
    presage_texts = dict(list(config.texts.items())[: config.presage_texts or None])
    with ThreadPoolExecutor(max_workers=1) as pool:
        if presage_eval.available():
            if config.presage_database is not None:
                futures.append(
                    pool.submit(
                        presage_rows, "Presage, trained on the corpus", config.presage_database,
                        presage_texts, config.presage_suggestions, config.presage_cache,
                    )
                )  # fmt: skip
            futures.append(
                pool.submit(
                    presage_rows, "Presage, stock database", presage_eval.stock_database(),
                    presage_texts, [max(config.presage_suggestions)], config.presage_cache,
                )
            )  # fmt: skip
        for name, factory in python_systems(config).items():
            for kind, path in config.texts.items():
                summary = evaluate_files(name, [path], factory, config.suggestions, config.progress)
                rows.append(row_from_summary(summary, kind))
                log.info("%s on %s: KSR %s", name, kind, summary.ksr)
        for future in futures:
            rows.extend(future.result())
    return rows


def rows_to_json(rows: list[Row]) -> list[dict]:
    return [asdict(row) for row in rows]
