"""Reading a training corpus: files and folders of `.txt` / `.txt.gz`, paragraphs, kinds, the dev
split, and an on-disk cache of each file's token ids.

A corpus is given as paths (files, or folders searched for `*.txt` and `*.txt.gz`). Paragraphs are
lines, or blocks separated by blank lines in hard-wrapped files (see `file_paragraphs`). The
paragraphs are numbered across the files in the order given, and every `dev_every`-th one
(1-based: the 20th, 40th, ...) is held out, so every kind of text loses the same share to dev.

Each file belongs to a *kind* (commits, docs, ...), used to report dev figures per kind: the first
`--kind NAME=GLOB,...` rule whose glob matches the file name, else the name of the corpus path it
was found under.

Tokenizing is the slow part (~400k tokens/s), so each file's result is cached by its path, size,
modification time, paragraph mode and the tokenizer version; a repeated or resumed run reads the
cache instead.
"""

from __future__ import annotations

import fnmatch
import gzip
import hashlib
import logging
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
from tqdm import tqdm

from nextword.server.text.tokenizer import (
    SENTENCE_END,
    SENTENCE_OPENERS,
    TOKENIZER_VERSION,
    iter_tokens,
)

log = logging.getLogger("nextword.corpus")

ParagraphMode = Literal["auto", "lines", "blank-lines"]
CORPUS_SUFFIXES = (".txt", ".txt.gz")
CACHE_FORMAT = 1
DEV_EVERY = 20
"""Every DEV_EVERY-th paragraph of a training corpus is held out (see `is_dev`)."""

_BLANK_LINES = re.compile(r"\n[^\S\n]*\n\s*")


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nextword" / "tokens"


@dataclass(frozen=True)
class CorpusFile:
    path: Path
    kind: str


def parse_kind_rules(rules: Sequence[str]) -> list[tuple[str, list[str]]]:
    """`NAME=GLOB[,GLOB...]` strings to (name, globs); a malformed rule is a ValueError."""
    parsed = []
    for rule in rules:
        name, sep, globs = rule.partition("=")
        if not sep or not name.strip() or not globs.strip():
            raise ValueError(f"--kind {rule!r}: expected NAME=GLOB[,GLOB...]")
        parsed.append((name.strip(), [g.strip() for g in globs.split(",") if g.strip()]))
    return parsed


def _is_corpus_file(path: Path) -> bool:
    return path.is_file() and path.name.endswith(CORPUS_SUFFIXES)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in sorted(CORPUS_SUFFIXES, key=len, reverse=True):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return path.stem


def _kind_of(path: Path, rules: list[tuple[str, list[str]]], default: str) -> str:
    matches = (name for name, globs in rules if any(fnmatch.fnmatch(path.name, g) for g in globs))
    return next(matches, default)


def corpus_files(paths: Iterable[str | Path], kind_rules: Sequence[str] = ()) -> list[CorpusFile]:
    """Expand folders to their `*.txt` and `*.txt.gz` files (sorted); keep files as given."""
    rules = parse_kind_rules(kind_rules)
    files: list[CorpusFile] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if _is_corpus_file(p))
            default_kind = path.resolve().name
        elif path.is_file():
            found, default_kind = [path], _stem(path)
        else:
            raise FileNotFoundError(f"corpus path {path} does not exist")
        files.extend(CorpusFile(file, _kind_of(file, rules, default_kind)) for file in found)
    if not files:
        raise FileNotFoundError("no corpus files (folders are searched for *.txt and *.txt.gz)")
    return files


def read_text(path: Path) -> str:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as stream:
            return stream.read()
    return path.read_text(encoding="utf-8", errors="replace")


def file_paragraphs(text: str, mode: ParagraphMode = "auto") -> list[str]:
    """Paragraphs of one file.

    "lines": every non-blank line is a paragraph (one paragraph per line, like the bundled
    corpus). "blank-lines": paragraphs are separated by blank lines and the lines inside one are
    joined, as the server reads a document (hard-wrapped prose). "auto" picks "blank-lines" when
    at least 1% of the lines are blank.
    """
    lines = text.splitlines()
    if mode == "auto":
        blank = sum(1 for line in lines if not line.strip())
        mode = "blank-lines" if blank and blank >= 0.01 * len(lines) else "lines"
    if mode == "lines":
        return [line for line in lines if line.strip()]
    if mode != "blank-lines":
        raise ValueError(f"unknown paragraph mode {mode!r}")
    return [block for block in _BLANK_LINES.split(text) if block.strip()]


def split_paragraphs(
    files: Iterable[CorpusFile], dev_every: int = DEV_EVERY, mode: ParagraphMode = "auto"
) -> Iterator[tuple[CorpusFile, str, bool]]:
    """(file, paragraph, held out for dev) for every paragraph, numbered across the files."""
    number = 0
    for file in files:
        for paragraph in file_paragraphs(read_text(file.path), mode):
            number += 1
            yield file, paragraph, is_dev(number, dev_every)


