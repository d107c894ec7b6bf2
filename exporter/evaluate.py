"""Dev figures while training: loss, next-word top-1/top-6 with no prefix, keystroke savings.

Decoding is the server's idea without its reranking: normalise the prediction, rank the words of
the typed prefix's id range by inner product with the unit target rows (with a learned word bias:
by output.e_w + b_w, unnormalised; softmax output: by logit).

Keystroke savings with 6 suggestions follow Presage's simulator: each word costs its letters plus
one space (kn); if the word shows among the 6 suggestions after k typed letters it costs k + 1
(select), else all letters plus space. KSR = 1 - cost / kn, over the word tokens of the sample
(out-of-vocabulary words never appear; numbers and punctuation are context only).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import torch

from nextword.exporter.data import IGNORE_INDEX, Chunks, batch_arrays
from nextword.exporter.losses import LossConfig, continuous_loss, table_logits
from nextword.exporter.model import Predictor
from nextword.server.model.vocab import Vocabulary
from nextword.server.text.keystrokes import keystrokes

SUGGESTIONS = 6


@dataclass
class DevFigures:
    loss: float = 0.0
    top1: float = 0.0
    top6: float = 0.0
    ksr6: float = 0.0
    words: int = 0
    dev_tokens: int = 0

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (
            f"dev loss {self.loss:.4f}  top-1 {self.top1:.2%}  top-6 {self.top6:.2%}  "
            f"KSR@6 {self.ksr6:.2%}  ({self.words} words)"
        )


def word_cost(scores: np.ndarray, target: int, word: str, vocab: Vocabulary) -> int:
    """Presage cost of one in-vocabulary word given the scores of all words."""
    target_score = scores[target]

    def offered(typed: int) -> bool:
        lo, hi = vocab.prefix_range(word[:typed])
        return np.count_nonzero(scores[lo:hi] > target_score) < SUGGESTIONS

    return keystrokes(map(offered, range(len(word) + 1)), len(word))


class DevScorer:
    """Accumulates figures over batches of network outputs."""

    def __init__(
        self, vocab: Vocabulary, targets: np.ndarray | None, bias: np.ndarray | None = None
    ) -> None:
        self.vocab = vocab
        self.words_table = None if targets is None else targets[: vocab.n_words]
        self.words_bias = None if bias is None else bias[: vocab.n_words]
        self.top1 = self.top6 = self.words = 0
        self.cost = self.keys = 0

    def add(self, outputs: np.ndarray, targets: np.ndarray, word_lengths: np.ndarray) -> None:
        """outputs [n, d or vocab]; targets [n] ids (IGNORE for unknown); word_lengths [n]."""
        n_words = self.vocab.n_words
        is_word = word_lengths > 0
        unknown = is_word & (targets == IGNORE_INDEX)
        self.words += int(is_word.sum())
        self.cost += int((word_lengths[unknown] + 1).sum())
        self.keys += int((word_lengths[is_word] + 1).sum())
        known = np.flatnonzero(is_word & (targets >= 0) & (targets < n_words))
        if not len(known):
            return
        if self.words_table is None:
            scores = outputs[known, :n_words]
        elif self.words_bias is not None:
            scores = outputs[known] @ self.words_table.T + self.words_bias
        else:
            vectors = outputs[known]
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
            scores = vectors @ self.words_table.T
        for row, position in enumerate(known.tolist()):
            target = int(targets[position])
            rank = int(np.count_nonzero(scores[row] > scores[row, target]))
            self.top1 += rank == 0
            self.top6 += rank < SUGGESTIONS
            self.cost += word_cost(scores[row], target, self.vocab.folded[target], self.vocab)

    def figures(self, loss: float, tokens: int) -> DevFigures:
        words = max(self.words, 1)
        return DevFigures(
            loss=loss,
            top1=self.top1 / words,
            top6=self.top6 / words,
            ksr6=1 - self.cost / max(self.keys, 1),
            words=self.words,
            dev_tokens=tokens,
        )


@torch.no_grad()
def evaluate(
    model: Predictor,
    chunks: Chunks,
    word_lengths: np.ndarray,
    indices: np.ndarray,
    vocab: Vocabulary,
    targets: torch.Tensor | None,
    loss_config: LossConfig,
    batch_size: int = 64,
) -> DevFigures:
    """Figures over the chunks `indices`; word_lengths is aligned with chunks.tokens."""
    was_training = model.training
    model.eval()
    table = None if targets is None else targets.numpy()
    bias = word_bias_of(model)
    scorer = DevScorer(vocab, table, None if bias is None else bias.detach().numpy())
    total_loss, total_tokens = 0.0, 0
    for begin in range(0, len(indices), batch_size):
        batch = indices[begin : begin + batch_size]
        inputs, target_ids = batch_arrays(chunks, batch, vocab.unknown_id)
        lengths = np.zeros_like(target_ids)
        for row, chunk in enumerate(batch.tolist()):
            start, length = int(chunks.starts[chunk]), int(chunks.lengths[chunk])
            lengths[row, :length] = word_lengths[start : start + length]
        outputs, _ = model(torch.from_numpy(inputs))
        flat_targets = torch.from_numpy(target_ids).reshape(-1)
        flat_outputs = outputs.reshape(-1, outputs.shape[-1])
        keep = flat_targets != IGNORE_INDEX
        if keep.any():
            loss = token_loss(flat_outputs[keep], flat_targets[keep], targets, loss_config, bias)
            total_loss += float(loss) * int(keep.sum())
            total_tokens += int(keep.sum())
        scorer.add(flat_outputs.numpy(), flat_targets.numpy(), lengths.reshape(-1))
    model.train(was_training)
    return scorer.figures(total_loss / max(total_tokens, 1), total_tokens)


def word_bias_of(model: Predictor) -> torch.Tensor | None:
    return model.word_bias if model.config.word_bias else None


def token_loss(
    outputs: torch.Tensor,
    target_ids: torch.Tensor,
    targets: torch.Tensor | None,
    config: LossConfig,
    bias: torch.Tensor | None = None,
) -> torch.Tensor:
    """Mean loss of outputs [n, ...] for known target ids [n]; softmax when targets is None."""
    if targets is None:
        return torch.nn.functional.cross_entropy(outputs, target_ids)
    if config.name == "table-softmax":
        return torch.nn.functional.cross_entropy(table_logits(outputs, targets, bias), target_ids)
    return continuous_loss(outputs, targets[target_ids], config)
