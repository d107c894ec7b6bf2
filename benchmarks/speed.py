"""Speed of `nextword serve` over stdio, measured with a real JSON-RPC client (no mocks).

- `growth`: per-keystroke latency (one incremental didChange + one completion request, timed
  from sending the change to reading the answer) while typing at the end of documents of
  1k .. 1M words, at once (each keystroke sent as soon as the last answer came) and at a
  typist's pace (50 ms from an answer to the next keystroke, so the server's pause-time
  preparation runs). It should stay flat: the work per keystroke is bounded.

Cold start is measured by cold_start.py, memory by memory.py.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from nextword.server.commands.sessions import server_options
from nextword.server.lsp.client import StdioClient, serve_command


def words_of_text(sources: list[Path], words: int) -> str:
    """About `words` words of real paragraphs, the sources repeated as often as needed."""
    paragraphs = [
        p for path in sources for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()
    ]
    return words_of_paragraphs(paragraphs, words)


def words_of_paragraphs(paragraphs: list[str], words: int) -> str:
    """About `words` words of the paragraphs, repeated as often as needed."""
    chosen: list[str] = []
    count = 0
    for paragraph in _cycle(paragraphs):
        chosen.append(paragraph.strip())
        count += len(paragraph.split())
        if count >= words:
            break
    return "\n\n".join(chosen) + "\n\n"


def _cycle(items: list[str]) -> Iterator[str]:
    while True:
        yield from items


def rss_kilobytes(pid: int) -> dict[str, int]:
    figures: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            figures[name] = int(value.split()[0])
    return figures


class Server:
    """`nextword serve` on pipes, with documents typed at their end."""

    def __init__(self, bundle: str | None) -> None:
        self.client = StdioClient(serve_command(bundle))
        self.client.initialize(server_options(True))
        self.ends: dict[str, tuple[int, int]] = {}
        self.versions: dict[str, int] = {}

    def open(self, uri: str, text: str) -> None:
        self.client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "plaintext", "version": 0, "text": text}},
        )
        lines = text.split("\n")
        self.ends[uri] = (len(lines) - 1, len(lines[-1]))
        self.versions[uri] = 0

    def keystroke(self, uri: str, char: str) -> float:
        """Type one character at the end and ask for completions; seconds until the answer."""
        line, character = self.ends[uri]
        self.versions[uri] += 1
        here = {"line": line, "character": character}
        started = time.perf_counter()
        self.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": uri, "version": self.versions[uri]},
                "contentChanges": [{"range": {"start": here, "end": here}, "text": char}],
            },
        )
        if char == "\n":
            line, character = line + 1, 0
        else:
            character += 1
        self.ends[uri] = (line, character)
        self.complete(uri)
        return time.perf_counter() - started

    def complete(self, uri: str) -> list:
        line, character = self.ends[uri]
        result = self.client.call(
            "textDocument/completion",
            {"textDocument": {"uri": uri}, "position": {"line": line, "character": character}},
        )
        return result.get("items", []) if isinstance(result, dict) else (result or [])

    def close(self) -> None:
        self.client.shutdown()


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {
        "p50": float(np.percentile(ms, 50)),
        "p95": float(np.percentile(ms, 95)),
        "p99": float(np.percentile(ms, 99)),
        "max": float(ms.max()),
        "mean": float(ms.mean()),
        "n": len(ms),
    }


@dataclass
class GrowthPoint:
    words: int
    open_seconds: float
    latency_ms: dict[str, float]
    """Typing at once."""
    after_space_ms: dict[str, float]
    """The keystrokes of `latency_ms` that typed a space (a word was finished)."""
    paced_ms: dict[str, float] | None = None
    """Typing at a typist's pace (`pace_seconds` from an answer to the next keystroke)."""


def growth(
    bundle: str | None,
    paragraphs: list[str],
    sizes: list[int],
    typed: str,
    paced: str = "",
    pace_seconds: float = 0.05,
) -> list[GrowthPoint]:
    """Keystroke latency at the end of documents of each size, made of `paragraphs` (one
    server, one document each): `typed` at once, then `paced` with a pause before each
    keystroke. The typed text should not be in the paragraphs: typed again, its states would
    be found cached."""
    server = Server(bundle)
    points: list[GrowthPoint] = []
    try:
        for size in sizes:
            uri = f"file:///bench/growth-{size}.txt"
            text = words_of_paragraphs(paragraphs, size)
            started = time.perf_counter()
            server.open(uri, text)
            server.complete(uri)
            opened = time.perf_counter() - started
            times = [server.keystroke(uri, char) for char in typed]
            spaces = [seconds for seconds, char in zip(times, typed) if char == " "]
            paced_times = []
            for char in paced:
                time.sleep(pace_seconds)
                paced_times.append(server.keystroke(uri, char))
            pace = percentiles(paced_times) if paced_times else None
            points.append(
                GrowthPoint(size, opened, percentiles(times), percentiles(spaces or times), pace)
            )
            server.client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    finally:
        server.close()
    return points


def growth_to_json(points: list[GrowthPoint]) -> list[dict]:
    return [asdict(point) for point in points]
