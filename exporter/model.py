"""The recurrent next-word predictor: its config and its network, nothing else.

Continuous output (default): the network predicts a vector in the frozen target space and the
server decodes it by nearest neighbour among the words matching the typed prefix. With
`word_bias`, each word also has a learned bias b_w, and a word scores output.e_w + b_w (an inner
product of [output; 1] with [e_w; b_w], so the search stays exact). Softmax output: the same
network with an ordinary vocabulary-sized head, kept for comparison.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Literal

import torch
from torch import nn


@dataclass
class PredictorConfig:
    vocab_size: int
    input_dim: int = 128
    hidden_size: int = 512
    layers: int = 1
    cell: Literal["gru", "lstm"] = "gru"
    output: Literal["continuous", "softmax"] = "continuous"
    output_dim: int = 384
    dropout: float = 0.1
    word_bias: bool = False
    """Continuous output: a learned per-word bias (trained by the table-softmax loss)."""

    @property
    def state_size(self) -> int:
        """Width of the packed state: h for a GRU, h and c side by side for an LSTM."""
        return self.hidden_size * (2 if self.cell == "lstm" else 1)

    def to_dict(self) -> dict:
        return asdict(self)


class Predictor(nn.Module):
    def __init__(self, config: PredictorConfig) -> None:
        super().__init__()
        if config.cell not in ("gru", "lstm"):
            raise ValueError(f"unknown cell {config.cell!r}")
        if config.output not in ("continuous", "softmax"):
            raise ValueError(f"unknown output {config.output!r}")
        self.config = config
        self.embed = nn.Embedding(config.vocab_size, config.input_dim)
        rnn_class = nn.GRU if config.cell == "gru" else nn.LSTM
        self.rnn = rnn_class(
            config.input_dim,
            config.hidden_size,
            num_layers=config.layers,
            batch_first=True,
            dropout=config.dropout if config.layers > 1 else 0.0,
        )
        self.drop = nn.Dropout(config.dropout)
        out_features = config.output_dim if config.output == "continuous" else config.vocab_size
        self.head = nn.Linear(config.hidden_size, out_features)
        if config.word_bias:
            self.word_bias = nn.Parameter(torch.zeros(config.vocab_size))

    def initial_state(self, batch: int = 1) -> torch.Tensor:
        c = self.config
        return torch.zeros(c.layers, batch, c.state_size)

    def _unpack(self, state: torch.Tensor):
        if self.config.cell == "gru":
            return state
        h, c = state.split(self.config.hidden_size, dim=-1)
        return h.contiguous(), c.contiguous()

    def _pack(self, state) -> torch.Tensor:
        return state if self.config.cell == "gru" else torch.cat(state, dim=-1)

    def run(self, vectors: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Input vectors [batch, time, input_dim] and packed state -> outputs and new state."""
        hidden, new_state = self.rnn(vectors, self._unpack(state))
        return self.head(self.drop(hidden)), self._pack(new_state)

    def forward(
        self, ids: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids [batch, time] -> outputs [batch, time, output_dim or vocab], new state."""
        if state is None:
            state = self.initial_state(ids.shape[0]).to(ids.device)
        return self.run(self.drop(self.embed(ids)), state)


class OneStep(nn.Module):
    """The exported graph: one token's input vector and the packed state -> output, new state."""

    def __init__(self, predictor: Predictor) -> None:
        super().__init__()
        self.predictor = predictor

    def forward(self, vector: torch.Tensor, state: torch.Tensor):
        output, new_state = self.predictor.run(vector.unsqueeze(1), state)
        return output.squeeze(1), new_state
