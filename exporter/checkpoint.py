"""Training checkpoints: everything needed to resume a run or export it, in one file.

A checkpoint carries the network's `PredictorConfig` (so export rebuilds it without the training
code's arguments), the weights, the vocabulary, the frozen targets, the optimizer state, the data
position and RNG state, the training arguments, the corpus summary, dev figures, and a held-out
token sample for the exporter's parity check. `load_checkpoint` is the only reader.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from nextword.exporter.model import Predictor, PredictorConfig
from nextword.server.model.vocab import Vocabulary

CHECKPOINT_FORMAT = "nextword-checkpoint"
CHECKPOINT_VERSION = 1
CHECKPOINT_NAME = "checkpoint.pt"


class CheckpointError(Exception):
    """A checkpoint that cannot be used; the message is one line meant for the user."""


@dataclass
class Progress:
    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    tokens: int = 0
    train_seconds: float = 0.0
    done: bool = False


@dataclass
class Checkpoint:
    config: PredictorConfig
    model_state: dict[str, torch.Tensor]
    vocab: Vocabulary
    targets: torch.Tensor | None  # [vocab, output_dim] unit rows; None for softmax output
    args: dict[str, Any]
    progress: Progress
    optimizer_state: dict[str, Any] | None = None
    rng_state: torch.Tensor | None = None
    corpus: dict[str, Any] = field(default_factory=dict)
    targets_info: dict[str, Any] = field(default_factory=dict)
    dev: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    parity_sample: list[list[int]] = field(default_factory=list)

    def predictor(self) -> Predictor:
        model = Predictor(self.config)
        model.load_state_dict(self.model_state)
        model.eval()
        return model


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write atomically: a crash mid-write leaves the previous checkpoint intact."""
    vocab = checkpoint.vocab
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "config": checkpoint.config.to_dict(),
        "model": checkpoint.model_state,
        "vocab": {
            "folded": vocab.folded,
            "display": vocab.display,
            "counts": vocab.counts,
            "n_words": vocab.n_words,
        },
        "targets": checkpoint.targets,
        "args": checkpoint.args,
        "progress": vars(checkpoint.progress),
        "optimizer": checkpoint.optimizer_state,
        "rng": checkpoint.rng_state,
        "corpus": checkpoint.corpus,
        "targets_info": checkpoint.targets_info,
        "dev": checkpoint.dev,
        "history": checkpoint.history,
        "parity_sample": checkpoint.parity_sample,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(payload, temporary)
    os.replace(temporary, path)


def load_checkpoint(path: Path | str) -> Checkpoint:
    path = Path(path)
    if path.is_dir():
        path = path / CHECKPOINT_NAME
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # torch raises many types for a damaged file
        raise CheckpointError(f"checkpoint {path} cannot be read ({error})") from None
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path} is not a nextword checkpoint")
    if payload.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"checkpoint {path}: version {payload.get('version')} unsupported")
    words = payload["vocab"]
    vocab = Vocabulary(words["folded"], words["display"], words["counts"], words["n_words"])
    return Checkpoint(
        config=PredictorConfig(**payload["config"]),
        model_state=payload["model"],
        vocab=vocab,
        targets=payload["targets"],
        args=payload["args"],
        progress=Progress(**payload["progress"]),
        optimizer_state=payload["optimizer"],
        rng_state=payload["rng"],
        corpus=payload["corpus"],
        targets_info=payload["targets_info"],
        dev=payload["dev"],
        history=payload["history"],
        parity_sample=payload["parity_sample"],
    )
