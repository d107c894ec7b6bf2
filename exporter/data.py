"""Corpus to training data: vocabulary, and sequences cut like the server's context.

The corpus is read by `nextword.exporter.corpus` (files, kinds, the dev split, the token cache).
Sequences follow the context-window rule (`nextword.server.text.window`) exactly: a
paragraph's tokens are cut into chunks of `max_context_tokens`; for a chunk, the input is
[<p> or <cont>] + chunk[:-1] and the target is the chunk, so the state after reading the input
up to position t is the state the server reaches from the same context and predicts chunk[t].
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nextword.exporter.corpus import (
    DEV_EVERY,
    ParagraphMode,
    corpus_files,
    is_dev,
    tokenize_files,
)
from nextword.server.model.vocab import Vocabulary
from nextword.server.text.tokenizer import (
    CONTINUE_SYMBOL,
    NUMBER_SYMBOL,
    PARAGRAPH_SYMBOL,
    UNKNOWN_SYMBOL,
)
from nextword.server.text.window import window_starts

IGNORE_INDEX = -1
"""Target id that the loss skips: padding and words outside the vocabulary."""

PARITY_SAMPLE_TOKENS = 3000
"""Held-out tokens the exporter replays through ONNX and PyTorch."""


@dataclass
class VocabConfig:
    max_words: int = 32000
    min_count: int = 3
    min_symbol_count: int = 20


@dataclass
class CorpusSummary:
    files: list[str] = field(default_factory=list)
    kinds: dict[str, list[str]] = field(default_factory=dict)
    bytes: int = 0
    paragraphs: int = 0
    train_paragraphs: int = 0
    dev_paragraphs: int = 0
    tokens: int = 0
    words: int = 0
    words_by_kind: dict[str, int] = field(default_factory=dict)
    dev_every: int = 0
    dev_split: str = ""
    paragraph_mode: str = "auto"

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass
class TokenizedCorpus:
    """Paragraphs as arrays of provisional ids into `symbols` (first-seen order, not the vocab)."""

    symbols: list[str]
    kinds: list[str]
    counts: np.ndarray
    surfaces: Counter  # (provisional id, surface form) -> non-sentence-initial count
    any_surfaces: Counter  # (provisional id, surface form) -> count anywhere
    train: list[np.ndarray]
    dev: list[np.ndarray]
    summary: CorpusSummary
    train_kinds: list[str] = field(default_factory=list)  # text kind of each train paragraph
    dev_kinds: list[str] = field(default_factory=list)


def tokenize_corpus(
    paths: Iterable[str | Path],
    dev_every: int = DEV_EVERY,
    paragraphs: ParagraphMode = "auto",
    kind_rules: Sequence[str] = (),
    cache_dir: Path | None = None,
    quiet: bool = True,
) -> TokenizedCorpus:
    """Every file tokenized (through the cache when given) and merged into one symbol table."""
    files = corpus_files(paths, kind_rules)
    index: dict[str, int] = {}
    symbols: list[str] = []
    kinds: list[str] = []
    counts = np.zeros(0, dtype=np.int64)
    surfaces: Counter = Counter()
    any_surfaces: Counter = Counter()
    corpus = TokenizedCorpus(symbols, kinds, counts, surfaces, any_surfaces, [], [],
                             CorpusSummary(files=[f.path.name for f in files]))  # fmt: skip
    summary = corpus.summary
    summary.paragraph_mode, summary.dev_every = paragraphs, dev_every
    summary.dev_split = f"every {dev_every}th paragraph held out" if dev_every else "none"
    number = 0
    for file, tokenized in tokenize_files(files, paragraphs, cache_dir, quiet):
        summary.kinds.setdefault(file.kind, []).append(file.path.name)
        summary.bytes += tokenized.bytes
        summary.words += tokenized.words
        summary.words_by_kind[file.kind] = summary.words_by_kind.get(file.kind, 0) + tokenized.words
        lookup = np.empty(len(tokenized.symbols), dtype=np.int32)
        for local, (symbol, kind) in enumerate(
            zip(tokenized.symbols.tolist(), tokenized.symbol_kinds.tolist())
        ):
            position = index.get(symbol)
            if position is None:
                position = index[symbol] = len(symbols)
                symbols.append(symbol)
                kinds.append(kind)
            lookup[local] = position
        counts = np.concatenate([counts, np.zeros(len(symbols) - len(counts), dtype=np.int64)])
        np.add.at(counts, lookup, tokenized.counts)
        for local, surface, (anywhere, inside) in zip(
            tokenized.surface_ids.tolist(), tokenized.surfaces.tolist(),
            tokenized.surface_counts.tolist(),
        ):  # fmt: skip
            key = (int(lookup[local]), surface)
            any_surfaces[key] += anywhere
            if inside:
                surfaces[key] += inside
        ids = lookup[tokenized.tokens]
        offsets = tokenized.offsets
        for paragraph in range(tokenized.n_paragraphs):
            number += 1
            if offsets[paragraph] == offsets[paragraph + 1]:
                continue
            array = ids[offsets[paragraph] : offsets[paragraph + 1]]
            held_out = is_dev(number, dev_every)
            (corpus.dev if held_out else corpus.train).append(array)
            (corpus.dev_kinds if held_out else corpus.train_kinds).append(file.kind)
            summary.paragraphs += 1
            summary.tokens += len(array)
    corpus.counts = counts
    summary.train_paragraphs, summary.dev_paragraphs = len(corpus.train), len(corpus.dev)
    return corpus


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
class DevSet:
    """Held-out chunks of one kind of text, with the length of each token if it is a word."""

    chunks: Chunks
    word_lengths: np.ndarray


@dataclass
class TrainingData:
    vocab: Vocabulary
    train: Chunks
    dev: Chunks
    dev_word_lengths: np.ndarray
    corpus: dict[str, Any]  # CorpusSummary plus vocab_coverage
    train_paragraphs: list[np.ndarray]
    dev_by_kind: dict[str, DevSet] = field(default_factory=dict)


def prepare_training_data(
    paths: list[str],
    max_context_tokens: int,
    vocab: Vocabulary | None = None,
    vocab_config: VocabConfig | None = None,
    dev_every: int = DEV_EVERY,
    paragraphs: ParagraphMode = "auto",
    kind_rules: Sequence[str] = (),
    cache_dir: Path | None = None,
    quiet: bool = True,
) -> TrainingData:
    """Tokenize, build (or reuse) the vocabulary, and cut train and dev chunks."""
    corpus = tokenize_corpus(paths, dev_every, paragraphs, kind_rules, cache_dir, quiet)
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
    dev_by_kind = {}
    for kind in sorted(set(corpus.dev_kinds)):
        rows = [i for i, k in enumerate(corpus.dev_kinds) if k == kind]
        dev_by_kind[kind] = DevSet(
            make_chunks([dev[i] for i in rows], vocab, max_context_tokens),
            np.concatenate([dev_lengths[i] for i in rows]),
        )
    return TrainingData(
        vocab,
        make_chunks(train, vocab, max_context_tokens),
        make_chunks(dev, vocab, max_context_tokens),
        np.concatenate(dev_lengths) if dev_lengths else np.zeros(0, dtype=np.int64),
        summary,
        train,
        dev_by_kind,
    )
