"""The training corpora as the benchmarks see them: files, paragraphs, the train/dev split, and
a fingerprint of every paragraph and sentence in them (to prove held-out text is not there).

A corpus path is a file or a directory of `*.txt` and `*.txt.gz` files (gzip: one paragraph per
line). Paragraphs are numbered 1.. across all files in order and the exporter's dev rule holds
out every `dev_every()`-th one, so Presage learns from the same training split as nextword.
"""

from __future__ import annotations

import gzip
import hashlib
import inspect
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from nextword.exporter.data import ParagraphMode, file_paragraphs, tokenize_corpus

log = logging.getLogger("benchmarks.training_text")

CORPUS_SUFFIXES = (".txt", ".txt.gz")
MIN_SENTENCE_WORDS = 8
"""Sentences shorter than this are too common to prove that a paragraph was copied."""

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def dev_every() -> int:
    """The exporter's dev stride (its `tokenize_corpus` default), so the rule has one home."""
    return int(inspect.signature(tokenize_corpus).parameters["dev_every"].default)


def corpus_text_files(paths: Iterable[Path]) -> list[Path]:
    """Files as given; directories expanded to their `*.txt` and `*.txt.gz` files, by name."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            found = [p for p in path.rglob("*") if p.is_file() and p.name.endswith(CORPUS_SUFFIXES)]
            files.extend(sorted(found, key=lambda p: str(p.relative_to(path))))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"corpus path {path} does not exist")
    if not files:
        raise FileNotFoundError(f"no *.txt or *.txt.gz files in {[str(p) for p in paths]}")
    return files


def read_corpus_file(path: Path) -> str:
    if path.name.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8", errors="replace") as stream:
            return stream.read()
    return path.read_text(encoding="utf-8", errors="replace")


def iter_split(
    paths: Iterable[Path], mode: ParagraphMode = "auto"
) -> Iterator[tuple[Path, bool, str]]:
    """(file, held out for dev, paragraph) for every paragraph of the corpora, in order."""
    stride = dev_every()
    number = 0
    for path in corpus_text_files(paths):
        for paragraph in file_paragraphs(read_corpus_file(path), mode):
            number += 1
            yield path, bool(stride) and number % stride == 0, paragraph


def inputs_key(paths: Iterable[Path], mode: str) -> str:
    """A short hash of the corpus files' names and contents, and the split's settings."""
    digest = hashlib.sha256(f"{mode}|{dev_every()}".encode())
    for path in corpus_text_files(paths):
        digest.update(path.name.encode())
        with path.open("rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]


def normalise(text: str) -> str:
    """Accents dropped, lower case, letters and digits only, single spaces: what an exact-match
    check compares (so folding a text to ASCII does not hide it)."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return _NOT_WORD.sub(" ", folded.lower()).strip()


def _hash(text: str) -> int:
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def fingerprints(paragraph: str) -> list[int]:
    """Hashes of the normalised paragraph and of each of its sentences long enough to tell."""
    marks = [_hash(normalise(paragraph))]
    for sentence in _SENTENCE_SPLIT.split(paragraph):
        words = normalise(sentence)
        if words.count(" ") + 1 >= MIN_SENTENCE_WORDS:
            marks.append(_hash(words))
    return marks


class CorpusIndex:
    """Fingerprints of every training paragraph (and long sentence) of the corpora."""

    def __init__(self, marks: np.ndarray) -> None:
        self.marks = np.unique(marks.astype(np.uint64))

    @classmethod
    def build(cls, paths: list[Path], cache: Path, mode: ParagraphMode = "auto") -> CorpusIndex:
        stored = cache / f"corpus-index-{inputs_key(paths, mode)}.npy"
        if stored.exists():
            return cls(np.load(stored))
        log.info("fingerprinting the training corpora (once; cached in %s)", stored)
        marks: list[int] = []
        for _, held_out, paragraph in iter_split(paths, mode):
            if not held_out:
                marks.extend(fingerprints(paragraph))
        index = cls(np.asarray(marks, dtype=np.uint64))
        stored.parent.mkdir(parents=True, exist_ok=True)
        np.save(stored, index.marks)
        return index

    def contains(self, paragraph: str) -> bool:
        """Whether the paragraph, or one of its long sentences, is in the corpora."""
        marks = np.asarray(fingerprints(paragraph), dtype=np.uint64)
        found = np.searchsorted(self.marks, marks)
        found = np.minimum(found, len(self.marks) - 1)
        return bool(np.any(self.marks[found] == marks)) if len(self.marks) else False
