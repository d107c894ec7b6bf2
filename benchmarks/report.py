"""Markdown tables and matplotlib plots from the results that run_all.py collects."""

from __future__ import annotations

import json
import os
import platform
import subprocess
from collections import defaultdict
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def machine() -> dict[str, Any]:
    cpu = "unknown"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal"):
            memory_kb = int(line.split()[1])
    packages: dict[str, str] = {}
    for name in ("nextword", "onnxruntime", "numpy", "pygls", "torch"):
        try:
            packages[name] = version(name)
        except PackageNotFoundError:
            packages[name] = "not installed"
    presage = subprocess.run(
        ["dpkg-query", "-W", "-f", "${Version}", "presage"], capture_output=True, text=True
    )
    packages["presage (Debian)"] = presage.stdout.strip() or "not installed"
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_kb / 1024 / 1024, 1),
        "system": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "packages": packages,
    }


def load_average() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def _cell(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def ksr_table(rows: list[dict], suggestions: int) -> str:
    """Systems x kinds of text: KSR with `suggestions` offered, and the mean over kinds."""
    kinds = list(dict.fromkeys(row["text"] for row in rows))
    by_system: dict[str, dict[str, float]] = defaultdict(dict)
    for row in rows:
        value = row["ksr"].get(suggestions, row["ksr"].get(str(suggestions)))
        if value is not None:
            by_system[row["system"]][row["text"]] = value
    header = "| system | " + " | ".join(kinds) + " | mean |"
    lines = [header, "|---|" + "---:|" * (len(kinds) + 1)]
    for system, values in by_system.items():
        cells = [_cell(values.get(kind)) for kind in kinds]
        mean = sum(values.values()) / len(values) if len(values) == len(kinds) else None
        lines.append(f"| {system} | " + " | ".join(cells) + f" | {_cell(mean)} |")
    return "\n".join(lines)


def _figure(rows: list[dict], system: str, kind: str, key: str) -> float | None:
    for row in rows:
        if row["system"] == system and row["text"] == kind:
            return row["ksr"].get(6, row["ksr"].get("6")) if key == "ksr6" else row[key]
    return None


def done_when_lines(rows: list[dict], modern_kinds: list[str], ours: str, peer: str) -> list[str]:
    """The issue's figures: KSR@6 of `ours` against `peer` per kind (margin, mean margin) and
    next-word top-1 recall with nothing typed, marked on the modern kinds (goal: >= 25 %)."""
    kinds = list(dict.fromkeys(row["text"] for row in rows))
    lines = [
        f"| kind | {ours} KSR@6 | {peer} KSR@6 | margin | {ours} next-word top-1 "
        f"| {peer} next-word top-1 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    margins, top1_modern = [], []
    for kind in kinds:
        ksr, peer_ksr = _figure(rows, ours, kind, "ksr6"), _figure(rows, peer, kind, "ksr6")
        top1 = _figure(rows, ours, kind, "next_word_top1")
        margin = None if ksr is None or peer_ksr is None else ksr - peer_ksr
        if margin is not None:
            margins.append(margin)
        if kind in modern_kinds and top1 is not None:
            top1_modern.append(top1)
        name = f"{kind} (modern)" if kind in modern_kinds else kind
        lines.append(
            f"| {name} | {_cell(ksr)} | {_cell(peer_ksr)} | {_signed(margin)} | {_cell(top1)} "
            f"| {_cell(_figure(rows, peer, kind, 'next_word_top1'))} |"
        )
    mean = sum(margins) / len(margins) if margins else None
    below = sum(m <= 0 for m in margins)
    lines += [
        "",
        f"Mean KSR@6 margin over {peer}: {_signed(mean)} points over {len(margins)} kinds "
        f"(goal: >= +3.0, and above it on every kind: {len(margins) - below} of {len(margins)}).",
        f"Next-word top-1 >= 25 % on {sum(t >= 25 for t in top1_modern)} of "
        f"{len(top1_modern)} modern kinds ({', '.join(modern_kinds) or 'none'}).",
    ]
    return lines


def _signed(value: float | None) -> str:
    return "n/a" if value is None else f"{value:+.1f}"


def detail_table(rows: list[dict]) -> str:
    lines = [
        "| system | text | words | KSR@1 | KSR@3 | KSR@6 | next-word top-1 | next-word top-3 |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        ksr = {int(k): v for k, v in row["ksr"].items()}
        lines.append(
            f"| {row['system']} | {row['text']} | {row['words']} | {_cell(ksr.get(1))} | "
            f"{_cell(ksr.get(3))} | {_cell(ksr.get(6))} | {_cell(row['next_word_top1'])} | "
            f"{_cell(row['next_word_top3'])} |"
        )
    return "\n".join(lines)


def prefix_table(rows: list[dict], suggestions: int) -> str:
    """Hit rate by letters typed, averaged over the kinds of text, for systems that report it."""
    merged = _prefix_means(rows, suggestions)
    if not merged:
        return ""
    buckets = list(next(iter(merged.values())))
    lines = ["| system | " + " | ".join(f"{b} letters" for b in buckets) + " |"]
    lines.append("|---|" + "---:|" * len(buckets))
    for system, values in merged.items():
        lines.append(f"| {system} | " + " | ".join(_cell(values[b]) for b in buckets) + " |")
    return "\n".join(lines)


def _prefix_means(rows: list[dict], suggestions: int) -> dict[str, dict[str, float]]:
    sums: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for bucket, by_n in (row.get("hit_rate_by_prefix") or {}).items():
            value = by_n.get(suggestions, by_n.get(str(suggestions)))
            if value is not None:
                sums[row["system"]][bucket].append(value)
    return {s: {b: sum(v) / len(v) for b, v in d.items()} for s, d in sums.items()}


def plot_ksr(rows: list[dict], suggestions: int, path: Path) -> None:
    kinds = list(dict.fromkeys(row["text"] for row in rows))
    systems = list(dict.fromkeys(row["system"] for row in rows))
    value = {(r["system"], r["text"]): r["ksr"].get(suggestions, r["ksr"].get(str(suggestions)))
             for r in rows}  # fmt: skip
    width = 0.8 / max(len(systems), 1)
    figure, axes = plt.subplots(figsize=(10, 6))
    for i, system in enumerate(systems):
        xs = [k + i * width for k in range(len(kinds))]
        ys = [value.get((system, kind)) or 0.0 for kind in kinds]
        axes.bar(xs, ys, width, label=system)
    axes.set_xticks([k + 0.4 - width / 2 for k in range(len(kinds))], kinds)
    axes.set_ylabel(f"keystroke savings, % ({suggestions} suggestions)")
    axes.set_title("Keystrokes saved on held-out text (higher is better)")
    axes.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_prefix(rows: list[dict], suggestions: int, path: Path) -> None:
    merged = _prefix_means(rows, suggestions)
    figure, axes = plt.subplots(figsize=(7, 4.5))
    for system, values in merged.items():
        axes.plot(list(values), list(values.values()), marker="o", label=system)
    axes.set_xlabel("letters typed")
    axes.set_ylabel(f"word among the first {suggestions}, %")
    axes.set_title("Hit rate by letters typed (mean over the kinds of text)")
    axes.legend(fontsize=8)
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_growth(points: list[dict], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(7, 4.5))
    words = [p["words"] for p in points]
    for key in ("p50", "p95", "p99"):
        axes.plot(words, [p["latency_ms"][key] for p in points], marker="o", label=f"{key} at once")
    if all(p.get("paced_ms") for p in points):
        for key in ("p50", "p99"):
            axes.plot(words, [p["paced_ms"][key] for p in points], marker="s", linestyle="--",
                      label=f"{key}, 50 ms apart")  # fmt: skip
    axes.set_xscale("log")
    axes.set_xlabel("document length, words")
    axes.set_ylabel("keystroke latency over stdio, ms")
    axes.set_title("Latency as the document grows (typing at its end)")
    axes.legend()
    axes.grid(alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def plot_training(rows: list[dict], path: Path) -> None:
    sizes = sorted({r["vocab_size"] for r in rows})
    figure, axes = plt.subplots(figsize=(7, 4.5))
    width = 0.38
    for offset, output in ((0.0, "continuous"), (width, "softmax")):
        speed = {r["vocab_size"]: r["tokens_per_second"] for r in rows if r["output"] == output}
        axes.bar([i + offset for i in range(len(sizes))], [speed.get(s, 0) for s in sizes],
                 width, label=output)  # fmt: skip
    axes.set_xticks([i + width / 2 for i in range(len(sizes))], [f"{s // 1000}k" for s in sizes])
    axes.set_xlabel("vocabulary size")
    axes.set_ylabel("training tokens per second")
    axes.set_title("Training throughput, continuous vs softmax output")
    axes.legend()
    axes.grid(axis="y", alpha=0.3)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
