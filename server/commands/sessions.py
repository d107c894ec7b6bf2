"""The typing sessions `nextword eval` drives: the in-process engine, and the server over stdio
(lsp/client.py), the way an editor talks to `nextword serve`: initialize, didOpen, then per
keystroke one incremental didChange and one completion request.
"""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.engine.inline import GhostWord, suggest_inline
from nextword.server.lsp.client import StdioClient, serve_command
from nextword.server.memory.persist import data_dir
from nextword.server.model.bundle import bundle_identity
from nextword.server.personal.layer import PersonalLayer
from nextword.server.personal.learn import file_paragraphs, learn_source, source_name
from nextword.server.personal.store import bundle_folder
from nextword.server.settings import BOUNDS, Settings


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

    def __init__(self, client: StdioClient, uri: str) -> None:
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
        result = self.client.call(
            "textDocument/completion",
            {
                "textDocument": {"uri": self.uri},
                "position": {"line": self.line, "character": self.character},
            },
        )
        return completion_words(result)[:limit]

    def ghost(self) -> list[GhostWord]:
        """The words of the inline suggestion at the cursor (the first: the whole current word);
        the server does not send its confidence, so each reads 1."""
        result = self.client.call(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": self.uri},
                "position": {"line": self.line, "character": self.character},
                "context": {"triggerKind": 2},
            },
        )
        items = result.get("items", []) if isinstance(result, dict) else (result or [])
        if not items:
            return []
        text = items[0]["insertText"]
        text = text if isinstance(text, str) else text.get("value", "")
        return [GhostWord(word, 1.0) for word in text.split(" ") if word]

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

    def ghost(self) -> list[GhostWord]:
        """The words of the inline suggestion at the cursor (the first: the whole current word)."""
        suggestion = suggest_inline(self.engine, self.document, self.line, self.column)
        if suggestion is None:
            return []
        return [GhostWord(w, p) for w, p in zip(suggestion.words, suggestion.probabilities)]

    def close(self) -> None:
        self.engine.drop_caches(self.document)


EVAL_BUDGET_MS = BOUNDS["inline.budget_ms"][1]
"""The ghost text's time budget in evaluations: so long that the figures do not depend on how
busy the machine is (the budget only bounds latency; benchmarks/latency.py measures that)."""


def eval_settings(cache: bool, max_items: int = 6, ngrams: bool = True) -> Settings:
    """The default settings with the document cache (the bonus for words near the cursor) and
    the bundle's corpus counts on or off, offering at least `max_items`, and the ghost text's
    time budget at `EVAL_BUDGET_MS`."""
    settings = Settings(max_items=max(max_items, Settings().max_items))
    settings.inline = replace(settings.inline, budget_ms=EVAL_BUDGET_MS)
    # Typed text is learned in the pauses between sentences, which a simulation does not have:
    # off, so both ways of typing give the same figures (what was learned first still counts).
    settings.learning = replace(settings.learning, typing=False)
    if not cache:
        settings.ranking = replace(settings.ranking, document=0.0)
        settings.memory = replace(settings.memory, enabled=False)
    if not ngrams:
        settings.ngrams = replace(settings.ngrams, enabled=False)
    return settings


def learned_data_home(bundle: str | None, learn: list[Path]) -> Path:
    """A fresh data directory (XDG_DATA_HOME) holding what was learned from `learn`: an
    evaluation neither reads nor changes the user's own."""
    home = Path(tempfile.mkdtemp(prefix="nextword-eval-"))
    atexit.register(shutil.rmtree, home, True)
    base = home / data_dir().name
    bundle_id = bundle_identity(bundle)
    for path in learn:
        paragraphs = file_paragraphs([path])
        learn_source(bundle_folder(bundle_id, base), bundle_id, source_name(path), paragraphs, base)
    return home


def engine_session_factory(
    bundle: str | None,
    cache: bool = True,
    max_items: int = 6,
    ngrams: bool = True,
    data_home: Path | None = None,
):
    """Sessions on one engine (loaded now), a new document for each, completing with what is
    learned in `data_home` (an XDG_DATA_HOME; default: a fresh one, nothing learned)."""
    engine = load_engine(bundle, eval_settings(cache, max_items, ngrams))
    home = data_home or learned_data_home(bundle, [])
    engine.personal = PersonalLayer.loaded(
        engine.vocab, engine.bundle.path, base=home / data_dir().name
    )
    counter = iter(range(1, 1 << 30))

    def open_session() -> EngineSession:
        return EngineSession(engine, f"eval://document-{next(counter)}")

    open_session.engine = engine  # type: ignore[attr-defined]
    return open_session


def lsp_session_factory(
    bundle: str | None,
    cache: bool = True,
    max_items: int = 6,
    ngrams: bool = True,
    data_home: Path | None = None,
):
    """Sessions on one server process (started now, with `data_home` as its XDG_DATA_HOME;
    default: a fresh one), a new document for each."""
    stderr = None if os.environ.get("NEXTWORD_EVAL_STDERR") else subprocess.DEVNULL
    home = data_home or learned_data_home(bundle, [])
    environment = {**os.environ, "XDG_DATA_HOME": str(home)}
    client = StdioClient(serve_command(bundle), stderr=stderr, env=environment)
    client.initialize(server_options(cache, max_items, ngrams))
    counter = iter(range(1, 1 << 30))

    def open_session() -> LspSession:
        return LspSession(client, Path(f"/eval/document-{next(counter)}.txt").as_uri())

    open_session.client = client  # type: ignore[attr-defined]
    return open_session


def server_options(cache: bool, max_items: int = 6, ngrams: bool = True) -> dict[str, Any]:
    """initializationOptions matching `eval_settings`."""
    options: dict[str, Any] = {"maxItems": max(max_items, Settings().max_items)}
    options["inline"] = {"budgetMs": EVAL_BUDGET_MS}
    options["learning"] = {"typing": False}  # as in eval_settings
    if not cache:
        options["ranking"] = {"document": 0.0}
        options["memory"] = {"enabled": False}
    if not ngrams:
        options["ngrams"] = {"enabled": False}
    return {"nextword": options}
