"""results.json -> results.md (tables, with the plots written beside it)."""

from __future__ import annotations

from pathlib import Path

import report
from ghost_rows import ghost_lines


def _section_quality(results: dict, out: Path) -> list[str]:
    rows = results.get("quality")
    if not rows:
        return []
    report.plot_ksr(rows, 6, out / "ksr.png")
    report.plot_prefix(rows, 6, out / "prefix_hits.png")
    lines = [
        "## Keystroke savings on held-out text",
        "",
        *_texts_lines(results),
        *_done_when_lines(results),
        "KSR (%) with 6 suggestions, Presage's accounting (`presage_simulator`): every word costs",
        "its letters plus a space without prediction; with prediction, the letters typed before",
        "the word is offered plus one key to pick it. Higher is better.",
        "",
        report.ksr_table(rows, 6),
        "",
        "![KSR by system and text](ksr.png)",
        "",
        "KSR with 1 and 3 suggestions, and next-word recall with nothing typed (%):",
        "",
        report.detail_table(rows),
        "",
        "Hit rate by letters typed (word among the first 6, %, mean over the kinds of text):",
        "",
        report.prefix_table(rows, 6),
        "",
        "![hit rate by letters typed](prefix_hits.png)",
        "",
    ]
    reused = sorted({row["system"] for row in rows if row.get("note")})
    if reused:
        lines += [
            f"Rows reused from an earlier run with the same text, bundle/database and settings: "
            f"{', '.join(reused)} (`--fresh` reruns them).",
            "",
        ]
    if not results.get("presage_installed", True):
        lines += ["Presage is not installed here: its rows are missing.", ""]
    if results.get("previous_default"):
        lines += [f"Previous default: {results['previous_default']}.", ""]
    others = results.get("other_bundles") or {}
    if not any("softmax" in name for name in others):
        lines += ["No softmax-head bundle was given: its row is missing.", ""]
    for name, label in others.items():
        lines += [
            f"`{name}`: {label.get('network')}, {label.get('vocabulary')} words, trained "
            f"{label.get('train_seconds')} s on {label.get('tokens_seen')} tokens "
            f"(`{label.get('path')}`).",
            "",
        ]
    return lines


