"""Every benchmark in one command: tables (Markdown) and plots (PNG) for the README.

    python benchmarks/run_all.py            # full run (needs ../shared/corpus and corpus-modern)
    python benchmarks/run_all.py --quick    # tiny version for CI (no ../shared), < 2 minutes

Writes `results.md`, `results.json` and the plots into --out (default benchmarks/results, or a
temp dir with --quick). Sections (`--only quality,speed,training` to pick):

- quality: keystroke savings, next-word recall and hit rate by prefix length on held-out text
  of nine kinds (benchmarks/heldout.py: where each comes from, checked not to be in the training
  corpora), for Presage (trained on the training split of the same corpora, and stock),
  buffer-word completion, unigram frequency, nextword with and without its document cache, the
  previous default bundle (`--previous COMMIT`, taken from git history), and the softmax head
  network (when a softmax bundle is given). The issue's figures (KSR@6 margins over Presage per
  kind, next-word top-1 on the modern kinds) are logged and written first. Fetched packages,
  the held-out texts, Presage's database and the runs are cached (--cache), so a rerun redoes
  only what changed.
- ghost: ghost text (inline completion) on the same held-out texts: keystrokes saved alone
  and with the list, how often shown and right (benchmarks/ghost_rows.py).
- speed: keystroke latency over stdio against the protocol floor (benchmarks/latency.py),
  latency as the document grows to 1M words, cold start, memory with 20 open 50k-word documents.
- training: throughput and dev figures of continuous vs softmax output at 20k/50k/200k words
  (on the old corpus).

Timing sections run alone (nothing else of ours running); quality runs Presage in parallel
with the in-process systems.
"""

from __future__ import annotations

import argparse
import json
import logging
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import bundles  # noqa: E402
import heldout  # noqa: E402
import presage_eval  # noqa: E402
import report  # noqa: E402
from bundles import bundle_label  # noqa: E402
from training_text import CorpusIndex  # noqa: E402

from nextword.server.model.bundle import DEFAULT_BUNDLE, read_manifest  # noqa: E402

log = logging.getLogger("benchmarks")

REPO = HERE.parent
QUICK_DATA = REPO / "tests" / "data" / "bench"
SECTIONS = ("quality", "ghost", "speed", "training", "learning")
SOFTMAX_NAME = "softmax head (same network)"
MATCHED_NAME = "continuous head, trained like the softmax one"


@dataclass
class Plan:
    quick: bool
    out: Path
    cache: Path
    bundle: Path
    other_bundles: dict[str, Path]
    texts: dict[str, Path]
    corpus_files: list[Path]
    """The old corpus, which the training-cost section tokenizes."""
    training_text: Path
    texts_about: dict[str, dict]
    """Each held-out text's origin, size and paragraphs found in the training corpora."""
    fresh: bool = False
    training_hidden: int = 0
    systems: list[str] = field(default_factory=list)
    """Names of the quality systems to run (empty: all)."""


def make_plan(args: argparse.Namespace) -> Plan:
    corpora = [Path(p) for p in args.corpus]
    if args.quick:
        cache = Path(args.cache or tempfile.mkdtemp(prefix="nextword-bench-"))
        out = Path(args.out or cache / "results")
        tiny = REPO / "tests" / "data"
        texts = {p.stem: p for p in sorted((QUICK_DATA / "heldout").glob("*.txt"))}
        others = {SOFTMAX_NAME: Path(args.softmax_bundle or tiny / "tiny_softmax_bundle")}
        training = QUICK_DATA / "train.txt"
        index = CorpusIndex.build([training], cache)
        about = {kind: heldout.describe(path, index) for kind, path in texts.items()}
        return Plan(
            True, out, cache, Path(args.bundle or tiny / "tiny_bundle"), others, texts,
            [training], training, about,
        )  # fmt: skip
    cache = Path(args.cache or heldout.DEFAULT_CACHE)
    config = heldout.HeldoutConfig(words_per_kind=args.words, cache=cache, corpora=tuple(corpora))
    index = CorpusIndex.build(corpora, cache, config.paragraphs)  # type: ignore[arg-type]
    texts = heldout.build(config, args.kinds.split(","), index)
    about = {kind: heldout.describe(path, index) for kind, path in texts.items()}
    training_text = heldout.build_presage_training_text(config)
    others: dict[str, Path] = {}
    if args.softmax_bundle:
        others[SOFTMAX_NAME] = Path(args.softmax_bundle)
    if args.matched_bundle:
        others[MATCHED_NAME] = Path(args.matched_bundle)
    return Plan(
        False, Path(args.out or HERE / "results"), cache, Path(args.bundle or DEFAULT_BUNDLE),
        others, texts, corpora[:1], training_text, about,
    )  # fmt: skip