def is_dev(number: int, dev_every: int) -> bool:
    """The dev split: paragraph `number` (1-based, counted across the corpus) is held out."""
    return bool(dev_every) and number % dev_every == 0


@dataclass
class TokenizedFile:
    """One file's paragraphs as ids into its own symbol table (`symbols`, folded forms)."""

    symbols: np.ndarray  # str, folded forms in first-seen order
    symbol_kinds: np.ndarray  # str: word, number, punct, paragraph
    counts: np.ndarray  # int64 per symbol
    tokens: np.ndarray  # int32 symbol ids, all paragraphs one after another
    offsets: np.ndarray  # int64 [paragraphs + 1]; empty paragraphs keep their number
    surface_ids: np.ndarray  # int32 symbol id of each (word, surface) pair
    surfaces: np.ndarray  # str surface forms (curly apostrophes straightened)
    surface_counts: np.ndarray  # int64 [pairs, 2]: anywhere, not at a sentence start
    words: int
    bytes: int

    @property
    def n_paragraphs(self) -> int:
        return len(self.offsets) - 1

    def paragraph(self, index: int) -> np.ndarray:
        return self.tokens[self.offsets[index] : self.offsets[index + 1]]


def tokenize_text(paragraphs: Iterable[str], n_bytes: int = 0) -> TokenizedFile:
    index: dict[str, int] = {}
    symbols: list[str] = []
    kinds: list[str] = []
    counts: list[int] = []
    surfaces: dict[tuple[int, str], list[int]] = {}
    tokens: list[int] = []
    offsets = [0]
    words = 0
    for paragraph in paragraphs:
        sentence_start = True
        for token in iter_tokens(paragraph):
            folded = token.folded
            position = index.get(folded)
            if position is None:
                position = index[folded] = len(symbols)
                symbols.append(folded)
                kinds.append(token.kind)
                counts.append(0)
            counts[position] += 1
            tokens.append(position)
            if token.kind == "word":
                words += 1
                seen = surfaces.setdefault((position, token.text.replace("\u2019", "'")), [0, 0])
                seen[0] += 1
                seen[1] += not sentence_start
                sentence_start = False
            elif token.text in SENTENCE_END:
                sentence_start = True
            elif token.text not in SENTENCE_OPENERS:
                sentence_start = False
        offsets.append(len(tokens))
    pairs = list(surfaces.items())
    return TokenizedFile(
        np.asarray(symbols, dtype=str), np.asarray(kinds, dtype=str),
        np.asarray(counts, dtype=np.int64), np.asarray(tokens, dtype=np.int32),
        np.asarray(offsets, dtype=np.int64),
        np.asarray([p for (p, _), _ in pairs], dtype=np.int32),
        np.asarray([s for (_, s), _ in pairs], dtype=str),
        np.asarray([c for _, c in pairs], dtype=np.int64).reshape(-1, 2),
        words, n_bytes,
    )  # fmt: skip


def _cache_key(path: Path, mode: ParagraphMode) -> str:
    stat = path.stat()
    key = f"{CACHE_FORMAT}|{TOKENIZER_VERSION}|{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    return hashlib.sha256(f"{key}|{mode}".encode()).hexdigest()[:32]


def _read_cached(path: Path) -> TokenizedFile | None:
    try:
        with np.load(path, allow_pickle=False) as saved:
            arrays = {name: saved[name] for name in saved.files}
        scalars = arrays.pop("scalars")
        return TokenizedFile(**arrays, words=int(scalars[0]), bytes=int(scalars[1]))
    except (OSError, ValueError, KeyError, TypeError, EOFError) as error:
        log.warning("token cache %s unreadable (%s): tokenizing again", path, error)
        return None


def _write_cached(path: Path, tokenized: TokenizedFile) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {
        name: value for name, value in vars(tokenized).items() if isinstance(value, np.ndarray)
    }
    arrays["scalars"] = np.asarray([tokenized.words, tokenized.bytes], dtype=np.int64)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".npz", delete=False) as stream:
        np.savez(stream, **arrays)
    os.replace(stream.name, path)


def tokenize_file(
    path: Path, mode: ParagraphMode = "auto", cache_dir: Path | None = None
) -> TokenizedFile:
    """A file's tokens, from the cache when it holds this version of the file."""
    cached_path = None if cache_dir is None else cache_dir / f"{_cache_key(path, mode)}.npz"
    if cached_path is not None and cached_path.exists():
        cached = _read_cached(cached_path)
        if cached is not None:
            return cached
    tokenized = tokenize_text(file_paragraphs(read_text(path), mode), path.stat().st_size)
    if cached_path is not None:
        _write_cached(cached_path, tokenized)
    return tokenized


def tokenize_files(
    files: Sequence[CorpusFile], mode: ParagraphMode, cache_dir: Path | None, quiet: bool = False
) -> Iterator[tuple[CorpusFile, TokenizedFile]]:
    bar = tqdm(files, desc="tokenize corpus", unit="file", disable=quiet, dynamic_ncols=True)
    for file in bar:
        bar.set_postfix_str(file.path.name, refresh=False)
        yield file, tokenize_file(file.path, mode, cache_dir)
