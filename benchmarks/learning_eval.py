"""Learning from the user's writing, measured: an author's later writing typed through
`nextword serve` with a fresh data directory, before `nextword learn` of their earlier writing,
after it, and after `nextword forget --all`; Presage given the same earlier text through its
own learning (it types the earlier text with online learning on, then the later one).

    python benchmarks/learning_eval.py [--typed-words 2000] [--kind binutils] [--no-presage]

The texts come from same_author.py (Debian changelogs, not in the training corpora). Writes
benchmarks/results/learning.md and learning.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import presage_eval
import same_author

from nextword.server.commands.evaluate import evaluate_files
from nextword.server.commands.sessions import lsp_session_factory

RESULTS = Path(__file__).resolve().parent / "results"
NEXTWORD = [sys.executable, "-m", "nextword.server.cli"]


def ksr(later: Path, home: Path) -> dict:
    """KSR@1/3/6 of typing `later` through `nextword serve` with `home` as XDG_DATA_HOME."""
    factory = lsp_session_factory(None, data_home=home)
    try:
        summary = evaluate_files("nextword", [later], factory, [1, 3, 6], False)
    finally:
        factory.client.shutdown()  # type: ignore[attr-defined]
    return {"ksr": summary.ksr, "words": summary.words, "latency_ms": summary.latency_ms}


def nextword(command: list[str], home: Path) -> float:
    """Run a `nextword` command with `home` as XDG_DATA_HOME; its seconds."""
    started = time.perf_counter()
    subprocess.run(
        [*NEXTWORD, *command], check=True, env={**os.environ, "XDG_DATA_HOME": str(home)}
    )
    return time.perf_counter() - started


def presage(earlier: Path, later: Path, database: Path) -> dict:
    with tempfile.TemporaryDirectory(prefix="presage-learning-") as folder:
        fresh = presage_eval.run_simulator(later, database, 6)
        user = Path(folder)
        presage_eval.run_simulator(earlier, database, 6, user_dir=user)
        learned = presage_eval.run_simulator(later, database, 6, user_dir=user)
    return {"without": fresh.ksr, "learned": learned.ksr, "database": str(database)}


def table(results: dict) -> str:
    rows = results["nextword"]
    lines = [
        f"Same-author text: {results['author']} ({results['origin']}); learned "
        f"{results['earlier_words']:,} words of earlier writing, typed the last "
        f"{results['later_words']:,} words, through `nextword serve` with a fresh data directory.",
        "",
        "| system | KSR@1 % | KSR@3 % | KSR@6 % |",
        "|---|---:|---:|---:|",
    ]
    for name, row in rows.items():
        k = row["ksr"]
        lines.append(f"| nextword, {name} | {k[1]:.1f} | {k[3]:.1f} | {k[6]:.1f} |")
    if "presage" in results:
        p = results["presage"]
        lines.append(f"| Presage (stock database), no learning first | | | {p['without']:.1f} |")
        lines.append(f"| Presage, the earlier text learned first | | | {p['learned']:.1f} |")
    lines.append("")
    lines.append(f"`nextword learn` of the earlier text: {results['learn_seconds']:.1f} s.")
    return "\n".join(lines)


def measure(kind: str, cache: Path, typed_words: int = 2000, with_presage: bool = True) -> dict:
    texts = same_author.same_author(kind, cache, typed_words)
    earlier, later = same_author.write(kind, texts, cache / "same-author")
    results: dict = {
        "author": texts.author,
        "origin": texts.origin,
        "earlier_words": sum(len(item.split()) for item in texts.earlier),
        "later_words": sum(len(item.split()) for item in texts.later),
        "nextword": {},
    }
    with tempfile.TemporaryDirectory(prefix="nextword-learning-") as folder:
        home = Path(folder)
        results["nextword"]["nothing learned"] = ksr(later, home)
        results["learn_seconds"] = nextword(["learn", "--quiet", str(earlier)], home)
        results["nextword"]["earlier writing learned"] = ksr(later, home)
        nextword(["forget", "--all"], home)
        results["nextword"]["after nextword forget --all"] = ksr(later, home)
    if with_presage and presage_eval.available():
        results["presage"] = presage(earlier, later, presage_eval.stock_database())
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--kind", default=same_author.BENCHMARK, choices=sorted(same_author.AUTHORS)
    )
    parser.add_argument("--typed-words", type=int, default=2000)
    parser.add_argument("--cache", type=Path, default=same_author.DEFAULT_CACHE)
    parser.add_argument("--no-presage", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    results = measure(args.kind, args.cache, args.typed_words, not args.no_presage)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "learning.json").write_text(json.dumps(results, indent=2), encoding="utf-8")
    report = table(results)
    (args.out / "learning.md").write_text("# Learning from the user's writing\n\n" + report + "\n")
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
