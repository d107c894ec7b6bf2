"""The learning-rate schedule and per-step seeds of a training run."""

from __future__ import annotations

import argparse

import pytest

pytest.importorskip("torch")

from nextword.exporter.checkpoint import Progress  # noqa: E402
from nextword.exporter.runtime import learning_rate, step_seed  # noqa: E402

pytestmark = pytest.mark.train


def schedule(time_budget: float = 0) -> argparse.Namespace:
    return argparse.Namespace(lr=1.0, warmup=10, time_budget=time_budget)


def test_warmup_then_cosine_decay_to_a_tenth() -> None:
    args = schedule()
    assert learning_rate(args, Progress(step=0), 100) == pytest.approx(0.1, rel=1e-3)
    assert learning_rate(args, Progress(step=9), 100) == pytest.approx(0.982, abs=1e-3)
    assert learning_rate(args, Progress(step=50), 100) == pytest.approx(0.55)
    assert learning_rate(args, Progress(step=100), 100) == pytest.approx(0.1)
    assert learning_rate(args, Progress(step=500), 100) == pytest.approx(0.1)


def test_a_time_budget_that_ends_first_drives_the_decay() -> None:
    args = schedule(time_budget=60)
    halfway_by_clock = Progress(step=20, train_seconds=30)
    assert learning_rate(args, halfway_by_clock, 1000) == pytest.approx(0.55)
    assert learning_rate(schedule(), halfway_by_clock, 1000) > 0.9


def test_step_seeds_differ_by_step_and_rank() -> None:
    seeds = {step_seed(0, step, rank) for step in range(100) for rank in range(4)}
    assert len(seeds) == 400
    assert step_seed(1, 5, 0) != step_seed(0, 5, 0)
