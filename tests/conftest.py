"""Shared fixtures: the tiny synthetic bundles (tests/data, made by tests/make_tiny_bundle.py)."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from nextword.server.model.bundle import DEFAULT_BUNDLE
from nextword.server.model.vocab import Vocabulary

DATA = Path(__file__).resolve().parent / "data"
TINY_BUNDLE = DATA / "tiny_bundle"
TINY_SOFTMAX_BUNDLE = DATA / "tiny_softmax_bundle"
SERVER_COMMAND = [sys.executable, "-m", "nextword.server.cli", "serve"]

# The servers and editors the tests start learn what is typed into them: never into the
# user's own data directory (and `fresh_data_home` gives each test its own).
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="nextword-tests-data-")
# What the server derives from bundles and caches (model/derived.py): one folder for the run.
os.environ["XDG_CACHE_HOME"] = tempfile.mkdtemp(prefix="nextword-tests-cache-")


@pytest.fixture(autouse=True)
def fresh_data_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """What one test's servers learn from typing never changes another test's completions."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path_factory.mktemp("data-home")))


def word_vocab(words: list[str]) -> Vocabulary:
    """A vocabulary of `words` (each seen 10 times) and the markers the counts use."""
    markers = {"<p>": 5, "<cont>": 1, "<unk>": 1, ",": 4}
    return Vocabulary.build({word: (word, 10) for word in words}, markers)


def word_ids(vocab: Vocabulary, text: str) -> np.ndarray:
    """The ids of the space-separated words of `text`."""
    return np.asarray([vocab.id_of(word) for word in text.split()], dtype=np.int32)


def assert_prefix_range_agrees(table, vocab: Vocabulary, key: tuple, discount: float) -> None:
    """The counts' evidence for a prefix's range of words is the whole vocabulary's, cut to it."""
    whole = table.evidence(key, 0, vocab.n_words, discount)
    lo, hi = vocab.prefix_range("g")
    part = table.evidence(key, lo, hi, discount)
    inside = (whole.ids >= lo) & (whole.ids < hi)
    assert part.ids.tolist() == whole.ids[inside].tolist()
    assert np.allclose(part.explicit, whole.explicit[inside])
    assert part.network_share == whole.network_share


def default_bundle_present() -> bool:
    return (DEFAULT_BUNDLE / "manifest.json").is_file()


@pytest.fixture(scope="session")
def tiny_engine():
    from nextword.server.engine.engine import load_engine

    return load_engine(TINY_BUNDLE)


def units(text: str, encoding: str) -> int:
    """Length of text in LSP position units."""
    if encoding == "utf-8":
        return len(text.encode("utf-8"))
    if encoding == "utf-16":
        return len(text.encode("utf-16-le")) // 2
    return len(text)


class Editor:
    """A client-side copy of one document: edits it and sends them as incremental changes."""

    def __init__(self, client, uri: str, text: str = "", language: str = "plaintext") -> None:
        from lsprotocol import types

        self.types = types
        self.client = client
        self.uri = uri
        self.text = text
        self.version = 1
        self.encoding = str(getattr(client, "position_encoding", None) or "utf-16")
        client.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, language, 1, text))
        )

    def position(self, offset: int, text: str | None = None):
        from nextword.server.text.document import content_of, split_lines

        text = self.text if text is None else text
        line, start = 0, 0
        for line_text in split_lines(text)[:-1]:
            if start + len(line_text) > offset:
                break
            start += len(line_text)
            line += 1
        content = content_of(split_lines(text)[line])
        return self.types.Position(line, units(content[: offset - start], self.encoding))

    def replace(self, start: int, end: int, new_text: str) -> None:
        types = self.types
        edit_range = types.Range(self.position(start), self.position(end))
        self.text = self.text[:start] + new_text + self.text[end:]
        self.version += 1
        self.client.text_document_did_change(
            types.DidChangeTextDocumentParams(
                types.VersionedTextDocumentIdentifier(version=self.version, uri=self.uri),
                [types.TextDocumentContentChangePartial(range=edit_range, text=new_text)],
            )
        )

    def type(self, text: str) -> None:
        for char in text:
            self.replace(len(self.text), len(self.text), char)

    async def complete(self, offset: int | None = None):
        types = self.types
        position = self.position(len(self.text) if offset is None else offset)
        return await self.client.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(self.uri), position)
        )