def add_previous_default(plan: Plan, commit: str) -> str:
    """The default bundle committed at `commit` as one more row, unless it is the bundle
    under test; returns what was done, for the results page."""
    previous = bundles.bundle_from_git(commit, plan.cache)
    if bundles.same_bundle(previous, plan.bundle):
        return f"the bundle under test is the default bundle of {commit}: no separate row"
    plan.other_bundles[bundles.PREVIOUS_NAME] = previous
    return f"`{bundles.PREVIOUS_NAME}`: the default bundle of commit {commit}"


def train_matched_pair(plan: Plan, corpus: Path, steps: int) -> dict[str, Path]:
    """Train and export a continuous and a softmax bundle with the default bundle's network and
    the same data, steps and seed (skipped for a bundle already in the cache)."""
    network = read_manifest(plan.bundle)["network"]
    bundles: dict[str, Path] = {}
    for name, flags in ((MATCHED_NAME, []), (SOFTMAX_NAME, ["--output", "softmax"])):
        kind = "softmax" if flags else "continuous"
        run = plan.cache / "runs" / f"{kind}-{steps}"
        bundle = plan.cache / "bundles" / f"{kind}-{steps}"
        if not (bundle / "manifest.json").is_file():
            shutil.rmtree(run, ignore_errors=True)
            command = [
                sys.executable, "-m", "nextword.exporter.train", "--corpus", str(corpus),
                "--out", str(run), "--hidden", str(network["hidden_size"]),
                "--input-dim", str(network["input_dim"]), "--cell", str(network["cell"]),
                "--layers", str(network["layers"]), "--max-steps", str(steps),
                "--eval-every", "0", "--quiet", *flags,
            ]  # fmt: skip
            log.info("training %s: %s", kind, " ".join(command))
            subprocess.run(command, check=True)
            subprocess.run(
                [sys.executable, "-m", "nextword.server.cli", "export", str(run), "--out",
                 str(bundle)],
                check=True,
            )  # fmt: skip
        bundles[name] = bundle
    return bundles


def run_quality_section(plan: Plan, results: dict) -> None:
    import quality

    database = None
    systems = tuple(plan.systems)
    if presage_eval.available() and (not systems or quality.PRESAGE_TRAINED in systems):
        database = presage_eval.build_database(
            plan.training_text, plan.cache / f"presage-{plan.training_text.stem}-123.sqlite"
        )
    config = quality.QualityConfig(
        texts=plan.texts,
        presage_training_text=plan.training_text,
        presage_database=database,
        bundle=plan.bundle,
        other_bundles=plan.other_bundles,
        unigram_text=plan.training_text,
        cache=plan.cache,
        presage_suggestions=[6],
        presage_texts=1 if plan.quick else 0,
        presage_cache=None if plan.fresh else plan.cache / "presage-runs.json",
        rows_cache=None if plan.fresh else plan.cache / "quality-rows.json",
        progress=not plan.quick,
        systems=systems,
    )
    results["quality"] = quality.rows_to_json(quality.run_quality(config))
    results["presage_installed"] = presage_eval.available()
    results["presage_training_text"] = str(plan.training_text)
    modern = [kind for kind in heldout.MODERN_KINDS if kind in plan.texts]
    results["done_when"] = report.done_when_lines(
        results["quality"], modern, quality.NEXTWORD, quality.PRESAGE_TRAINED
    )
    log.info("the issue's figures:\n%s", "\n".join(results["done_when"]))
    results["other_bundles"] = {name: bundle_label(p) for name, p in plan.other_bundles.items()}


def run_ghost_section(plan: Plan, results: dict) -> None:
    import ghost_rows

    results["ghost"] = ghost_rows.run_ghost(plan.bundle, plan.texts)


