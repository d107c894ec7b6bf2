"""Completion latency of `nextword serve`, measured by a real client over stdio.

    python benchmarks/latency.py [--chars 3000] [--bundle DIR] [--text FILE] [--sizes 10000,100000]
                                 [--pace-ms 50] [--paced-chars 1500] [--inline-chars 1000]
                                 [--data-home XDG_DATA_HOME]

Every server gets a fresh data directory (nothing learned; `--data-home`: a copy of that one).

1. Typing: held-out text is typed into an empty document one character at a time (a didChange
   per character, then a completion request, as an editor does with isIncomplete results).
   Reports the completion round trip p50/p95/p99/max, and the protocol floor: a `nextword/ping`
   request the server answers without work, sent after every keystroke in the same run. The
   first runs type each key as soon as the last was answered; the paced runs wait `--pace-ms`
   before each key, as a (fast) typist does: the server prepares the next word in the pauses
   (prepareNextWord, on and off) and its caches go cold between keys.
   The ghost text runs (`--inline-chars`) send an inline completion request and a completion
   request together after every keystroke, the inline one first (as VS Code does): the inline
   round trip, and the completion's, which includes waiting behind the rollout.
2. Far edits: documents of N words (paragraphs of the corpus). With the cursor at the end, an
   edit in paragraph 3 must cost no recurrent steps at the cursor (read from `nextword/stats`),
   an edit in the cursor's own paragraph at most max_context_tokens; and the didChange itself
   must cost the same whatever N (measured as didChange + ping minus the ping floor). For
   comparison, the cost of the same edit in pygls' own TextDocument (which the server bypasses).

Prints Markdown tables. Reads /work/shared/corpus by default (not needed by the product).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import time
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.workspace.text_document import TextDocument

from nextword.server.commands.sessions import learned_data_home
from nextword.server.lsp.client import (
    EXIT_SECONDS,
    HANG_SECONDS,
    LspError,
    default_answer,
    encode,
    frame,
    read_message,
    serve_command,
)

INLINE_AUTOMATIC = types.InlineCompletionTriggerKind.Automatic.value


CORPUS = Path("/work/shared/corpus")
DEFAULT_TEXT_FILES = ["brown.txt", "austen.txt", "sotu.txt"]


def held_out_paragraphs(files: list[Path], every: int = 20, offset: int = 0) -> list[str]:
    """Every `every`-th line of the files (the exporter holds these out of training)."""
    paragraphs = []
    for path in files:
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines):
                if number % every == offset and len(line.split()) >= 8:
                    paragraphs.append(" ".join(line.split()))
    return paragraphs


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


class Session:
    """One server process and one document, positions in UTF-16 (ASCII-safe either way).

    The client is plain JSON over the pipes, read on this thread as the answer arrives, as an
    editor's own client is (VS Code's and Neovim's parse JSON natively): a Python client
    library's own work (pygls' asyncio loop and converters: ~0.4 ms a round trip and a busy core
    while the server's worker thread needs the other) would be timed as the server's."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.lines: list[str] = [""]
        self.uri = ""
        self.version = 0
        self._next_id = 0

    @classmethod
    def start(
        cls, bundle: str | None, options: dict | None = None, learned: Path | None = None
    ) -> Session:
        """The server with a fresh data directory: what it learns from the typing stays out of
        the user's, and the user's learned phrases out of the figures. `learned`: an
        XDG_DATA_HOME whose learned phrases it starts with (a copy)."""
        home = learned_data_home(bundle, [])
        if learned is not None:
            shutil.copytree(learned, home, dirs_exist_ok=True)
        process = subprocess.Popen(
            serve_command(bundle),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "XDG_DATA_HOME": str(home)},
        )
        session = cls(process)
        params = {"processId": None, "rootUri": None, "capabilities": {}}
        session.call("initialize", {**params, "initializationOptions": options or {}})
        session.notify("initialized", {})
        return session

    def stop(self) -> None:
        self.call("shutdown")
        self.notify("exit")
        try:
            self.process.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    # -- the wire ---------------------------------------------------------------------------------

    def send(self, message: dict[str, Any]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(frame(encode({"jsonrpc": "2.0", **message})))
        stdin.flush()

    def notify(self, method: str, params: Any = None) -> None:
        self.send({"method": method, "params": params})

    def request(self, method: str, params: Any = None) -> int:
        self._next_id += 1
        self.send({"id": self._next_id, "method": method, "params": params})
        return self._next_id

    def receive(self) -> dict[str, Any]:
        """The next message from the server; its own requests are answered on the way."""
        stdout = self.process.stdout
        assert stdout is not None
        while True:
            message = read_message(stdout)
            if message is None:
                raise LspError(f"the server closed its output (exit code {self.process.poll()})")
            if "method" not in message:
                return message
            if "id" in message:
                self.send({"id": message["id"], "result": default_answer(message)})

    def answers(self, ids: list[int]) -> dict[int, tuple[float, Any]]:
        """{id: (perf_counter when its answer arrived, result)} for the requests `ids`."""
        answered: dict[int, tuple[float, Any]] = {}
        deadline = time.monotonic() + HANG_SECONDS
        while len(answered) < len(ids):
            message = self.receive()
            if "error" in message:
                raise LspError(f"request {message.get('id')}: {message['error']}")
            if message.get("id") in ids:
                answered[message["id"]] = (time.perf_counter(), message.get("result"))
            if time.monotonic() > deadline:
                raise LspError(f"no answer to {ids}")
        return answered

    def call(self, method: str, params: Any = None) -> Any:
        request_id = self.request(method, params)
        return self.answers([request_id])[request_id][1]

    # -- the document -----------------------------------------------------------------------------

    def open(self, uri: str, text: str) -> None:
        self.uri, self.version, self.lines = uri, 1, text.split("\n")
        document = {"uri": uri, "languageId": "plaintext", "version": 1, "text": text}
        self.notify("textDocument/didOpen", {"textDocument": document})

    def change(self, line: int, start: int, end: int, text: str) -> None:
        """Replace lines[line][start:end] (the benchmark never edits across lines)."""
        self.version += 1
        edit_range = {"start": position(line, start), "end": position(line, end)}
        self.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"range": edit_range, "text": text}],
            },
        )
        current = self.lines[line]
        self.lines[line : line + 1] = (current[:start] + text + current[end:]).split("\n")

    def type_char(self, char: str) -> None:
        last = len(self.lines) - 1
        self.change(last, len(self.lines[last]), len(self.lines[last]), char)

    def at_end(self) -> dict[str, Any]:
        last = len(self.lines) - 1
        return {
            "textDocument": {"uri": self.uri},
            "position": position(last, len(self.lines[last])),
        }

    def complete(self) -> tuple[float, int]:
        """(seconds, number of items) for a completion at the end of the document."""
        started = time.perf_counter()
        request_id = self.request("textDocument/completion", self.at_end())
        arrived, result = self.answers([request_id])[request_id]
        items = result.get("items", []) if isinstance(result, dict) else result
        return arrived - started, len(items or [])

    def inline(self) -> tuple[float, float]:
        """(seconds for the inline completion, seconds for the completion) at the end of the
        document, both sent at once with the inline request first, as VS Code asks for both
        after a keystroke: the completion's time includes any wait behind the rollout."""
        started = time.perf_counter()
        context = {"context": {"triggerKind": INLINE_AUTOMATIC}}
        inline_id = self.request("textDocument/inlineCompletion", {**self.at_end(), **context})
        completion_id = self.request("textDocument/completion", self.at_end())
        answered = self.answers([inline_id, completion_id])
        return answered[inline_id][0] - started, answered[completion_id][0] - started

    def ping(self) -> float:
        started = time.perf_counter()
        self.call("nextword/ping")
        return time.perf_counter() - started

    def stats(self) -> dict:
        result = self.call("nextword/stats")
        return {key: result[key] for key in ("recurrentSteps", "cacheHits")}


