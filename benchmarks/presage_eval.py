"""Presage (Debian `presage`) as a peer: build its n-gram database, run `presage_simulator`.

- `build_database`: `text2ngram -n N -l -f sqlite -a` for N = 1, 2, 3 over a training text (the
  three side by side, then merged into one file).
- `write_config`: a copy of /etc/presage.xml whose default n-gram predictor reads the given
  database, whose user database (online learning writes there) is fresh in a temp dir, and which
  offers N suggestions.
- `run_simulator`: `presage_simulator -i [-q] -c CONFIG FILE`; KSR, ki, ks, kn from its report,
  and (verbose mode) the predictions it saw for every word, for next-word recall.
"""

from __future__ import annotations

import logging
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("benchmarks.presage")

STOCK_CONFIG = Path("/etc/presage.xml")


def available() -> bool:
    return bool(shutil.which("presage_simulator") and shutil.which("text2ngram"))


def build_database(
    training_text: Path, database: Path, orders: tuple[int, ...] = (1, 2, 3)
) -> Path:
    """An n-gram sqlite database for Presage (skipped when it already exists): one
    `text2ngram` per order, run side by side into their own files, then merged into one."""
    if database.exists():
        return database
    started = time.perf_counter()
    log.info(
        "building Presage's database from %s (%.0f MB; once, then cached as %s)",
        training_text, training_text.stat().st_size / 1e6, database,
    )  # fmt: skip
    parts = {order: database.with_name(f"{database.name}.{order}.partial") for order in orders}
    for part in parts.values():
        part.unlink(missing_ok=True)
    running = {order: text2ngram(order, training_text, part) for order, part in parts.items()}
    for order, process in running.items():
        if process.wait() != 0:
            raise RuntimeError(f"text2ngram -n {order} failed ({process.returncode})")
        log.info("text2ngram -n %d done after %.0f s", order, time.perf_counter() - started)
    merge_databases(parts, database)
    for part in parts.values():
        part.unlink()
    log.info("Presage's database built in %.0f s", time.perf_counter() - started)
    return database