def run_speed_section(plan: Plan, results: dict) -> None:
    import cold_start
    import memory
    import speed

    bundle = str(plan.bundle)
    sources = list(plan.texts.values())
    sizes = [1_000, 10_000] if plan.quick else [1_000, 10_000, 100_000, 1_000_000]
    # Held-out prose typed at the end of documents made of the other held-out paragraphs.
    paragraphs = held_out_paragraphs(plan)
    text = "\n\n".join(paragraphs[1::8])
    typed, paced = (text[:100], text[100:120]) if plan.quick else (text[:1500], text[1500:1900])
    document = [paragraph for number, paragraph in enumerate(paragraphs) if number % 8 != 1]
    points = speed.growth(bundle, document, sizes, typed, paced, pace_seconds=0.05)
    results["growth"] = speed.growth_to_json(points)
    results["cold_start"] = cold_start.cold_start(bundle, 1 if plan.quick else 5)
    documents, words = (2, 2_000) if plan.quick else (20, 50_000)
    runs = 1 if plan.quick else 3
    results["memory"] = memory.twenty_runs(bundle, sources, runs, documents, words)
    results["latency"] = run_latency(plan)


def held_out_paragraphs(plan: Plan) -> list[str]:
    """The held-out texts' paragraphs, each on one line."""
    return [
        " ".join(p.split())
        for path in plan.texts.values()
        for p in path.read_text(encoding="utf-8").split("\n\n")
        if p.strip()
    ]


