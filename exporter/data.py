"""Corpus to training data: paragraphs, vocabulary, and sequences cut like the server's context.

A corpus is text files (or directories of `*.txt` files). Paragraphs are lines, or blocks
separated by blank lines in hard-wrapped files (see `file_paragraphs`). Every `dev_every`-th
paragraph (1-based: the 20th, 40th, ...) is held out for dev figures.

Sequences follow the context-window rule (`nextword.server.text.window`) exactly: a
paragraph's tokens are cut into chunks of `max_context_tokens`; for a chunk, the input is
[<p> or <cont>] + chunk[:-1] and the target is the chunk, so the state after reading the input up to position t is the state
the server reaches from the same context and predicts chunk[t].
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from nextword.server.model.vocab import Vocabulary
from nextword.server.text.tokenizer import (
    CONTINUE_SYMBOL,
    NUMBER_SYMBOL,
    PARAGRAPH_SYMBOL,
    SENTENCE_END,
    SENTENCE_OPENERS,
    UNKNOWN_SYMBOL,
    iter_tokens,
)
from nextword.server.text.window import window_starts

IGNORE_INDEX = -1
"""Target id that the loss skips: padding and words outside the vocabulary."""

PARITY_SAMPLE_TOKENS = 3000
"""Held-out tokens the exporter replays through ONNX and PyTorch."""

_BLANK_LINES = re.compile(r"\n[^\S\n]*\n\s*")

ParagraphMode = Literal["auto", "lines", "blank-lines"]


@dataclass
class VocabConfig:
    max_words: int = 32000
    min_count: int = 3
    min_symbol_count: int = 20


@dataclass
class CorpusSummary:
    files: list[str] = field(default_factory=list)
    bytes: int = 0
    paragraphs: int = 0
    train_paragraphs: int = 0
    dev_paragraphs: int = 0
    tokens: int = 0
    words: int = 0
    dev_split: str = ""
    paragraph_mode: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TokenizedCorpus:
    """Paragraphs as arrays of provisional ids into `symbols` (insertion order, not the vocab)."""

    symbols: list[str]
    kinds: list[str]
    counts: np.ndarray
    surfaces: Counter  # (provisional id, surface form) -> non-sentence-initial count
    any_surfaces: Counter  # (provisional id, surface form) -> count anywhere
    train: list[np.ndarray]
    dev: list[np.ndarray]
    summary: CorpusSummary


def corpus_files(paths: Iterable[str | Path]) -> list[Path]:
    """Expand directories to their `*.txt` files (sorted); keep files as given."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*.txt") if p.is_file()))
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(f"corpus path {path} does not exist")
    if not files:
        raise FileNotFoundError("no corpus files (directories are searched for *.txt)")
    return files


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


def iter_paragraphs(files: Iterable[Path], mode: ParagraphMode = "auto") -> Iterator[str]:
    for path in files:
        yield from file_paragraphs(path.read_text(encoding="utf-8", errors="replace"), mode)


def tokenize_corpus(
    paths: Iterable[str | Path], dev_every: int = 20, paragraphs: ParagraphMode = "auto"
) -> TokenizedCorpus:
    files = corpus_files(paths)
    index: dict[str, int] = {}
    symbols: list[str] = []
    kinds: list[str] = []
    counts: list[int] = []
    surfaces: Counter = Counter()
    any_surfaces: Counter = Counter()
    train: list[np.ndarray] = []
    dev: list[np.ndarray] = []
    summary = CorpusSummary(files=[p.name for p in files])
    summary.bytes = sum(p.stat().st_size for p in files)
    summary.paragraph_mode = paragraphs
    summary.dev_split = f"every {dev_every}th paragraph held out" if dev_every else "none"
    for number, paragraph in enumerate(iter_paragraphs(files, paragraphs), 1):
        ids: list[int] = []
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
            ids.append(position)
            if token.kind == "word":
                summary.words += 1
                surface = token.text.replace("\u2019", "'")
                any_surfaces[position, surface] += 1
                if not sentence_start:
                    surfaces[position, surface] += 1
                sentence_start = False
            elif token.text in SENTENCE_END:
                sentence_start = True
            elif token.text not in SENTENCE_OPENERS:
                sentence_start = False
        if not ids:
            continue
        summary.paragraphs += 1
        summary.tokens += len(ids)
        array = np.asarray(ids, dtype=np.int32)
        (dev if dev_every and number % dev_every == 0 else train).append(array)
    summary.train_paragraphs, summary.dev_paragraphs = len(train), len(dev)
    return TokenizedCorpus(
        symbols, kinds, np.asarray(counts, dtype=np.int64), surfaces, any_surfaces, train, dev,
        summary,
    )  # fmt: skip


