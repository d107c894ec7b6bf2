"""Document adaptation: the continuous cache's keystroke savings.

    python benchmarks/adaptation.py tune          # grid: theta, weight, temperature (dev text)
    python benchmarks/adaptation.py report   # held-out kinds: KSR with and without the memory

`tune` types a tuning text made of the exporter's dev split (every 20th paragraph of
../shared/corpus, never trained on): for each corpus file, a contiguous run of dev paragraphs
that are not in the held-out `corpus-dev` text, one document per file. `report` types the
held-out texts of benchmarks/heldout.py (each file one document) with the memory off and on
(the ranking's nearby-words bonus stays at its default in both). Results go to
.benchmarks/adaptation-*.json and are printed as Markdown. Ghost text has its own tuning
(ghost_tune.py) and rows (run_all.py's `ghost` section).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from heldout import (
    DEFAULT_CACHE,
    HeldoutConfig,
    build,
    clip_paragraph,
    corpus_dev,
    to_ascii,
    word_count,
)

from nextword.server.commands.evaluate import evaluate_files
from nextword.server.commands.sessions import EngineSession
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.settings import Settings

OUT = Path(__file__).resolve().parents[1] / ".benchmarks"
SUGGESTIONS = [1, 3, 6]


def engine_for(bundle: str | None, **memory: object) -> Engine:
    settings = Settings()
    settings.memory = dataclasses.replace(settings.memory, **memory)
    return load_engine(bundle, settings)


def tuning_texts(config: HeldoutConfig, words_per_file: int) -> list[Path]:
    """One document per corpus file: consecutive dev paragraphs not in the held-out text."""
    heldout = build(config, ["corpus-dev"])["corpus-dev"].read_text(encoding="ascii")
    dev = corpus_dev(config.corpora[:1])
    out = config.cache / f"adaptation-tune-{words_per_file}"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, paragraphs in dev.items():
        chosen: list[str] = []
        total = 0
        for raw in paragraphs[len(paragraphs) // 3 :]:
            paragraph = clip_paragraph(" ".join(to_ascii(raw).split()), 150)
            if not paragraph or paragraph in heldout:
                continue
            chosen.append(paragraph)
            total += word_count(paragraph)
            if total >= words_per_file:
                break
        path = out / f"{Path(name).stem}.txt"
        path.write_text("\n\n".join(chosen) + "\n", encoding="ascii")
        paths.append(path)
    return paths


def ksr(engine: Engine, name: str, paths: list[Path]) -> dict:
    counter = itertools.count()

    def open_session() -> EngineSession:
        return EngineSession(engine, f"eval://adaptation-{next(counter)}")

    summary = evaluate_files(name, paths, open_session, SUGGESTIONS, show_progress=False)
    return {
        "ksr": summary.ksr,
        "words": summary.words,
        "p50_ms": summary.latency_ms["p50"],
        "p99_ms": summary.latency_ms["p99"],
    }


def tune(args: argparse.Namespace) -> int:
    config = HeldoutConfig(cache=args.cache)
    paths = tuning_texts(config, args.words)
    rows = []
    base = ksr(engine_for(args.bundle, enabled=False), "memory off", paths)
    print(f"memory off: KSR {base['ksr']}", flush=True)
    rows.append({"enabled": False, **base})
    grid = itertools.product(args.theta, args.weight, args.temperature, args.same_previous)
    for theta, weight, temperature, same in grid:
        started = time.perf_counter()
        engine = engine_for(
            args.bundle, theta=theta, weight=weight, temperature=temperature, same_previous=same
        )
        result = ksr(engine, "memory", paths)
        gain = result["ksr"][6] - base["ksr"][6]
        print(
            f"theta {theta:g} weight {weight:g} temperature {temperature:g} same {same:g}: KSR@6 "
            f"{result['ksr'][6]:.2f} ({gain:+.2f}) KSR@1 {result['ksr'][1]:.2f} "
            f"[{time.perf_counter() - started:.0f} s]",
            flush=True,
        )
        config = {"theta": theta, "weight": weight, "temperature": temperature, "same": same}
        rows.append({**config, **result})
    OUT.mkdir(exist_ok=True)
    (OUT / "adaptation-tune.json").write_text(json.dumps(rows, indent=2))
    return 0


def report(args: argparse.Namespace) -> int:
    config = HeldoutConfig(cache=args.cache, words_per_kind=args.heldout_words)
    texts = build(config)
    engines = {
        "memory off": engine_for(args.bundle, enabled=False),
        "memory on": engine_for(args.bundle),
    }
    results: dict[str, dict] = {}
    lines = [
        "| text | words | KSR@6 off % | KSR@6 on % | gain | KSR@1 off % | KSR@1 on % "
        "| p50 ms off / on | p99 ms off / on |"
    ]
    lines.append("|---|---|---|---|---|---|---|---|---|")
    for kind, path in texts.items():
        row = {name: ksr(engine, name, [path]) for name, engine in engines.items()}
        off, on = row["memory off"], row["memory on"]
        results[kind] = row
        lines.append(
            f"| {kind} | {on['words']} | {off['ksr'][6]:.2f} | {on['ksr'][6]:.2f} | "
            f"{on['ksr'][6] - off['ksr'][6]:+.2f} | {off['ksr'][1]:.2f} | {on['ksr'][1]:.2f} | "
            f"{off['p50_ms']:.2f} / {on['p50_ms']:.2f} | {off['p99_ms']:.2f} / {on['p99_ms']:.2f} |"
        )
        print(lines[-1], flush=True)
    settings = Settings()
    lines.append("")
    lines.append(f"memory: {settings.memory}")
    print("\n".join(lines))
    OUT.mkdir(exist_ok=True)
    (OUT / "adaptation-report.json").write_text(json.dumps(results, indent=2))
    (OUT / "adaptation-report.md").write_text("\n".join(lines) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["tune", "report"])
    parser.add_argument("--bundle", help="bundle directory (default: the bundled default model)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--words", type=int, default=400, help="tuning words per corpus file")
    parser.add_argument("--heldout-words", type=int, default=3000)
    parser.add_argument("--theta", type=float, nargs="+", default=[10.0, 25.0, 50.0])
    parser.add_argument("--weight", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    parser.add_argument("--temperature", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--same-previous", type=float, nargs="+", default=[1.0, 5.0])
    args = parser.parse_args(argv)
    commands = {"tune": tune, "report": report}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