def position(line: int, character: int) -> dict[str, int]:
    return {"line": line, "character": character}


def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f}"


def typing_run(
    bundle: str | None,
    text: str,
    options: dict | None,
    pace: float = 0.0,
    inline: bool = False,
    learned: Path | None = None,
) -> dict[str, float]:
    """Type `text` a character at a time; `pace`: seconds from one keystroke's answer to the
    next keystroke (0: at once, the server never idle); `inline`: ask for ghost text with every
    completion (`Session.inline`); `learned`: see `Session.start`."""
    session = Session.start(bundle, options, learned)
    session.open("file:///typing.txt", "")
    completions, pings, empty, inlines = [], [], 0, []
    next_word, in_word = [], []
    steps_before = (session.stats())["recurrentSteps"]
    for char in text:
        if pace:
            time.sleep(pace)
        session.type_char(char)
        if inline:
            inline_seconds, elapsed = session.inline()
            inlines.append(inline_seconds)
            count = 1
        else:
            elapsed, count = session.complete()
        completions.append(elapsed)
        (next_word if char == " " else in_word).append(elapsed)
        empty += count == 0
        pings.append(session.ping())
    steps = (session.stats())["recurrentSteps"] - steps_before
    session.stop()
    result = {f"p{q}": percentile(completions, q) for q in (50, 95, 99)}
    result.update(
        max=max(completions),
        next_word_p50=percentile(next_word, 50),
        next_word_p99=percentile(next_word, 99),
        in_word_p50=percentile(in_word, 50),
        in_word_p99=percentile(in_word, 99),
        mean=statistics.fmean(completions),
        floor_p50=percentile(pings, 50),
        floor_p99=percentile(pings, 99),
        keystrokes=len(text),
        steps=steps,
        empty=empty,
    )
    if inlines:
        result.update({f"inline_p{q}": percentile(inlines, q) for q in (50, 95, 99)})
    return result


