"""The training corpora as the benchmarks see them: files, paragraphs, the train/dev split, and
a fingerprint of every paragraph and sentence in them (to prove held-out text is not there).

A corpus path is a file or a directory of `*.txt` and `*.txt.gz` files (gzip: one paragraph per
line). Paragraphs are numbered 1.. across all files in order and the exporter's dev rule holds
out every `DEV_EVERY`-th one, so Presage learns from the same training split as nextword.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from nextword.exporter.corpus import DEV_EVERY, ParagraphMode, corpus_files, split_paragraphs

log = logging.getLogger("benchmarks.training_text")

MIN_SENTENCE_WORDS = 8
"""Sentences shorter than this are too common to prove that a paragraph was copied."""

_NOT_WORD = re.compile(r"[^a-z0-9]+")
_SENTENCE_SPLIT = re.compile(r"(?<=[.!?])[\"')\]]*\s+")


def iter_split(
    paths: Iterable[Path], mode: ParagraphMode = "auto"
) -> Iterator[tuple[Path, bool, str]]:
    """(file, held out for dev, paragraph) for every paragraph of the corpora, in order."""
    for file, paragraph, held_out in split_paragraphs(corpus_files(paths), DEV_EVERY, mode):
        yield file.path, held_out, paragraph


def inputs_key(paths: Iterable[Path], mode: str) -> str:
    """A short hash of the corpus files' names and contents, and the split's settings."""
    digest = hashlib.sha256(f"{mode}|{DEV_EVERY}".encode())
    for path in (file.path for file in corpus_files(paths)):
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
