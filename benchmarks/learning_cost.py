"""What the learned layer costs a keystroke: at every keystroke of typed text, one completion
without and one with what is learned in DATA_HOME (order alternating, same engine, same
document), timed in process CPU time, so the machine's other load cancels out of the paired
difference. In process (no stdio): `latency.py` measures the whole round trip.

    python benchmarks/learning_cost.py DATA_HOME [--chars 3000] [--text FILE]

DATA_HOME: an XDG_DATA_HOME that `nextword learn` filled (for the default bundle).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

from latency import CORPUS, DEFAULT_TEXT_FILES, held_out_paragraphs

from nextword.server.commands.sessions import engine_session_factory
from nextword.server.personal.layer import PersonalLayer


def percentiles(values: list[float]) -> str:
    ordered = sorted(values)
    n = len(ordered)
    mean = 1e3 * sum(ordered) / n
    return (
        f"mean {mean:.3f} p50 {1e3 * ordered[n // 2]:.3f} p90 {1e3 * ordered[int(n * 0.9)]:.3f} "
        f"p99 {1e3 * ordered[int(n * 0.99)]:.3f} ms"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_home", type=Path)
    parser.add_argument("--chars", type=int, default=3000)
    parser.add_argument("--text", type=Path)
    args = parser.parse_args(argv)
    factory = engine_session_factory(None)
    engine = factory.engine  # type: ignore[attr-defined]
    base = args.data_home / "nextword"
    layer = PersonalLayer.loaded(engine.vocab, engine.bundle.path, base=base)
    print(f"learned: {layer.describe()}; the layer holds {layer.nbytes / 1e6:.1f} MB")
    if args.text:
        text = args.text.read_text(encoding="utf-8")
    else:
        text = " ".join(held_out_paragraphs([CORPUS / name for name in DEFAULT_TEXT_FILES]))
    times: dict[str, list[float]] = {"without": [], "with": []}
    order = [("without", None), ("with", layer)]
    chance = random.Random(1)
    session = factory()
    for char in text[: args.chars]:
        session.type_text(char)
        for name, personal in sorted(order, key=lambda _: chance.random()):
            engine.personal, engine.prepared = personal, None
            started = time.process_time()
            session.suggest(6)
            times[name].append(time.process_time() - started)
    for name, values in times.items():
        print(f"{name} learned words: CPU per completion {percentiles(values)}")
    paired = [b - a for a, b in zip(times["without"], times["with"])]
    print(f"difference (with - without), keystroke by keystroke: {percentiles(paired)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