def far_edit_run(
    bundle: str | None, paragraphs: list[str], words: int, learned: Path | None = None
) -> dict[str, float]:
    """Open a `words`-word document, then edit far from and near the cursor."""
    chosen, count = [], 0
    for paragraph in paragraphs:
        if count >= words:
            break
        chosen.append(paragraph)
        count += len(paragraph.split())
    text = "\n\n".join(chosen) + " "
    pygls_edit = pygls_edit_seconds(text)
    session = Session.start(bundle, learned=learned)
    started = time.perf_counter()
    session.open("file:///long.txt", text)
    session.ping()
    open_seconds = time.perf_counter() - started
    first_steps = (session.stats())["recurrentSteps"]
    session.complete()
    first_steps = (session.stats())["recurrentSteps"] - first_steps
    floor = statistics.median([session.ping() for _ in range(50)])

    def edit_then_complete(line: int, column: int) -> tuple[float, float, int]:
        before = (session.stats())["recurrentSteps"]
        floor_now = session.ping()
        started = time.perf_counter()
        session.change(line, column, column, "very ")
        session.ping()  # answered after the didChange is applied
        change_seconds = time.perf_counter() - started - floor_now
        elapsed, _ = session.complete()
        return change_seconds, elapsed, (session.stats())["recurrentSteps"] - before

    far = [edit_then_complete(4, 0) for _ in range(50)]  # paragraph 3 (lines 0, 2, 4)
    last = len(session.lines) - 1
    near_column = session.lines[last].rfind(" ", 0, max(0, len(session.lines[last]) - 60)) + 1
    near = edit_then_complete(last, near_column)
    session.stop()
    return {
        "words": count,
        "megabytes": len(text.encode()) / 1e6,
        "open": open_seconds,
        "first_steps": first_steps,
        "far_change": statistics.median(change for change, _, _ in far),
        "far_complete": statistics.median(elapsed for _, elapsed, _ in far),
        "far_steps": max(steps for _, _, steps in far),
        "near_complete": near[1],
        "near_steps": near[2],
        "floor": floor,
        "pygls_edit": pygls_edit,
    }


def pygls_edit_seconds(text: str, repeats: int = 5) -> float:
    """For comparison: one incremental edit applied by pygls' own TextDocument (in-process)."""
    document = TextDocument("file:///long.txt", text, version=1)
    line = min(4, len(text.split("\n")) - 1)
    started = time.perf_counter()
    for _ in range(repeats):
        edit_range = types.Range(types.Position(line, 0), types.Position(line, 0))
        document.apply_change(types.TextDocumentContentChangePartial(range=edit_range, text="x"))
    return (time.perf_counter() - started) / repeats


