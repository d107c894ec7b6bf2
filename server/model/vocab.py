"""The bundle's vocabulary: ids ordered so that a typed prefix is one contiguous id range.

Ids 0..n_words-1 are words (completion candidates), sorted by their folded form. The remaining
ids are the symbols the network reads but the user is never offered: punctuation, the number
symbol, paragraph/continue markers and the unknown word.

File format (`vocab.tsv`, UTF-8): one entry per line, line number = id, three tab-separated
columns: folded form, display form (the word's usual spelling, e.g. "London", "I"), corpus count.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from nextword.server.text.tokenizer import UNKNOWN_SYMBOL, fold, folded_prefix_range


class VocabularyError(ValueError):
    pass


@dataclass(frozen=True)
class Vocabulary:
    folded: list[str]
    display: list[str]
    counts: list[int]
    n_words: int

    def __post_init__(self) -> None:
        if not (len(self.folded) == len(self.display) == len(self.counts)):
            raise VocabularyError("vocabulary columns differ in length")
        words = self.folded[: self.n_words]
        if any(a >= b for a, b in zip(words, words[1:])):
            raise VocabularyError("vocabulary words are not sorted and unique")
        if UNKNOWN_SYMBOL not in self.index:
            raise VocabularyError(f"vocabulary has no {UNKNOWN_SYMBOL} entry")

    @property
    def index(self) -> dict[str, int]:
        cached = self.__dict__.get("_index")
        if cached is None:
            cached = {word: i for i, word in enumerate(self.folded)}
            object.__setattr__(self, "_index", cached)
        return cached

    def __len__(self) -> int:
        return len(self.folded)

    @property
    def unknown_id(self) -> int:
        return self.index[UNKNOWN_SYMBOL]

    def id_of(self, folded_symbol: str) -> int:
        return self.index.get(folded_symbol, self.unknown_id)

    def prefix_range(self, prefix: str) -> tuple[int, int]:
        """The id range [lo, hi) of the words whose folded form starts with fold(prefix)."""
        return folded_prefix_range(self.folded, fold(prefix), 0, self.n_words)

    @classmethod
    def build(cls, words: dict[str, tuple[str, int]], symbols: dict[str, int]) -> Vocabulary:
        """Order words ({folded: (display, count)}) then symbols ({symbol: count})."""
        folded = sorted(words)
        display = [words[w][0] for w in folded]
        counts = [words[w][1] for w in folded]
        for symbol, count in sorted(symbols.items()):
            folded.append(symbol)
            display.append(symbol)
            counts.append(count)
        return cls(folded, display, counts, n_words=len(words))

    def save(self, path: Path) -> None:
        with path.open("w", encoding="utf-8", newline="\n") as out:
            for folded, display, count in zip(self.folded, self.display, self.counts):
                out.write(f"{folded}\t{display}\t{count}\n")

    @classmethod
    def load(cls, path: Path, n_words: int) -> Vocabulary:
        folded: list[str] = []
        display: list[str] = []
        counts: list[int] = []
        with path.open(encoding="utf-8", newline="\n") as lines:
            for number, line in enumerate(lines, 1):
                parts = line.rstrip("\n").split("\t")
                if len(parts) != 3 or not parts[2].isdigit():
                    raise VocabularyError(f"{path.name} line {number}: expected 3 columns")
                folded.append(parts[0])
                display.append(parts[0] if parts[1] == parts[0] else parts[1])  # one string
                counts.append(int(parts[2]))
        if not 0 < n_words <= len(folded):
            raise VocabularyError(f"{path.name}: n_words {n_words} out of range")
        return cls(folded, display, counts, n_words)
