"""Fuzz `nextword serve` over stdio with hostile JSON-RPC, and count what happens.

    python benchmarks/fuzz.py --minutes 5 [--bundle DIR] [--seed N] [--json]

Each session starts the real server, initializes it with a random client profile and sends
random actions (`Fuzzer.ACTIONS`): nasty documents (megabyte lines, binary and control
characters, right-to-left and combining text, lone surrogates), edits with invalid ranges,
completions at out-of-range and mid-surrogate positions, unopened and closed documents, wrong
params, malformed JSON and broken `Content-Length` headers, bursts of thousands of edits,
$/cancelRequest, garbage settings, and ends with shutdown in the middle of work, exit without
shutdown, or a closed stdin. After every action the client pings the server.

Counted: inputs (frames written), requests (frames that must be answered), answered (responses
with a result or a JSON-RPC error), crashes (the process died unasked), hangs (a request not
answered within `HANG_SECONDS`, or no exit after exit), internal errors (an Internal Error
response or an "Error in server" message after well-formed input: a bug in a handler).
The CI test (tests/test_fuzz_protocol.py) runs a short, seeded version of the same loop.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rawlsp import EXIT_SECONDS, MEGABYTE, RawServer, encode, frame, serve_command

# -- hostile content ------------------------------------------------------------------------------

_SAMPLE = "the of and to a in that government President people United States war peace work \
sea whale ship Captain Elizabeth Darcy letter morning house said would could"
WORDS = _SAMPLE.split(" ")
ODD = [
    "\x00", "\x01", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x7f", "\x85", "\x9f", "\t",
    "\u0301", "\u0308", "\u0327", "\u20dd", "e\u0301", "\u05d0\u05d1\u05d2", "\u0627\u0644",
    "\u202e", "\u200f", "\u200d", "\u200b", "\ufeff", "\u2028", "\u2029", "\ufffd",
    "\U0001f600", "\U0001d54f", "\U0001f468\u200d\U0001f469\u200d\U0001f467", "\ud800",
    "\udfff", "```", "~~~", "`", "http://x.org/a", "a@b.c", "42", "--", "'", "\u2019",
    "\n", "\r\n", "\r", "\n\n", " ", "  ", "\u00e9t\u00e9", "Stra\u00dfe", "\u0130",
]  # fmt: skip


def hostile_text(rng: random.Random, size: int) -> str:
    pieces: list[str] = []
    length = 0
    while length < size:
        piece = rng.choice(ODD) if rng.random() < 0.3 else rng.choice(WORDS) + " "
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)


def big_text(rng: random.Random) -> str:
    """A megabyte: one line of words, or words with a few odd characters on many lines."""
    line = " ".join(rng.choice(WORDS) for _ in range(MEGABYTE // 5))[:MEGABYTE]
    if rng.random() < 0.5:
        return line + rng.choice(ODD)
    return line.replace(" of ", " of\n").replace(" war", " w\u00e4r")


def position(rng: random.Random) -> dict[str, int]:
    big = (1 << 31) - 1
    line = rng.choice([0, 0, 1, 2, rng.randrange(50), rng.randrange(100_000), big])
    character = rng.choice([0, 1, 2, 3, 5, rng.randrange(300), rng.randrange(2 * MEGABYTE), big])
    return {"line": line, "character": character}


def bad_value(rng: random.Random) -> Any:
    return rng.choice([None, -1, -(1 << 40), 1 << 53, 1.5, "x", "", [], {}, [1, "a"], True])


# -- the fuzzer -----------------------------------------------------------------------------------


@dataclass
class Counts:
    sessions: int = 0
    actions: int = 0
    inputs: int = 0
    requests: int = 0
    answered: int = 0
    error_responses: int = 0
    crashes: int = 0
    hangs: int = 0
    internal_errors: int = 0
    bad_exits: int = 0
    problems: list[str] = field(default_factory=list)

    def add_problem(self, text: str) -> None:
        if len(self.problems) < 50:
            self.problems.append(text)


class Fuzzer:
    """Random sessions against the real server; see the module docstring."""

    ACTIONS = (
        "open", "open", "change", "change", "change", "complete", "complete", "complete",
        "close", "wrong_params", "malformed", "bad_header", "burst", "cancel", "settings",
        "unknown", "big",
    )  # fmt: skip

    def __init__(self, rng: random.Random, bundle: str | None, log_path: Path) -> None:
        self.rng = rng
        self.bundle = bundle
        self.log_path = log_path
        self.counts = Counts()
        self.server: RawServer | None = None
        self.uris: list[str] = []
        self.pending: list[int] = []
        self.wellformed = True

    # -- bookkeeping ------------------------------------------------------------------------------

    @property
    def live(self) -> RawServer:
        assert self.server is not None
        return self.server

    def expect(self, request_id: int) -> None:
        self.pending.append(request_id)
        self.counts.requests += 1

    def settle(self, action: str) -> bool:
        """Ping, wait for every pending answer, check them; False when the session is over."""
        server = self.live
        if server.process.poll() is None:
            self.expect(server.request("nextword/ping", {}))
        missing = server.wait(self.pending)
        answered = [i for i in self.pending if i not in missing]
        self.counts.answered += len(answered)
        for request_id in answered:
            error = server.responses[request_id].get("error")
            if error is not None:
                self.counts.error_responses += 1
                if error.get("code") == -32603 and self.wellformed:
                    self.counts.internal_errors += 1
                    detail = json.dumps(error)[-600:]
                    self.counts.add_problem(f"{action}: internal error {detail}")
        for message in server.drain_notifications():
            text = str(message.get("params", {}).get("message", ""))
            if self.wellformed and text.startswith("Error in server"):
                self.counts.internal_errors += 1
                self.counts.add_problem(f"{action}: {text[:200]}")
        self.pending, self.wellformed = [], True
        if server.process.poll() is not None:
            self.counts.crashes += 1
            self.counts.add_problem(f"{action}: server died ({server.process.returncode})")
            return False
        if missing:
            self.counts.hangs += 1
            self.counts.add_problem(f"{action}: {len(missing)} requests unanswered")
            return False
        return True

    # -- sessions ---------------------------------------------------------------------------------

    def session(self, actions: int) -> None:
        self.counts.sessions += 1
        self.server = RawServer(serve_command(self.bundle), self.log_path)
        self.uris = []
        encodings = self.rng.choice([["utf-16"], ["utf-8"], ["utf-32"], ["utf-8", "utf-16"], []])
        options = self.rng.choice(
            [None, {}, {"nextword": {"cacheMegabytes": 1}}, {"maxItems": bad_value(self.rng)}]
        )
        self.expect(
            self.live.request(
                "initialize",
                {
                    "processId": None,
                    "rootUri": None,
                    "capabilities": {"general": {"positionEncodings": encodings}},
                    "initializationOptions": options,
                },
            )
        )
        self.live.notify("initialized", {})
        alive = self.settle("initialize")
        for _ in range(actions):
            if not alive:
                break
            action = self.rng.choice(self.ACTIONS)
            getattr(self, f"do_{action}")()
            self.counts.actions += 1
            alive = self.settle(action)
        if alive:
            self.finish()
        self.counts.inputs += self.live.inputs
        self.live.stop()

    def finish(self) -> None:
        """End the session: shutdown during work, exit without shutdown, or a closed stdin."""
        server, ending = self.live, self.rng.choice(["shutdown", "shutdown", "exit", "eof"])
        expected_code: int | None = 0
        if ending == "shutdown":
            for _ in range(self.rng.randrange(1, 30)):
                self.expect(server.request("textDocument/completion", self.completion_params()))
            self.expect(server.request("shutdown"))
            self.expect(server.request("textDocument/completion", self.completion_params()))
            missing = server.wait(self.pending)
            self.counts.answered += len(self.pending) - len(missing)
            if missing:
                self.counts.hangs += 1
                self.counts.add_problem(f"shutdown: {len(missing)} requests unanswered")
            server.notify("exit")
        elif ending == "exit":
            server.notify("exit")
            expected_code = 1
        else:
            server.close_input()
        self.pending = []
        try:
            code = server.process.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.counts.hangs += 1
            self.counts.add_problem(f"{ending}: the server did not exit")
            return
        if ending != "eof" and code != expected_code:
            self.counts.bad_exits += 1
            self.counts.add_problem(f"{ending}: exit code {code}, expected {expected_code}")

    # -- actions ----------------------------------------------------------------------------------

    def uri(self) -> str:
        if self.uris and self.rng.random() < 0.8:
            return self.rng.choice(self.uris)
        return f"file:///fuzz/{self.rng.randrange(1000)}.txt"

    def completion_params(self) -> dict[str, Any]:
        return {"textDocument": {"uri": self.uri()}, "position": position(self.rng)}

    def do_open(self, text: str | None = None) -> None:
        uri = f"file:///fuzz/{self.rng.randrange(1000)}.{self.rng.choice(['txt', 'md'])}"
        language = self.rng.choice(["plaintext", "markdown", "python", "git-commit"])
        text = hostile_text(self.rng, self.rng.randrange(400)) if text is None else text
        self.live.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": language, "version": 1, "text": text}},
        )
        self.uris.append(uri)

    def change_event(self) -> dict[str, Any]:
        text = hostile_text(self.rng, self.rng.randrange(6))
        if self.rng.random() < 0.05:
            return {"text": hostile_text(self.rng, self.rng.randrange(200))}
        start, end = position(self.rng), position(self.rng)
        return {"range": {"start": start, "end": end}, "text": text}

    def do_change(self) -> None:
        changes = [self.change_event() for _ in range(self.rng.randrange(1, 8))]
        self.live.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri(), "version": self.rng.randrange(1 << 31)},
                "contentChanges": changes,
            },
        )

    def do_complete(self) -> None:
        for _ in range(self.rng.randrange(1, 5)):
            self.expect(self.live.request("textDocument/completion", self.completion_params()))

    def do_close(self) -> None:
        uri = self.uri()
        self.live.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
        self.uris = [u for u in self.uris if u != uri] if self.rng.random() < 0.7 else self.uris

    def do_wrong_params(self) -> None:
        self.wellformed = False
        params = self.completion_params()
        target = self.rng.choice(["position", "line", "textDocument", "params", "extra"])
        if target == "position":
            params["position"] = bad_value(self.rng)
        elif target == "line":
            params["position"]["line"] = bad_value(self.rng)
        elif target == "textDocument":
            params["textDocument"] = bad_value(self.rng)
        elif target == "extra":
            params["extra"] = bad_value(self.rng)
        else:
            params = bad_value(self.rng)
        method = self.rng.choice(["textDocument/completion", "nextword/stats"])
        self.expect(self.live.request(method, params))
        notification = self.rng.choice(["textDocument/didOpen", "textDocument/didChange"])
        self.live.notify(notification, {"textDocument": bad_value(self.rng)})

    def do_malformed(self) -> None:
        self.wellformed = False
        request_id = self.live.new_id()
        bodies = [
            b"{", b"}", b"null", b"[]", b"[1,2]", b"42", b'"x"', b"\xff\xfe\x00",
            b'{"jsonrpc":"2.0","id":%d,"method":' % request_id,
            b'{"jsonrpc":"1.0","method":"nextword/ping","params":{}}',
            b'{"id":%d,"method":"nextword/ping"}' % request_id,
            b'{"jsonrpc":"2.0","method":null}', bytes(self.rng.randrange(256) for _ in range(40)),
        ]  # fmt: skip
        self.live.write(frame(self.rng.choice(bodies)))
        answered = {"jsonrpc": "1.0", "id": self.live.new_id(), "method": "nextword/ping"}
        self.live.send(answered)
        self.expect(answered["id"])  # a request that is not JSON-RPC 2.0 gets an error

    def do_bad_header(self) -> None:
        self.wellformed = False
        body = encode({"jsonrpc": "2.0", "id": self.live.new_id(), "method": "nextword/ping"})
        variants = [
            b"Content-Length: %d\r\n\r\n" % (len(body) // 2) + body,  # too short
            b"Content-Length: %d\r\n\r\n" % (len(body) + 7) + body + b"garbage",
            b"Content-Length: 99999999999999999\r\n\r\n",
            b"Content-Length: -5\r\n\r\n" + body,
            b"Content-Length: abc\r\n\r\n" + body,
            b"Content-Type: x\r\n\r\n" + body,
            b"content-length: %d\r\n\r\n" % len(body) + body,
            b"\r\n\r\n\r\n",
            b"Content-Length: 0\r\n\r\n",
        ]
        self.live.write(self.rng.choice(variants))

    def do_burst(self) -> None:
        """Thousands of one-character edits at the end, with completions in between."""
        uri = self.uri()
        end = {"line": (1 << 31) - 1, "character": 0}
        for number in range(self.rng.randrange(1000, 4000)):
            char = self.rng.choice("abcdefgh    \n\u00e9\U0001f600")
            self.live.notify(
                "textDocument/didChange",
                {
                    "textDocument": {"uri": uri, "version": number},
                    "contentChanges": [{"range": {"start": end, "end": end}, "text": char}],
                },
            )
            if number % 97 == 0:
                self.expect(
                    self.live.request(
                        "textDocument/completion",
                        {"textDocument": {"uri": uri}, "position": end},
                    )
                )

    def do_cancel(self) -> None:
        ids = [
            self.live.request("textDocument/completion", self.completion_params())
            for _ in range(self.rng.randrange(1, 10))
        ]
        for request_id in ids + [self.rng.randrange(1 << 20), "nope"]:
            self.live.notify("$/cancelRequest", {"id": request_id})
        for request_id in ids:
            self.expect(request_id)

    def do_settings(self) -> None:
        value = bad_value(self.rng)
        settings = self.rng.choice(
            [
                {"nextword": {"maxItems": value}},
                {"nextword": {"cacheMegabytes": self.rng.choice([1, 2, value])}},
                {"nextword": {"context": {"lookbackChars": value}}},
                {"nextword": {"ranking": value}},
                {"nextword": value},
                value,
                {"nextword": {"languages": ["plaintext", "markdown"], "maxItems": 3}},
            ]
        )
        self.live.notify("workspace/didChangeConfiguration", {"settings": settings})

    def do_unknown(self) -> None:
        self.wellformed = False
        self.expect(self.live.request(f"nextword/{self.rng.randrange(100)}", {}))
        self.live.notify("$/whatever", {"x": 1})

    def do_big(self) -> None:
        if self.rng.random() < 0.3:  # a megabyte is slow to send: keep it to some sessions
            self.do_open(big_text(self.rng))
            self.do_complete()
        else:
            self.do_change()


def fuzz(seconds: float, bundle: str | None, seed: int, actions_per_session: int = 60) -> Counts:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as scratch:
        fuzzer = Fuzzer(rng, bundle, Path(scratch) / "server.log")
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            fuzzer.session(actions_per_session)
        return fuzzer.counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--bundle", help="model bundle (default: the one shipped with nextword)")
    parser.add_argument("--seed", type=int, default=int.from_bytes(os.urandom(4), "little"))
    parser.add_argument("--json", action="store_true", help="print the counts as JSON")
    args = parser.parse_args(argv)
    started = time.monotonic()
    counts = fuzz(args.minutes * 60, args.bundle, args.seed)
    elapsed = time.monotonic() - started
    if args.json:
        print(json.dumps(dict(asdict(counts), seed=args.seed, seconds=round(elapsed, 1))))
    else:
        print(f"seed {args.seed}, {elapsed / 60:.1f} minutes, {counts.sessions} server sessions")
        print(f"inputs tried      {counts.inputs}")
        print(f"actions           {counts.actions}")
        print(f"requests sent     {counts.requests}")
        print(f"requests answered {counts.answered} ({counts.error_responses} with an error)")
        print(f"crashes           {counts.crashes}")
        print(f"hangs             {counts.hangs}")
        print(f"internal errors   {counts.internal_errors}")
        print(f"bad exit codes    {counts.bad_exits}")
        for problem in counts.problems:
            print(f"  {problem}")
    failed = counts.crashes + counts.hangs + counts.internal_errors + counts.bad_exits
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
