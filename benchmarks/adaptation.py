"""Document adaptation: the continuous cache's keystroke savings, and ghost text accept rates.

    python benchmarks/adaptation.py tune          # grid: theta, weight, temperature (dev text)
    python benchmarks/adaptation.py tune-inline   # ghost text accept rate by min_margin (dev)
    python benchmarks/adaptation.py report   # held-out kinds: KSR with and without the memory,
                                             # and the inline suggestions' accept rate

`tune` types a tuning text made of the exporter's dev split (every 20th paragraph of
../shared/corpus, never trained on): for each corpus file, a contiguous run of dev paragraphs
that are not in the held-out `corpus-dev` text, one document per file. `report` types the
held-out texts of benchmarks/heldout.py (each file one document) with the memory off and on
(the ranking's nearby-words bonus stays at its default in both), and simulates ghost text: at
the start of every word, and after its first letter, ask `suggest_inline`; a suggestion is
accepted when every word of it is what the text goes on with. Results go to
.benchmarks/adaptation-*.json and are printed as Markdown.
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
from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.engine.inline import InlineSuggestion, suggest_inline
from nextword.server.settings import Settings
from nextword.server.text.tokenizer import fold, tokenize

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


def truncate(suggestion: InlineSuggestion, min_margin: float) -> list[str]:
    """The words the rollout would have kept with a higher `min_margin` (it is greedy: the same
    words, cut at the first one below the threshold)."""
    kept: list[str] = []
    for word, margin in zip(suggestion.words, suggestion.margins):
        if margin < min_margin:
            break
        kept.append(word)
    return kept


def inline_accept(engine: Engine, path: Path, margins: list[float]) -> dict[float, dict]:
    """Ghost text at the start of every word and after its first letter, typed in order; one
    rollout at the lowest threshold gives the figures for every threshold in `margins`."""
    text = path.read_text(encoding="utf-8")
    tokens = [t for t in tokenize(text) if t.kind in ("word", "number")]
    document = DocumentState.open("eval://inline", "")
    line, column, typed_to = 0, 0, 0
    counts = {
        m: dict.fromkeys(("asked", "shown", "accepted", "words_accepted"), 0) for m in margins
    }

    def type_up_to(end: int) -> None:
        nonlocal line, column, typed_to
        piece = text[typed_to:end]
        if piece:
            document.edit((line, column), (line, column), piece)
            document.version += 1
            parts = piece.split("\n")
            line, column = (
                line + len(parts) - 1,
                (column if len(parts) == 1 else 0) + len(parts[-1]),
            )
        typed_to = end

    for number, token in enumerate(tokens):
        following = [fold(t.text) for t in tokens[number : number + 8]]
        for typed in (0, 1):
            if typed >= len(token.text):
                break
            type_up_to(token.start + typed)
            suggestion = suggest_inline(engine, document, line, column)
            for margin, row in counts.items():
                row["asked"] += 1
                words = [] if suggestion is None else truncate(suggestion, margin)
                if not words or (
                    len(words) == 1 and typed and fold(words[0]) == fold(token.text[:typed])
                ):
                    continue
                row["shown"] += 1
                if [fold(word) for word in words] == following[: len(words)]:
                    row["accepted"] += 1
                    row["words_accepted"] += len(words)
    engine.drop_caches(document)
    for row in counts.values():
        row["shown_percent"] = 100.0 * row["shown"] / max(row["asked"], 1)
        row["accept_percent"] = 100.0 * row["accepted"] / max(row["shown"], 1)
        row["words_per_accept"] = row["words_accepted"] / max(row["accepted"], 1)
    return counts


def tune_inline(args: argparse.Namespace) -> int:
    """Accept rate and shown rate of ghost text by confidence threshold, on the tuning text."""
    paths = tuning_texts(HeldoutConfig(cache=args.cache), args.words)
    margins = sorted(args.margins)
    settings = Settings()
    settings.inline = dataclasses.replace(settings.inline, min_margin=margins[0])
    engine = load_engine(args.bundle, settings)
    totals = {m: {"asked": 0, "shown": 0, "accepted": 0, "words_accepted": 0} for m in margins}
    for path in paths:
        for margin, row in inline_accept(engine, path, margins).items():
            for key in totals[margin]:
                totals[margin][key] += row[key]
    print("| min margin | shown % | accepted % | words per accept |\n|---|---|---|---|")
    for margin, row in totals.items():
        print(
            f"| {margin:g} | {100.0 * row['shown'] / max(row['asked'], 1):.1f} | "
            f"{100.0 * row['accepted'] / max(row['shown'], 1):.1f} | "
            f"{row['words_accepted'] / max(row['accepted'], 1):.2f} |"
        )
    OUT.mkdir(exist_ok=True)
    (OUT / "adaptation-tune-inline.json").write_text(json.dumps(totals, indent=2))
    return 0


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
        margin = Settings().inline.min_margin
        row["inline"] = inline_accept(engines["memory on"], path, [margin])[margin]
        results[kind] = row
        lines.append(
            f"| {kind} | {on['words']} | {off['ksr'][6]:.2f} | {on['ksr'][6]:.2f} | "
            f"{on['ksr'][6] - off['ksr'][6]:+.2f} | {off['ksr'][1]:.2f} | {on['ksr'][1]:.2f} | "
            f"{off['p50_ms']:.2f} / {on['p50_ms']:.2f} | {off['p99_ms']:.2f} / {on['p99_ms']:.2f} |"
        )
        print(lines[-1], flush=True)
    lines += [
        "",
        "| text | asked | shown % | accepted % | words per accept |",
        "|---|---|---|---|---|",
    ]
    for kind, row in results.items():
        inline = row["inline"]
        lines.append(
            f"| {kind} | {inline['asked']} | {inline['shown_percent']:.1f} | "
            f"{inline['accept_percent']:.1f} | {inline['words_per_accept']:.2f} |"
        )
    settings = Settings()
    lines.append("")
    lines.append(f"memory: {settings.memory}; inline: {settings.inline}")
    print("\n".join(lines))
    OUT.mkdir(exist_ok=True)
    (OUT / "adaptation-report.json").write_text(json.dumps(results, indent=2))
    (OUT / "adaptation-report.md").write_text("\n".join(lines) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["tune", "tune-inline", "report"])
    parser.add_argument("--bundle", help="bundle directory (default: the bundled default model)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--words", type=int, default=400, help="tuning words per corpus file")
    parser.add_argument("--heldout-words", type=int, default=3000)
    parser.add_argument("--theta", type=float, nargs="+", default=[10.0, 25.0, 50.0])
    parser.add_argument("--weight", type=float, nargs="+", default=[0.1, 0.25, 0.5])
    parser.add_argument("--temperature", type=float, nargs="+", default=[0.5, 1.0, 2.0])
    parser.add_argument("--same-previous", type=float, nargs="+", default=[1.0, 5.0])
    parser.add_argument("--margins", type=float, nargs="+", default=[0.0, 0.5, 1.0, 2.0, 3.0])
    args = parser.parse_args(argv)
    commands = {"tune": tune, "tune-inline": tune_inline, "report": report}
    return commands[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
