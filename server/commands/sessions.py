"""The typing sessions `nextword eval` drives: the in-process engine, and the server over stdio.

`LspClient` is a plain JSON-RPC 2.0 client on a child process's pipes (Content-Length framing),
the way an editor talks to `nextword serve`: initialize, didOpen, then per keystroke one
incremental didChange and one completion request. It answers the server's own requests
(configuration, registrations) so the server never waits on it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.settings import Settings


class LspError(RuntimeError):
    pass


class LspClient:
    """A minimal synchronous LSP client for a server on stdio."""

    def __init__(self, command: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL
            if env is None or not env.get("NEXTWORD_EVAL_STDERR")
            else None,
            env={**os.environ, **(env or {})},
        )
        self._next_id = 0
        self._lock = threading.Lock()

    def _write(self, message: dict[str, Any]) -> None:
        body = json.dumps(message, separators=(",", ":")).encode("utf-8")
        stdin = self.process.stdin
        assert stdin is not None
        stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        stdin.flush()

    def _read(self) -> dict[str, Any]:
        stdout = self.process.stdout
        assert stdout is not None
        length = None
        while True:
            header = stdout.readline()
            if not header:
                raise LspError(f"server closed its output (exit code {self.process.poll()})")
            header = header.strip()
            if not header:
                break
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            raise LspError("message without Content-Length")
        return json.loads(stdout.read(length))

    def notify(self, method: str, params: Any) -> None:
        self._write({"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any) -> Any:
        self._next_id += 1
        request_id = self._next_id
        self._write({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
        while True:
            message = self._read()
            if message.get("id") == request_id and "method" not in message:
                if "error" in message:
                    raise LspError(f"{method}: {message['error']}")
                return message.get("result")
            if "method" in message and "id" in message:
                self._answer_server_request(message)

    def _answer_server_request(self, message: dict[str, Any]) -> None:
        result: Any = None
        if message["method"] == "workspace/configuration":
            result = [None for _ in message.get("params", {}).get("items", [])]
        self._write({"jsonrpc": "2.0", "id": message["id"], "result": result})

    def initialize(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        capabilities = {
            "general": {"positionEncodings": ["utf-16"]},
            "textDocument": {
                "synchronization": {"dynamicRegistration": False},
                "completion": {"completionItem": {"snippetSupport": False}},
            },
        }
        result = self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": None,
                "capabilities": capabilities,
                "initializationOptions": options or {},
            },
        )
        self.notify("initialized", {})
        return result

    def shutdown(self) -> None:
        try:
            self.request("shutdown", None)
            self.notify("exit", None)
            self.process.wait(timeout=5)
        except (LspError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()


def completion_words(result: Any) -> list[str]:
    """The words of a completion result, in the order the editor shows them (sortText)."""
    items = result.get("items", []) if isinstance(result, dict) else (result or [])
    ranked = sorted(
        enumerate(items), key=lambda pair: (pair[1].get("sortText") or pair[1]["label"], pair[0])
    )
    words: list[str] = []
    for _, item in ranked:
        edit = item.get("textEdit")
        words.append(edit["newText"] if edit else item.get("insertText") or item["label"])
    return words


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


class LspSession:
    """One document typed at its end through `nextword serve` (or any LSP server)."""

    def __init__(self, client: LspClient, uri: str) -> None:
        self.client = client
        self.uri = uri
        self.version = 0
        self.line = 0
        self.character = 0  # UTF-16 units on the last line
        client.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "plaintext", "version": 0, "text": ""}},
        )

    def type_text(self, text: str) -> None:
        if not text:
            return
        self.version += 1
        here = {"line": self.line, "character": self.character}
        self.client.notify(
            "textDocument/didChange",
            {
                "textDocument": {"uri": self.uri, "version": self.version},
                "contentChanges": [{"range": {"start": here, "end": here}, "text": text}],
            },
        )
        lines = text.replace("\r\n", "\n").split("\n")
        if len(lines) > 1:
            self.line += len(lines) - 1
            self.character = 0
        self.character += utf16_length(lines[-1])

    def suggest(self, limit: int) -> list[str]:
        result = self.client.request(
            "textDocument/completion",
            {
                "textDocument": {"uri": self.uri},
                "position": {"line": self.line, "character": self.character},
            },
        )
        return completion_words(result)[:limit]

    def close(self) -> None:
        self.client.notify("textDocument/didClose", {"textDocument": {"uri": self.uri}})


class EngineSession:
    """One document typed at its end through the in-process engine, as the server does it:
    edits go to the document's line store, the version goes up, then `Engine.complete`."""

    def __init__(self, engine: Engine, uri: str) -> None:
        self.engine = engine
        self.document = DocumentState.open(uri, "")
        self.line = 0
        self.column = 0  # code points

    def type_text(self, text: str) -> None:
        if not text:
            return
        here = (self.line, self.column)
        self.document.edit(here, here, text)
        self.document.version += 1
        lines = text.replace("\r\n", "\n").split("\n")
        if len(lines) > 1:
            self.line += len(lines) - 1
            self.column = 0
        self.column += len(lines[-1])

    def suggest(self, limit: int) -> list[str]:
        completions = self.engine.complete(self.document, self.line, self.column)
        return [completion.text for completion in completions[:limit]]

    def close(self) -> None:
        self.engine.drop_caches(self.document)


def eval_settings(cache: bool, max_items: int = 6, ngrams: bool = True) -> Settings:
    """The default settings with the document cache (the bonus for words near the cursor) and
    the bundle's corpus counts on or off, offering at least `max_items`."""
    settings = Settings(max_items=max(max_items, Settings().max_items))
    if not cache:
        settings.ranking = replace(settings.ranking, document=0.0)
        settings.memory = replace(settings.memory, enabled=False)
    if not ngrams:
        settings.ngrams = replace(settings.ngrams, enabled=False)
    return settings


def engine_session_factory(
    bundle: str | None, cache: bool = True, max_items: int = 6, ngrams: bool = True
):
    """Sessions on one engine (loaded now), a new document for each."""
    engine = load_engine(bundle, eval_settings(cache, max_items, ngrams))
    counter = iter(range(1, 1 << 30))

    def open_session() -> EngineSession:
        return EngineSession(engine, f"eval://document-{next(counter)}")

    open_session.engine = engine  # type: ignore[attr-defined]
    return open_session


def serve_command(bundle: str | None) -> list[str]:
    command = [sys.executable, "-m", "nextword.server.cli", "serve"]
    return command + (["--bundle", str(bundle)] if bundle else [])


def lsp_session_factory(
    bundle: str | None, cache: bool = True, max_items: int = 6, ngrams: bool = True
):
    """Sessions on one server process (started now), a new document for each."""
    client = LspClient(serve_command(bundle))
    client.initialize(server_options(cache, max_items, ngrams))
    counter = iter(range(1, 1 << 30))

    def open_session() -> LspSession:
        return LspSession(client, Path(f"/eval/document-{next(counter)}.txt").as_uri())

    open_session.client = client  # type: ignore[attr-defined]
    return open_session


def server_options(cache: bool, max_items: int = 6, ngrams: bool = True) -> dict[str, Any]:
    """initializationOptions matching `eval_settings`."""
    options: dict[str, Any] = {"maxItems": max(max_items, Settings().max_items)}
    if not cache:
        options["ranking"] = {"document": 0.0}
        options["memory"] = {"enabled": False}
    if not ngrams:
        options["ngrams"] = {"enabled": False}
    return {"nextword": options}