def text2ngram(order: int, training_text: Path, database: Path) -> subprocess.Popen:
    command = ["text2ngram", "-n", str(order), "-l", "-f", "sqlite", "-a", "-o", str(database)]
    return subprocess.Popen(
        [*command, str(training_text)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def merge_databases(parts: dict[int, Path], database: Path) -> None:
    """One sqlite file with the table `_N_gram` of each order N's part."""
    partial = database.with_name(database.name + ".partial")
    partial.unlink(missing_ok=True)
    with sqlite3.connect(partial) as merged:
        for order, part in parts.items():
            table = f"_{order}_gram"
            merged.execute("ATTACH DATABASE ? AS part", (str(part),))
            (sql,) = merged.execute(
                "SELECT sql FROM part.sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone()
            merged.execute(sql)
            merged.execute(f"INSERT INTO main.{table} SELECT * FROM part.{table}")
            merged.commit()
            merged.execute("DETACH DATABASE part")
    partial.rename(database)


def stock_database() -> Path:
    """The database Presage ships (libpresage-data), as named in /etc/presage.xml."""
    text = STOCK_CONFIG.read_text(encoding="utf-8")
    match = re.search(
        r"<DefaultSmoothedNgramPredictor>.*?<DBFILENAME>(.*?)</DBFILENAME>", text, re.S
    )
    if not match:
        raise RuntimeError(f"{STOCK_CONFIG} names no default database")
    return Path(match.group(1).strip())


def write_config(database: Path, suggestions: int, user_dir: Path, learn: bool = True) -> Path:
    """A Presage config reading `database`, learning online into `user_dir`."""
    text = STOCK_CONFIG.read_text(encoding="utf-8")

    def set_in(section: str, tag: str, value: str, body: str) -> str:
        pattern = re.compile(rf"(<{section}>.*?<{tag}>)(.*?)(</{tag}>)", re.S)
        body, count = pattern.subn(lambda m: m.group(1) + value + m.group(3), body, count=1)
        if count != 1:
            raise RuntimeError(f"{STOCK_CONFIG}: no <{tag}> in <{section}>")
        return body

    text = set_in("DefaultSmoothedNgramPredictor", "DBFILENAME", str(database), text)
    text = set_in("UserSmoothedNgramPredictor", "DBFILENAME", str(user_dir / "lm.db"), text)
    text = set_in("ContextTracker", "ONLINE_LEARNING", "yes" if learn else "no", text)
    text = set_in("Selector", "SUGGESTIONS", str(suggestions), text)
    user_dir.mkdir(parents=True, exist_ok=True)
    config = user_dir / "presage.xml"
    config.write_text(text, encoding="utf-8")
    return config


@dataclass
class PresageRun:
    suggestions: int
    ksr: float
    ki: int
    ks: int
    kn: int
    seconds: float
    predictions: int
    words: int
    next_word_top1: float
    next_word_top3: float
    reused: bool = False
    """Read back from an earlier run's record instead of run now."""


_FIGURE = re.compile(r"^(ki|ks|kn|KSR)\s*:\s*([-\d.]+)\s*$", re.M)


def parse_report(output: str) -> dict[str, float]:
    figures = {name: float(value) for name, value in _FIGURE.findall(output)}
    missing = {"ki", "ks", "kn", "KSR"} - figures.keys()
    if missing:
        raise RuntimeError(f"presage_simulator printed no {sorted(missing)}: {output[-500:]!r}")
    return figures


def parse_trace(output: str) -> list[tuple[str, str, list[str]]]:
    """(target word, typed prefix, predictions) for every prediction in a verbose run."""
    trace: list[tuple[str, str, list[str]]] = []
    target = prefix = None
    predictions: list[str] = []
    for line in output.split("=" * 28)[0].splitlines():
        if line.startswith("===> "):
            if target is not None:
                trace.append((target, prefix or "", predictions))
            target, prefix, predictions = line[5:], None, []
        elif line.startswith("   > ") and prefix is None:
            prefix = line[5:]
        elif target is not None and line:
            predictions.append(line)
    if target is not None:
        trace.append((target, prefix or "", predictions))
    return trace


def next_word_recall(trace: list[tuple[str, str, list[str]]]) -> tuple[float, float, int]:
    """Top-1 and top-3 recall (percent) of the predictions made with nothing typed."""
    first = [(t.lower(), [p.lower() for p in ps]) for t, prefix, ps in trace if not prefix and t]
    first = [(t, ps) for t, ps in first if t.isalpha()]
    if not first:
        return 0.0, 0.0, 0
    top1 = sum(ps[:1] == [t] for t, ps in first)
    top3 = sum(t in ps[:3] for t, ps in first)
    return 100.0 * top1 / len(first), 100.0 * top3 / len(first), len(first)


def run_simulator(
    text: Path,
    database: Path,
    suggestions: int,
    learn: bool = True,
    timeout: float = 3600,
    user_dir: Path | None = None,
) -> PresageRun:
    """Type `text` with Presage; a fresh user database every run, unless `user_dir` (then
    what earlier runs there learned counts, and this run's learning is kept there)."""
    with tempfile.TemporaryDirectory(prefix="presage-user-") as fresh:
        user_dir = user_dir or Path(fresh)
        config = write_config(database, suggestions, user_dir, learn)
        started = time.perf_counter()
        completed = subprocess.run(
            ["presage_simulator", "-i", "-c", str(config), str(text)],
            capture_output=True, text=True, timeout=timeout,
            env={"HOME": str(user_dir), "PATH": "/usr/bin:/bin"},
        )  # fmt: skip
        seconds = time.perf_counter() - started
    if completed.returncode != 0:
        raise RuntimeError(
            f"presage_simulator failed ({completed.returncode}): {completed.stderr[-500:]}"
        )
    figures = parse_report(completed.stdout)
    trace = parse_trace(completed.stdout)
    top1, top3, words = next_word_recall(trace)
    return PresageRun(
        suggestions=suggestions,
        ksr=figures["KSR"],
        ki=int(figures["ki"]),
        ks=int(figures["ks"]),
        kn=int(figures["kn"]),
        seconds=seconds,
        predictions=len(trace),
        words=words,
        next_word_top1=top1,
        next_word_top3=top3,
    )
