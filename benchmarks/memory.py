"""Resources of `nextword serve` over stdio, with a real JSON-RPC client (no mocks).

    python benchmarks/memory.py [--bundle DIR] [--corpus DIR] [--runs N] [--json]

- `twenty`: resident memory (VmRSS) after start and one completion (idle), then with 20 open
  documents of 50k words, each typed in and completed, and the peak (VmHWM); the state cache's
  own count. Medians of `--runs` servers.
- `without_end`: documents opened one after another and completed in, never closed: RSS and the
  cache's entries and bytes every `step` documents. The caches stay bounded (cachedDocuments,
  cacheMegabytes); what grows is only the documents' text, which the editor owns.
- `keystrokes`: latency of one keystroke (didChange + completion, until the answer) at the end
  of a 1M-word document, in its middle, and at the end of a 1 MB single line (ASCII, and with
  non-ASCII characters, which need the UTF-16 conversion).

Reuses benchmarks/speed.py's client, corpus reader and RSS probe.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed import Server, percentiles, rss_kilobytes, words_of_text  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
TYPED = "the people of the Unit"


def megabytes(kilobytes: int) -> float:
    return round(kilobytes / 1024, 1)


def stats(server: Server) -> dict[str, Any]:
    return server.client.call("nextword/stats", {})


def twenty(
    bundle: str | None, sources: list[Path], documents: int = 20, words: int = 50_000
) -> dict[str, Any]:
    """One server: RSS after one completion in a short document, then after `documents`
    documents of `words` words are opened and typed in."""
    server = Server(bundle)
    try:
        pid = server.client.process.pid
        server.open("file:///bench/first.txt", "The President of the Uni")
        server.complete("file:///bench/first.txt")
        idle = rss_kilobytes(pid)
        text = words_of_text(sources, words)
        for number in range(documents):
            uri = f"file:///bench/twenty-{number}.txt"
            server.open(uri, text)
            for char in "the ":
                server.keystroke(uri, char)
        loaded = rss_kilobytes(pid)
        counters = stats(server)
    finally:
        server.close()
    return {
        "documents": documents,
        "words_each": words,
        "idle_rss_mb": megabytes(idle["VmRSS"]),
        "rss_mb": megabytes(loaded["VmRSS"]),
        "peak_rss_mb": megabytes(loaded["VmHWM"]),
        "cached_states": counters.get("cachedStates"),
        "cached_mb": round(counters.get("cachedBytes", 0) / 2**20, 1),
    }


def twenty_runs(
    bundle: str | None, sources: list[Path], runs: int, documents: int = 20, words: int = 50_000
) -> dict[str, Any]:
    """`twenty` on `runs` fresh servers: the median of each figure, and every run's."""
    each = [twenty(bundle, sources, documents, words) for _ in range(runs)]
    medians = {
        name: statistics.median(run[name] for run in each)
        for name in ("idle_rss_mb", "rss_mb", "peak_rss_mb", "cached_mb")
    }
    return {**each[0], **medians, "runs": each}


def without_end(
    bundle: str | None, sources: list[Path], documents: int, words: int, step: int
) -> list[dict[str, Any]]:
    server = Server(bundle)
    rows = []
    try:
        pid = server.client.process.pid
        text = words_of_text(sources, words)
        for number in range(1, documents + 1):
            uri = f"file:///bench/endless-{number}.txt"
            server.open(uri, text.replace("the", f"the{number % 7}", 1))
            server.keystroke(uri, " ")
            if number % step == 0:
                counters = stats(server)
                rows.append(
                    {
                        "documents": number,
                        "rss_mb": megabytes(rss_kilobytes(pid)["VmRSS"]),
                        "cached_states": counters["cachedStates"],
                        "cached_mb": round(counters["cachedBytes"] / 2**20, 1),
                        "text_mb": round(number * len(text.encode()) / 2**20, 1),
                    }
                )
    finally:
        server.close()
    return rows


def typing_latency(server: Server, uri: str, typed: str) -> dict[str, float]:
    return percentiles([server.keystroke(uri, char) for char in typed])


def keystrokes(bundle: str | None, sources: list[Path]) -> dict[str, dict[str, float]]:
    server = Server(bundle)
    results: dict[str, dict[str, float]] = {}
    try:
        big = words_of_text(sources, 1_000_000)
        server.open("file:///bench/million.txt", big)
        results["1M words, end"] = typing_latency(server, "file:///bench/million.txt", TYPED)
        middle = big[: len(big) // 2]
        middle = middle[: middle.rfind("\n")]  # type at the end of a line in the middle
        line_number = middle.count("\n")
        server.ends["file:///bench/million.txt"] = (line_number, len(middle.split("\n")[-1]))
        results["1M words, middle"] = typing_latency(server, "file:///bench/million.txt", TYPED)
        line = " ".join(big.split())[: 1 << 20]
        server.open("file:///bench/line-ascii.txt", line)
        results["1 MB line, ASCII"] = typing_latency(server, "file:///bench/line-ascii.txt", TYPED)
        accented = line.replace(" war ", " w\u00e4r ").replace(" so ", " s\u00f6 ")
        server.open("file:///bench/line-utf16.txt", accented)
        results["1 MB line, non-ASCII"] = typing_latency(
            server, "file:///bench/line-utf16.txt", TYPED
        )
    finally:
        server.close()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", help="model bundle (default: the one shipped with nextword)")
    parser.add_argument("--corpus", type=Path, default=CORPUS, help="folder of .txt files")
    parser.add_argument("--documents", type=int, default=200, help="for without_end")
    parser.add_argument("--words", type=int, default=5_000, help="per document, for without_end")
    parser.add_argument("--parts", default="twenty,without_end,keystrokes")
    parser.add_argument("--runs", type=int, default=3, help="servers started for twenty")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sources = sorted(args.corpus.glob("*.txt"))
    if not sources:
        parser.error(f"no .txt files in {args.corpus}")
    started = time.perf_counter()
    parts = args.parts.split(",")
    report: dict[str, Any] = {"twenty": {}, "without_end": [], "keystrokes_ms": {}}
    if "twenty" in parts:
        report["twenty"] = twenty_runs(args.bundle, sources, args.runs)
    if "without_end" in parts:
        step = max(1, args.documents // 10)
        report["without_end"] = without_end(args.bundle, sources, args.documents, args.words, step)
    if "keystrokes" in parts:
        report["keystrokes_ms"] = keystrokes(args.bundle, sources)
    report["seconds"] = round(time.perf_counter() - started, 1)
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    summary = {name: value for name, value in report["twenty"].items() if name != "runs"}
    print("idle, then 20 open documents of 50k words (medians):", json.dumps(summary))
    print("\ndocuments opened without end:")
    for row in report["without_end"]:
        print("  " + json.dumps(row))
    print("\nkeystroke latency (ms, didChange + completion):")
    for name, figures in report["keystrokes_ms"].items():
        print(
            f"  {name:<22} p50 {figures['p50']:7.2f}  p95 {figures['p95']:7.2f}  n {figures['n']}"
        )
    print(f"\n({report['seconds']} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