def _texts_lines(results: dict) -> list[str]:
    texts = results.get("texts") or {}
    if not texts or not all(isinstance(about, dict) for about in texts.values()):
        return []
    lines = [
        "Held-out texts (ASCII-folded; none of their paragraphs, nor any of their sentences of 8 "
        "words or more, is in the training split of the corpora: *in corpus* counts those still "
        "found by that check, *dropped* those left out when the text was chosen):",
        "",
        "| kind | words | paragraphs | in corpus | dropped | origin |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for kind, about in texts.items():
        lines.append(
            f"| {kind} | {about.get('words', 0):,} | {about.get('paragraphs', 0)} | "
            f"{about.get('paragraphs_in_corpus', 'n/a')} | {about.get('in_corpus', '-')} | "
            f"{about.get('origin', '-')} |"
        )
    if results.get("presage_training_text"):
        lines += ["", f"Presage learns from `{results['presage_training_text']}`."]
    return [*lines, ""]


def _done_when_lines(results: dict) -> list[str]:
    if not results.get("done_when"):
        return []
    return [
        "The issue's figures (KSR@6 and next-word top-1 recall with nothing typed, %; the "
        "margin is nextword minus Presage trained on the same corpora):",
        "",
        *results["done_when"],
        "",
    ]


def _section_speed(results: dict, out: Path) -> list[str]:
    if "growth" not in results:
        return []
    report.plot_growth(results["growth"], out / "growth.png")
    lines = ["## Speed (over stdio, a real JSON-RPC client)", ""]
    lines += _latency_lines(results.get("latency") or {})
    growth = results["growth"]
    at_once, paced = growth[0]["latency_ms"]["n"], (growth[0].get("paced_ms") or {}).get("n", 0)
    lines += [
        "Latency per keystroke (didChange + completion, ms) while typing held-out prose at the end "
        "of a document made of the other held-out paragraphs (so that the typed text's states are "
        f"not found cached): {at_once:.0f} keystrokes at once (each sent when the last answer "
        f"came), then {paced:.0f} at a typist's pace (50 ms from an answer to the next keystroke):",
        "",
        "| document words | open + first completion, s | p50 | p95 | p99 | max "
        "| after a space: p50 | p99 | 50 ms apart: p50 | p99 |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for point in growth:
        ms, space = point["latency_ms"], point.get("after_space_ms") or {}
        pace = point.get("paced_ms") or {}
        lines.append(
            f"| {point['words']:,} | {point['open_seconds']:.2f} | {ms['p50']:.2f} | "
            f"{ms['p95']:.2f} | {ms['p99']:.2f} | {_ms(ms.get('max'))} | "
            f"{_ms(space.get('p50'))} | {_ms(space.get('p99'))} | "
            f"{_ms(pace.get('p50'))} | {_ms(pace.get('p99'))} |"
        )
    cold, memory = results["cold_start"], results["memory"]
    lines += [
        "",
        "![latency vs document length](growth.png)",
        "",
        f"Cold start (process start to first completion): median {cold['median_s']:.2f} s "
        f"(min {cold['min_s']:.2f}, max {cold['max_s']:.2f}; server CPU time "
        f"{cold.get('cpu_median_s', float('nan')):.2f} s; {cold.get('runs', '?')} runs, load "
        f"average {cold.get('load_average', float('nan')):.1f}).",
        "",
        f"Memory (RSS, medians of {len(memory.get('runs', [])) or 1} servers): "
        f"{memory['idle_rss_mb']:.0f} MB after start and one completion; "
        f"{memory['rss_mb']:.0f} MB with {memory['documents']} open documents of "
        f"{memory['words_each']:,} words (peak {memory['peak_rss_mb']:.0f} MB).",
        "",
    ]
    return lines


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _latency_lines(latency: dict) -> list[str]:
    typing = latency.get("typing")
    if not typing:
        return []
    runs = [("at once", typing)]
    if latency.get("paced"):
        runs += [
            ("50 ms apart", latency["paced"]),
            ("50 ms apart, prepareNextWord off", latency["paced_unprepared"]),
        ]
    lines = [
        "Typing held-out text into an empty document, one didChange and one completion request "
        "per keystroke (ms, round trip; the floor is a `nextword/ping` request answered without "
        "work, sent after every keystroke). *At once*: each keystroke as soon as the last was "
        "answered (the server never idle, its caches warm); *50 ms apart*: a fast typist's pace, "
        "so the server prepares the next word in the pauses and its caches go cold between keys:",
        "",
        "| typing | keys | p50 | p95 | p99 | max | p50 after a space | p50 in a word "
        "| floor p50 | floor p99 | recurrent steps per key |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    keys = ("p50", "p95", "p99", "max", "next_word_p50", "in_word_p50", "floor_p50", "floor_p99")
    for name, run in runs:
        lines.append(
            f"| {name} | {run['keystrokes']} | "
            + " | ".join(f"{run[key] * 1000:.2f}" for key in keys)
            + f" | {run['steps'] / max(run['keystrokes'], 1):.2f} |"
        )
    lines.append("")
    lines += _inline_latency_lines(latency.get("inline"))
    far = latency.get("far_edits") or []
    if far:
        lines += [
            "Edits far from the cursor (cursor at the end; an edit in paragraph 3, then a "
            "completion at the end; ms):",
            "",
            "| words | open ms | didChange (far) | completion after far edit | steps | "
            "completion after near edit | steps |",
            "|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for run in far:
            lines.append(
                f"| {run['words']:,} | {run['open'] * 1000:.0f} | {run['far_change'] * 1000:.2f} "
                f"| {run['far_complete'] * 1000:.2f} | {run['far_steps']} | "
                f"{run['near_complete'] * 1000:.2f} | {run['near_steps']} |"
            )
        lines.append("")
    return lines


def _inline_latency_lines(run: dict | None) -> list[str]:
    if not run:
        return []
    keys = ("inline_p50", "inline_p95", "inline_p99", "p50", "p99")
    return [
        "With ghost text: an inline completion request and a completion request per keystroke, "
        "sent together, the inline one first (as VS Code asks); the completion's round trip "
        "includes any wait behind the rollout (ms):",
        "",
        "| keys | inline p50 | inline p95 | inline p99 | completion p50 | completion p99 |",
        "|---:|---:|---:|---:|---:|---:|",
        f"| {run['keystrokes']} | " + " | ".join(f"{run[k] * 1000:.2f}" for k in keys) + " |",
        "",
    ]


def _section_training(results: dict, out: Path) -> list[str]:
    training = results.get("training")
    if not training:
        return []
    if "error" in training:
        return ["## Training cost", "", f"Not measured: {training['error']}.", ""]
    rows = training["rows"]
    report.plot_training(rows, out / "training.png")
    config = training["config"]
    lines = [
        "## Training cost: continuous vs softmax output",
        "",
        f"Each run trains {config['seconds']:.0f} s (at most {config['max_steps']} steps) of "
        f"{config['batch_size']} sequences per step, GRU {config['hidden']} hidden, input "
        f"{config['input_dim']}, {config['threads']} threads, on the same batches; dev figures "
        "at the end (exporter's dev scorer, no prior or cache): the quality each output reaches "
        "in the same time.",
        "",
        "| vocabulary | output | steps | tokens/s | speed-up | dev loss | dev top-1 % "
        "| dev top-6 % | dev KSR@6 % |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    softmax = {r["vocab_size"]: r["tokens_per_second"] for r in rows if r["output"] == "softmax"}
    for row in rows:
        ratio = row["tokens_per_second"] / softmax.get(row["vocab_size"], row["tokens_per_second"])
        lines.append(
            f"| {row['vocab_size']:,} ({row['distinct_words']:,} real) | {row['output']} | "
            f"{row['steps']} | {row['tokens_per_second']:.0f} | {ratio:.2f}x | "
            f"{row['dev_loss']:.3f} | {row['dev_top1']:.1f} | {row['dev_top6']:.1f} | "
            f"{row['dev_ksr6']:.1f} |"
        )
    lines += ["", "![training throughput](training.png)", ""]
    return lines


def render(results: dict, out: Path) -> str:
    machine = results["machine"]
    bundle = results.get("bundle", {})
    lines = [
        "# nextword benchmark results",
        "",
        f"Command: `{results['command'].strip()}` ({results['seconds'] / 60:.1f} min).",
        "",
        f"Machine: {machine['cpu']}, {machine['cores']} cores, {machine['memory_gb']} GB, "
        f"{machine['system']}, Python {machine['python']}; "
        + ", ".join(f"{k} {v}" for k, v in machine["packages"].items())
        + ".",
        "",
        f"Bundle: `{bundle.get('path')}`: {bundle.get('network')}, {bundle.get('vocabulary')} "
        f"words, {(bundle.get('bytes') or 0) / 1e6:.1f} MB, trained "
        f"{bundle.get('train_seconds')} s on {bundle.get('tokens_seen')} tokens.",
        "",
        "Held-out texts: " + ", ".join(f"`{kind}`" for kind in results["texts"]) + ".",
        "",
        "Load average (1 min) before/after each section: "
        + "; ".join(
            f"{name} {s['load_before']:.1f}/{s['load_after']:.1f} ({s['seconds']:.0f} s)"
            for name, s in results["sections"].items()
        )
        + ".",
        "",
    ]
    lines += _section_quality(results, out)
    lines += ghost_lines(results.get("ghost", {}))
    lines += _section_speed(results, out)
    lines += _section_training(results, out)
    if "learning" in results:
        from learning_eval import table

        lines += ["", "## Learning from the user's writing", "", table(results["learning"])]
    return "\n".join(lines)


SECTION_KEYS = {
    "quality": ("quality", "presage_installed", "other_bundles"),
    "ghost": ("ghost",),
    "speed": ("growth", "cold_start", "memory", "latency"),
    "training": ("training",),
    "learning": ("learning",),
}


def merge(parts: list[dict]) -> dict:
    """One results dict from runs of separate sections (`run_all.py --only ...`): each section
    comes from the last run that has it; the bundle and machine from the first."""
    merged = {key: value for key, value in parts[0].items() if key != "sections"}
    merged["sections"] = {}
    merged["command"] = " && ".join(part["command"].strip() for part in parts)
    merged["seconds"] = sum(part["seconds"] for part in parts)
    for part in parts:
        for section, timing in part["sections"].items():
            merged["sections"][section] = timing
            for key in SECTION_KEYS[section]:
                if key in part:
                    merged[key] = part[key]
    return merged


def main(argv: list[str] | None = None) -> int:
    import argparse
    import json
    import shutil

    parser = argparse.ArgumentParser(description="merge results.json files of section runs")
    parser.add_argument("results", nargs="+", type=Path, help="results.json files, in order")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    parts = [json.loads(path.read_text(encoding="utf-8")) for path in args.results]
    merged = merge(parts)
    args.out.mkdir(parents=True, exist_ok=True)
    for path in args.results:  # keep the plots of sections that are not re-rendered
        for png in path.parent.glob("*.png"):
            if png.parent != args.out:
                shutil.copy(png, args.out / png.name)
    report.write_json(args.out / "results.json", merged)
    (args.out / "results.md").write_text(render(merged, args.out), encoding="utf-8")
    print(args.out / "results.md")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
