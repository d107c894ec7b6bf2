"""Process-level parts of a training run: workers (torch.distributed), stop requests, the
learning-rate schedule, and per-step seeds."""

from __future__ import annotations

import argparse
import math
import os
import signal
from dataclasses import dataclass

import torch
import torch.distributed as dist

from nextword.exporter.checkpoint import Progress


@dataclass
class Workers:
    rank: int = 0
    world: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def init_workers() -> Workers:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Workers()
    dist.init_process_group("gloo")
    return Workers(dist.get_rank(), dist.get_world_size())


def learning_rate(args: argparse.Namespace, progress: Progress, total: int) -> float:
    """Linear warmup, then cosine decay to a tenth over the planned steps, or over the time
    budget if that ends first (then the schedule follows the clock and a resume is not bitwise
    identical to an uninterrupted run)."""
    warm = min(1.0, (progress.step + 1) / max(args.warmup, 1))
    done = progress.step / max(total, 1)
    if args.time_budget:
        done = max(done, progress.train_seconds / args.time_budget)
    done = min(1.0, done)
    return args.lr * warm * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * done)))


def step_seed(seed: int, step: int, rank: int) -> int:
    """Dropout RNG reseeded every step: resuming needs no RNG stream position to be exact."""
    return (seed * 1_000_003 + step * 7919 + rank * 104_729) % (2**63 - 1)


class StopRequest:
    """SIGINT/SIGTERM ask the loop to checkpoint and stop after the current step."""

    def __init__(self) -> None:
        self.requested = False
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._handle)

    def _handle(self, signum: int, frame: object) -> None:
        self.requested = True


def stop_reason(
    args: argparse.Namespace,
    progress: Progress,
    total_steps: int,
    steps_here: int,
    stop: StopRequest,
    workers: Workers,
) -> str:
    """Why to stop after this step ("" to go on); every process gets the same answer."""
    agree_on_clock(progress, stop, workers)
    if progress.step >= total_steps:
        return "finished"
    if args.halt_after and steps_here >= args.halt_after:
        return "halted (--halt-after)"
    if budget_spent(args, progress):
        return "time budget spent"
    return "interrupted" if stop.requested else ""


def budget_spent(args: argparse.Namespace, progress: Progress) -> bool:
    """Whether the run has trained for its --time-budget (a resume may raise the budget)."""
    return bool(args.time_budget) and progress.train_seconds >= args.time_budget


def agree_on_clock(progress: Progress, stop: StopRequest, workers: Workers) -> None:
    """Processes share the slowest clock (it drives the time-budget schedule, so replicas must
    agree) and any process's stop request."""
    if workers.world <= 1:
        return
    value = torch.tensor([progress.train_seconds, 1.0 if stop.requested else 0.0])
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    progress.train_seconds = float(value[0])
    stop.requested = bool(value[1])