def _most_frequent(source: Counter, chosen: set[int]) -> dict[int, tuple[int, str]]:
    best: dict[int, tuple[int, str]] = {}
    for (position, surface), count in source.items():
        if position in chosen and (count, surface) > best.get(position, (0, "")):
            best[position] = (count, surface)
    return best


def _display_forms(corpus: TokenizedCorpus, chosen: set[int]) -> dict[int, str]:
    """Most frequent surface form, counted where the word does not start a sentence if it ever
    occurs there, so "however" stays lowercase while "London" and "I" keep their capitals."""
    best = _most_frequent(corpus.any_surfaces, chosen)
    best.update(_most_frequent(corpus.surfaces, chosen))
    return {position: surface for position, (_, surface) in best.items()}


def build_vocabulary(corpus: TokenizedCorpus, config: VocabConfig) -> Vocabulary:
    """Words by frequency (capped, min count), then punctuation and the special symbols."""
    order = np.argsort(-corpus.counts, kind="stable")
    word_positions: list[int] = []
    symbol_counts: dict[str, int] = {}
    for position in order.tolist():
        count = int(corpus.counts[position])
        kind = corpus.kinds[position]
        if kind == "word":
            if count >= config.min_count and len(word_positions) < config.max_words:
                word_positions.append(position)
        elif kind == "punct" and count >= config.min_symbol_count:
            symbol_counts[corpus.symbols[position]] = count
    numbers = sum(
        int(c) for s, c in zip(corpus.symbols, corpus.counts.tolist()) if s == NUMBER_SYMBOL
    )
    symbol_counts[NUMBER_SYMBOL] = numbers
    symbol_counts[PARAGRAPH_SYMBOL] = len(corpus.train) + len(corpus.dev)
    symbol_counts[CONTINUE_SYMBOL] = 0
    known = sum(int(corpus.counts[p]) for p in word_positions) + sum(
        count for symbol, count in symbol_counts.items() if symbol != PARAGRAPH_SYMBOL
    )
    symbol_counts[UNKNOWN_SYMBOL] = int(corpus.counts.sum()) - known
    display = _display_forms(corpus, set(word_positions))
    words = {
        corpus.symbols[p]: (display.get(p, corpus.symbols[p]), int(corpus.counts[p]))
        for p in word_positions
    }
    return Vocabulary.build(words, symbol_counts)


def provisional_to_vocab(corpus: TokenizedCorpus, vocab: Vocabulary) -> np.ndarray:
    """Lookup table: provisional id -> vocabulary id (unknown words -> <unk>)."""
    return np.asarray([vocab.id_of(symbol) for symbol in corpus.symbols], dtype=np.int32)


@dataclass
class Chunks:
    """Sequences in one flat array: chunk i is tokens[starts[i] : starts[i] + lengths[i]]."""

    tokens: np.ndarray  # int32 vocabulary ids
    starts: np.ndarray  # int64
    lengths: np.ndarray  # int32
    first: np.ndarray  # int32: the <p> or <cont> id each chunk's input starts with

    def __len__(self) -> int:
        return len(self.starts)

    @property
    def n_tokens(self) -> int:
        return int(self.lengths.sum())


def make_chunks(paragraphs: list[np.ndarray], vocab: Vocabulary, max_tokens: int) -> Chunks:
    paragraph_id, continue_id = vocab.index[PARAGRAPH_SYMBOL], vocab.index[CONTINUE_SYMBOL]
    starts: list[int] = []
    lengths: list[int] = []
    first: list[int] = []
    offset = 0
    for paragraph in paragraphs:
        for begin in window_starts(len(paragraph), max_tokens):
            starts.append(offset + begin)
            lengths.append(min(max_tokens, len(paragraph) - begin))
            first.append(paragraph_id if begin == 0 else continue_id)
        offset += len(paragraph)
    tokens = np.concatenate(paragraphs) if paragraphs else np.zeros(0, dtype=np.int32)
    return Chunks(
        tokens.astype(np.int32),
        np.asarray(starts, dtype=np.int64),
        np.asarray(lengths, dtype=np.int32),
        np.asarray(first, dtype=np.int32),
    )