def run_benchmark(args: argparse.Namespace) -> None:
    files = [Path(args.text)] if args.text else [CORPUS / name for name in DEFAULT_TEXT_FILES]
    paragraphs = held_out_paragraphs(files)
    text = ""
    for paragraph in paragraphs:
        if len(text) >= args.chars:
            break
        text += paragraph[: args.chars - len(text)] + "\n\n"
    text = text[: args.chars]
    paced = f"{args.pace_ms:g} ms apart"
    runs = {
        "cache on": (None, 0.0, text),
        "cache off": ({"nextword": {"cache": False}}, 0.0, text),
        paced: (None, args.pace_ms / 1e3, text[: args.paced_chars]),
        f"{paced}, prepareNextWord off": (
            {"nextword": {"prepareNextWord": False}}, args.pace_ms / 1e3, text[: args.paced_chars]
        ),
    }  # fmt: skip
    if not args.pace_ms or not args.paced_chars:
        runs = {name: run for name, run in runs.items() if not run[1]}
    rows, inline_rows = [], []
    for name, (options, pace, typed) in runs.items():
        result = typing_run(args.bundle, typed, options, pace, learned=args.data_home)
        rows.append(
            [name, str(result["keystrokes"])]
            + [
                ms(result[key])
                for key in (
                    "p50",
                    "p95",
                    "p99",
                    "max",
                    "next_word_p50",
                    "next_word_p99",
                    "in_word_p50",
                    "in_word_p99",
                    "floor_p50",
                    "floor_p99",
                )
            ]
            + [f"{result['steps'] / result['keystrokes']:.2f}"]
        )
    print("### Typing, one completion request per keystroke (ms, round trip over stdio)\n")
    header = ["run", "keys", "p50", "p95", "p99", "max", "after space p50", "after space p99"]
    header += ["in word p50", "in word p99"]
    header += ["floor p50", "floor p99", "steps/key"]
    print(table(header, rows))
    if args.inline_chars:
        for name, pace in (("at once", 0.0), (paced, args.pace_ms / 1e3)):
            inline_text = text[: args.inline_chars]
            result = typing_run(args.bundle, inline_text, None, pace, True, args.data_home)
            keys = ("inline_p50", "inline_p95", "inline_p99", "p50", "p99")
            inline_rows.append([name, str(result["keystrokes"]), *(ms(result[k]) for k in keys)])
        print("\n### Ghost text: an inline and a completion request per keystroke (ms)\n")
        header = ["run", "keys", "inline p50", "inline p95", "inline p99"]
        print(table([*header, "completion p50", "completion p99"], inline_rows))
    rows = []
    all_paragraphs = held_out_paragraphs(files, every=1)
    for size in args.sizes:
        result = far_edit_run(args.bundle, all_paragraphs, size, args.data_home)
        rows.append(
            [
                f"{result['words']:,}",
                f"{result['megabytes']:.1f}",
                f"{result['open'] * 1e3:.0f}",
                str(result["first_steps"]),
                ms(result["far_change"]),
                ms(result["pygls_edit"]),
                ms(result["far_complete"]),
                str(result["far_steps"]),
                ms(result["near_complete"]),
                str(result["near_steps"]),
            ]
        )
    print("\n### Edits far from the cursor (cursor at the end of the document)\n")
    header = [
        "words",
        "MB",
        "open ms",
        "steps 1st completion",
        "didChange ms (far)",
        "pygls TextDocument edit ms",
        "completion ms after far edit",
        "steps after far edit",
        "completion ms after near edit",
        "steps after near edit",
    ]
    print(table(header, rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chars", type=int, default=3000, help="keystrokes to type")
    parser.add_argument("--bundle", help="bundle directory (default: the default bundle)")
    parser.add_argument("--text", help="text file to type (default: held-out corpus lines)")
    parser.add_argument(
        "--data-home",
        type=Path,
        help="an XDG_DATA_HOME whose learned phrases the servers use (copied; default: none)",
    )
    parser.add_argument(
        "--pace-ms", type=float, default=50.0, help="pause before each keystroke, paced runs"
    )
    parser.add_argument(
        "--paced-chars", type=int, default=1500, help="keystrokes in the paced runs (0: none)"
    )
    parser.add_argument(
        "--inline-chars",
        type=int,
        default=1000,
        help="keystrokes in the ghost text runs, at once and paced (0: none)",
    )
    parser.add_argument(
        "--sizes",
        type=lambda value: [int(n) for n in value.split(",")],
        default=[10_000, 100_000, 1_000_000],
        help="document sizes in words for the far-edit runs",
    )
    run_benchmark(parser.parse_args())


if __name__ == "__main__":
    main()
