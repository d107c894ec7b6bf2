"""`nextword train`: train the recurrent next-word predictor on your own text.

    nextword train --corpus DIR|FILE... --out RUN_DIR [options]
    torchrun --nproc_per_node 2 --no-python nextword train --corpus ... --out ...
    nextword train --corpus ... --out RUN2 --init-from RUN --loss table-softmax --train-only head

The corpus is text files or folders of `*.txt` / `*.txt.gz` (see `nextword.exporter.corpus`).
The run directory receives `checkpoint.pt` (resumable with --resume, exportable with
`nextword export`), `train.log` and `history.jsonl` (dev figures as training goes, overall and
per kind of text).
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

import torch.distributed as dist

from nextword.exporter.checkpoint import CheckpointError
from nextword.exporter.corpus import DEV_EVERY, default_cache_dir
from nextword.exporter.losses import LOSS_NAMES
from nextword.exporter.runtime import Workers, budget_spent, init_workers
from nextword.exporter.starts import build_trainer
from nextword.exporter.targets import TARGET_SOURCES

log = logging.getLogger("nextword.train")


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="nextword train",
        description=__doc__.split("\n")[0],
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "--corpus", nargs="+", required=True,
        help="text files or folders (*.txt, *.txt.gz; one paragraph per line or blank-line blocks)",
    )  # fmt: skip
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
    data.add_argument(
        "--dev-every", type=int, default=DEV_EVERY, help="hold out every Nth paragraph"
    )
    data.add_argument(
        "--kind", action="append", default=[], metavar="NAME=GLOB[,GLOB]",
        help="files whose name matches a glob are this kind of text (dev figures per kind); "
        "other files take the name of the corpus folder they are in",
    )  # fmt: skip
    data.add_argument(
        "--token-cache", default=str(default_cache_dir()),
        help="folder caching each corpus file's token ids ('' for none)",
    )  # fmt: skip
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


def train_run(args: argparse.Namespace, workers: Workers) -> Path:
    """Train (or resume) the run in args.out; returns the checkpoint path."""
    trainer = build_trainer(args, workers, train_run)
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
    if progress.step >= trainer.total_steps or budget_spent(args, progress):
        progress.done = True
        trainer.save()
        return trainer.path
    if progress.done and workers.is_main:
        log.info("continuing a run that had spent its time budget: now %.0f s", args.time_budget)
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