def batch_arrays(chunks: Chunks, indices: np.ndarray, unknown_id: int) -> tuple[np.ndarray, ...]:
    """Inputs and targets [batch, longest] for the given chunks; padding/unknown targets ignored."""
    width = int(chunks.lengths[indices].max())
    inputs = np.zeros((len(indices), width), dtype=np.int64)
    targets = np.full((len(indices), width), IGNORE_INDEX, dtype=np.int64)
    for row, chunk in enumerate(indices.tolist()):
        start, length = int(chunks.starts[chunk]), int(chunks.lengths[chunk])
        tokens = chunks.tokens[start : start + length]
        inputs[row, 0] = chunks.first[chunk]
        inputs[row, 1:length] = tokens[:-1]
        targets[row, :length] = tokens
    targets[targets == unknown_id] = IGNORE_INDEX
    return inputs, targets


def epoch_batches(chunks: Chunks, batch_size: int, seed: int, epoch: int) -> list[np.ndarray]:
    """The epoch's batches: shuffled, then grouped by similar length to limit padding."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(chunks))
    pool = batch_size * 64
    batches: list[np.ndarray] = []
    for begin in range(0, len(order), pool):
        group = order[begin : begin + pool]
        group = group[np.argsort(chunks.lengths[group], kind="stable")]
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    return [batches[i] for i in rng.permutation(len(batches))]


def evenly_spaced(chunks: Chunks, max_tokens: int) -> np.ndarray:
    """Evenly spaced chunk indices (so every corpus file is represented) up to max_tokens."""
    if chunks.n_tokens <= max_tokens:
        return np.arange(len(chunks))
    count = max(1, int(len(chunks) * max_tokens / chunks.n_tokens))
    return np.unique(np.linspace(0, len(chunks) - 1, count).astype(np.int64))


def parity_sample(dev: Chunks, max_tokens: int = PARITY_SAMPLE_TOKENS) -> list[np.ndarray]:
    """Held-out chunks (as token ids) the exporter replays through ONNX and PyTorch."""
    sample, total = [], 0
    for index in evenly_spaced(dev, max_tokens).tolist():
        start, length = int(dev.starts[index]), int(dev.lengths[index])
        sample.append(dev.tokens[start : start + length])
        total += length
        if total >= max_tokens:
            break
    return sample


@dataclass
class TrainingData:
    vocab: Vocabulary
    train: Chunks
    dev: Chunks
    dev_word_lengths: np.ndarray
    corpus: dict[str, Any]  # CorpusSummary plus vocab_coverage
    train_paragraphs: list[np.ndarray]


def prepare_training_data(
    paths: list[str],
    max_context_tokens: int,
    vocab: Vocabulary | None = None,
    vocab_config: VocabConfig | None = None,
    dev_every: int = 20,
    paragraphs: ParagraphMode = "auto",
) -> TrainingData:
    """Tokenize, build (or reuse) the vocabulary, and cut train and dev chunks."""
    corpus = tokenize_corpus(paths, dev_every, paragraphs)
    if vocab is None:
        vocab = build_vocabulary(corpus, vocab_config or VocabConfig())
    lookup = provisional_to_vocab(corpus, vocab)
    train = [lookup[p] for p in corpus.train]
    dev = [lookup[p] for p in corpus.dev]
    word_length = np.asarray(
        [len(s) if k == "word" else 0 for s, k in zip(corpus.symbols, corpus.kinds)],
        dtype=np.int64,
    )
    dev_lengths = [word_length[p] for p in corpus.dev]
    summary = corpus.summary.to_dict()
    summary["vocab_coverage"] = 1 - float(sum((p == vocab.unknown_id).sum() for p in train)) / max(
        sum(len(p) for p in train), 1
    )
    return TrainingData(
        vocab,
        make_chunks(train, vocab, max_context_tokens),
        make_chunks(dev, vocab, max_context_tokens),
        np.concatenate(dev_lengths) if dev_lengths else np.zeros(0, dtype=np.int64),
        summary,
        train,
    )
