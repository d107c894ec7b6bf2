"""One training run's state and loop: steps, dev figures (overall and per kind of text),
checkpoints. `nextword.exporter.starts` builds a `Trainer`; `nextword.exporter.train` runs it."""

from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from nextword.exporter.checkpoint import CHECKPOINT_NAME, Checkpoint, Progress, save_checkpoint
from nextword.exporter.data import (
    IGNORE_INDEX,
    TrainingData,
    batch_arrays,
    epoch_batches,
    evenly_spaced,
    parity_sample,
)
from nextword.exporter.evaluate import DevFigures, evaluate, token_loss, word_bias_of
from nextword.exporter.losses import LossConfig, sampled_table_loss, sampling_proposal
from nextword.exporter.model import Predictor, PredictorConfig
from nextword.exporter.runtime import StopRequest, Workers, learning_rate, step_seed, stop_reason

log = logging.getLogger("nextword.train")


@dataclass
class Trainer:
    """One training run's state; `train_run` builds it, `loop` advances it."""

    args: argparse.Namespace
    workers: Workers
    data: TrainingData
    config: PredictorConfig
    model: Predictor
    network: torch.nn.Module  # the model, or its DistributedDataParallel wrapper
    optimizer: torch.optim.Optimizer
    targets: torch.Tensor | None
    progress: Progress
    history: list[dict[str, Any]]
    steps_per_epoch: int
    total_steps: int
    targets_info: dict[str, Any]

    @cached_property
    def proposal(self) -> torch.Tensor:
        """Where --negatives draws the sampled words from (frequency ** 0.75)."""
        return sampling_proposal(self.data.vocab.counts)

    @property
    def out(self) -> Path:
        return Path(self.args.out)

    @property
    def path(self) -> Path:
        return self.out / CHECKPOINT_NAME

    @property
    def loss_config(self) -> LossConfig:
        args = self.args
        return LossConfig(
            args.loss, args.vmf_lambda1, args.vmf_lambda2, getattr(args, "negatives", 0)
        )

    def save(self, figures: DevFigures | None = None) -> None:
        if not self.workers.is_main:
            return
        dev = figures.to_dict() if figures else (self.history[-1] if self.history else {})
        checkpoint = Checkpoint(
            self.config, self.model.state_dict(), self.data.vocab, self.targets, vars(self.args),
            self.progress, self.optimizer.state_dict(), torch.get_rng_state(), self.data.corpus,
            self.targets_info, dev, self.history,
            [p.tolist() for p in parity_sample(self.data.dev)],
        )  # fmt: skip
        save_checkpoint(self.path, checkpoint)

    def dev_figures(self) -> DevFigures:
        data, progress = self.data, self.progress
        indices = evenly_spaced(data.dev, self.args.dev_tokens)
        figures = evaluate(
            self.model, data.dev, data.dev_word_lengths, indices, data.vocab, self.targets,
            self.loss_config,
        )  # fmt: skip
        record = {"step": progress.step, "epoch": progress.epoch, "train_tokens": progress.tokens}
        record |= {"seconds": round(progress.train_seconds, 1), **figures.to_dict()}
        if len(data.dev_by_kind) > 1:
            record["kinds"] = self.dev_figures_by_kind()
        self.history.append(record)
        with (self.out / "history.jsonl").open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
        log.info("step %d: %s", progress.step, figures.line())
        return figures

    def dev_figures_by_kind(self) -> dict[str, dict[str, Any]]:
        """The same figures on each kind of text's own dev sample (an equal share of tokens)."""
        share = max(2000, self.args.dev_tokens // len(self.data.dev_by_kind))
        by_kind = {}
        for kind, dev in self.data.dev_by_kind.items():
            figures = evaluate(
                self.model, dev.chunks, dev.word_lengths, evenly_spaced(dev.chunks, share),
                self.data.vocab, self.targets, self.loss_config,
            )  # fmt: skip
            log.info("step %d %s: %s", self.progress.step, kind, figures.line())
            by_kind[kind] = figures.to_dict()
        return by_kind

    def step(self, chunk_ids: np.ndarray) -> tuple[float, int]:
        """One optimizer step on these chunks; returns the loss and the tokens it counted."""
        args, progress = self.args, self.progress
        torch.manual_seed(step_seed(args.seed, progress.step, self.workers.rank))
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(args, progress, self.total_steps)
        inputs, target_ids = batch_arrays(self.data.train, chunk_ids, self.data.vocab.unknown_id)
        outputs, _ = self.network(torch.from_numpy(inputs))
        flat_targets = torch.from_numpy(target_ids).reshape(-1)
        keep = flat_targets != IGNORE_INDEX
        flat_outputs = outputs.reshape(-1, outputs.shape[-1])[keep]
        config = self.loss_config
        if config.name == "table-softmax" and config.negatives and self.targets is not None:
            loss = sampled_table_loss(
                flat_outputs, flat_targets[keep], self.targets, word_bias_of(self.model),
                self.proposal, config.negatives,
            )  # fmt: skip
        else:
            loss = token_loss(
                flat_outputs, flat_targets[keep], self.targets, config, word_bias_of(self.model)
            )
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.optimizer.param_groups[0]["params"], args.clip)
        self.optimizer.step()
        return loss.item(), int(keep.sum())

    def loop(self) -> str:
        """Train until finished, out of budget, halted or interrupted; returns which."""
        args, progress, workers = self.args, self.progress, self.workers
        stop = StopRequest()
        last_checkpoint = time.monotonic()
        steps_here = 0
        bar = tqdm(
            total=self.total_steps, initial=progress.step, unit="step", dynamic_ncols=True,
            disable=args.quiet or not workers.is_main, desc=f"train {self.out.name}",
        )  # fmt: skip
        self.model.train()
        while True:
            batches = epoch_batches(self.data.train, args.batch_size, args.seed, progress.epoch)
            for index in range(progress.batch_in_epoch, self.steps_per_epoch):
                started = time.monotonic()
                loss, tokens = self.step(batches[index * workers.world + workers.rank])
                progress.step += 1
                progress.batch_in_epoch = index + 1
                progress.tokens += tokens * workers.world
                progress.train_seconds += time.monotonic() - started
                steps_here += 1
                bar.update(1)
                bar.set_postfix(loss=f"{loss:.4f}", epoch=progress.epoch, refresh=False)
                reason = stop_reason(args, progress, self.total_steps, steps_here, stop, workers)
                if reason:
                    bar.close()
                    return reason
                if args.eval_every and progress.step % args.eval_every == 0 and workers.is_main:
                    self.dev_figures()
                if time.monotonic() - last_checkpoint > args.checkpoint_minutes * 60:
                    self.save()
                    last_checkpoint = time.monotonic()
            progress.epoch += 1
            progress.batch_in_epoch = 0