def run_latency(plan: Plan) -> dict:
    """Per-keystroke latency vs the protocol floor, and edits far from the cursor, measured by
    the server's own benchmark (benchmarks/latency.py) on our held-out text."""
    import latency

    paragraphs = held_out_paragraphs(plan)
    chars = 400 if plan.quick else 3000
    text = "\n\n".join(paragraphs)[:chars]
    typing = latency.typing_run(str(plan.bundle), text, None)
    # At a typist's pace (a keystroke 50 ms after the last answer), with the server's pause-time
    # preparation of the next word on and off: what a user sees, caches cold between keys.
    paced_text = text[: 100 if plan.quick else 1500]
    paced = {
        name: latency.typing_run(
            str(plan.bundle), paced_text, {"nextword": {"prepareNextWord": prepare}}, 0.05
        )
        for name, prepare in (("paced", True), ("paced_unprepared", False))
    }
    inline = latency.typing_run(
        str(plan.bundle), text[: 200 if plan.quick else 1500], None, 0, True
    )
    sizes = [2_000] if plan.quick else [10_000, 1_000_000]
    words = sum(len(p.split()) for p in paragraphs)
    repeated = paragraphs * (max(sizes) // max(words, 1) + 1)
    far = [latency.far_edit_run(str(plan.bundle), repeated, n) for n in sizes]
    return {"typing": typing, **paced, "inline": inline, "far_edits": far}


def run_training_section(plan: Plan, results: dict) -> None:
    try:
        import training_speed
    except ModuleNotFoundError as error:
        if error.name not in ("torch", "transformers", "onnx"):
            raise
        results["training"] = {"error": f"needs the [train] extra ({error.name})"}
        return
    if plan.quick:
        config = training_speed.TrainingSpeedConfig(
            plan.corpus_files, vocab_sizes=(500, 2_000), seconds=1.0, max_steps=3, hidden=32,
            input_dim=16, dev_tokens=300, targets="random",
        )  # fmt: skip
    else:
        config = training_speed.TrainingSpeedConfig(plan.corpus_files)
        network = read_manifest(plan.bundle)["network"]
        config.hidden = plan.training_hidden or int(network["hidden_size"])
        config.input_dim = int(network["input_dim"])
    described = {**config.__dict__, "corpus": [str(p) for p in config.corpus]}
    # The runs do not depend on the bundle's weights: reuse an earlier run of the same settings.
    cache = None if plan.fresh else plan.cache / "training-runs.json"
    key = json.dumps(described, sort_keys=True, default=str)
    stored = json.loads(cache.read_text(encoding="utf-8")) if cache and cache.exists() else {}
    if key in stored:
        log.info("training runs reused from %s", cache)
        results["training"] = {**stored[key], "reused": True}
        return
    rows = training_speed.run_training_speed(config)
    results["training"] = {"config": described, "rows": training_speed.rows_to_json(rows)}
    if cache:
        stored[key] = results["training"]
        cache.write_text(json.dumps(stored, indent=1), encoding="utf-8")


def run_learning_section(plan: Plan, results: dict) -> None:
    """Same-author text with and without learning (learning_eval.py); not with --quick (it
    fetches a Debian package and types 2,000 words three times through the server)."""
    if plan.quick:
        return
    import learning_eval

    results["learning"] = learning_eval.measure(learning_eval.same_author.BENCHMARK, plan.cache)


SECTION_RUNS = {
    "quality": run_quality_section,
    "ghost": run_ghost_section,
    "speed": run_speed_section,
    "training": run_training_section,
    "learning": run_learning_section,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="tiny version (CI)")
    parser.add_argument("--out", help="where to write results.md, results.json, plots")
    parser.add_argument("--cache", help="held-out texts, Presage database (default ~/.cache/...)")
    parser.add_argument("--bundle", help="nextword bundle (default: the default bundle)")
    parser.add_argument("--softmax-bundle", help="softmax-head bundle of the same shape")
    parser.add_argument(
        "--matched-bundle", help="continuous bundle trained exactly like --softmax-bundle"
    )
    parser.add_argument(
        "--corpus", type=Path, nargs="+", default=list(heldout.SHARED_CORPORA),
        help="the training corpora (Presage learns their training split)",
    )  # fmt: skip
    parser.add_argument("--words", type=int, default=4000, help="words per kind of text")
    parser.add_argument("--kinds", default=",".join(heldout.KINDS), help="held-out kinds")
    parser.add_argument(
        "--systems", nargs="*", default=[], metavar="NAME",
        help="quality: only these systems (e.g. nextword 'Presage, trained on the corpus')",
    )  # fmt: skip
    parser.add_argument(
        "--previous", metavar="COMMIT", help="also type with the default bundle of this commit "
        f"(default {bundles.PREVIOUS_DEFAULT_COMMIT}; none with --quick; '' for none)",
    )  # fmt: skip
    parser.add_argument("--only", default=",".join(SECTIONS), help="sections to run")
    parser.add_argument("--fresh", action="store_true", help="rerun everything, reuse nothing")
    parser.add_argument(
        "--training-hidden", type=int, default=0, help="hidden size for the training runs "
        "(default: the bundle's)",
    )  # fmt: skip
    parser.add_argument(
        "--train-pair",
        type=int,
        default=0,
        metavar="STEPS",
        help="train the matched continuous and softmax bundles for STEPS steps first",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("pygls").setLevel(logging.WARNING)
    started = time.perf_counter()
    plan = make_plan(args)
    plan.fresh = args.fresh or plan.quick
    plan.training_hidden = args.training_hidden
    plan.systems = args.systems
    if args.train_pair and not plan.quick:
        plan.other_bundles.update(train_matched_pair(plan, plan.corpus_files[0], args.train_pair))
    commit = args.previous if args.previous is not None else bundles.PREVIOUS_DEFAULT_COMMIT
    commit = "" if plan.quick and args.previous is None else commit
    previous = add_previous_default(plan, commit) if commit else ""
    plan.out.mkdir(parents=True, exist_ok=True)
    results: dict = {
        "command": "python benchmarks/run_all.py " + " ".join(argv or sys.argv[1:]),
        "quick": plan.quick,
        "machine": report.machine(),
        "bundle": bundle_label(plan.bundle),
        "texts": plan.texts_about,
        "previous_default": previous,
        "sections": {},
    }
    for section in args.only.split(","):
        began, load = time.perf_counter(), report.load_average()
        log.info("section %s", section)
        SECTION_RUNS[section](plan, results)
        results["sections"][section] = {
            "seconds": round(time.perf_counter() - began, 1),
            "load_before": load,
            "load_after": report.load_average(),
        }
    results["seconds"] = round(time.perf_counter() - started, 1)
    report.write_json(plan.out / "results.json", results)
    from render import render

    (plan.out / "results.md").write_text(render(results, plan.out), encoding="utf-8")
    log.info("wrote %s in %.0f s", plan.out / "results.md", results["seconds"])
    print(plan.out / "results.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
