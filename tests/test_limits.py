"""Resource limits: caches stay bounded however many documents are opened, wherever one types.

Bounds are checked by counting entries and bytes, never by timing (the speed figures are in
benchmarks/memory.py).
"""

from __future__ import annotations

import asyncio
import io
import os
import random
import threading

import pytest
from conftest import TINY_BUNDLE

from nextword.server.engine.documents import DocumentState, RecentDocuments
from nextword.server.engine.engine import load_engine
from nextword.server.lsp.transport import (
    MAX_MESSAGE_BYTES,
    AsyncProtocolInput,
    ProtocolInput,
    pollable,
)
from nextword.server.settings import parse_settings
from nextword.server.text.cursor import line_tokens

WORDS = [
    "the",
    "people",
    "of",
    "the",
    "United",
    "States",
    "government",
    "and",
    "war",
    "peace",
    "work",
]


def paragraph(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words))


def engine_with(options: dict):
    settings, problems = parse_settings({"nextword": options})
    assert problems == []
    return load_engine(TINY_BUNDLE, settings)


def cached_documents(documents: list[DocumentState]) -> list[DocumentState]:
    return [d for d in documents if any(vars(d.caches).values())]


def test_documents_opened_without_end_keep_the_caches_bounded() -> None:
    engine = engine_with({"cacheMegabytes": 1, "cachedDocuments": 3})
    rng = random.Random(0)
    documents = []
    for number in range(100):
        text = "\n\n".join(paragraph(rng, 40) for _ in range(3)) + " gover"
        document = DocumentState.open(f"file:///many/{number}.txt", text)
        documents.append(document)
        line = len(document.text) - 1
        engine.complete(document, line, len(document.text.content(line)))
        assert len(engine.recent) <= 3
        assert len(cached_documents(documents)) <= 3
        assert engine.cache.nbytes <= 1 << 20
    assert cached_documents(documents) == documents[-3:]
    assert len(engine.cache) > 0


def test_a_dropped_document_recomputes_the_same_completions() -> None:
    engine = engine_with({"cachedDocuments": 1})
    first = DocumentState.open("file:///first.txt", "The President of the United States gover")
    second = DocumentState.open("file:///second.txt", "The people of the ")
    before = engine.complete(first, 0, 40)
    steps = engine.stats.recurrent_steps
    engine.complete(second, 0, 18)
    assert first.caches.states is None or not len(first.caches.states)
    assert engine.complete(first, 0, 40) == before
    assert engine.stats.recurrent_steps > steps  # recomputed on demand, not kept


def test_the_state_cache_obeys_its_byte_caps_while_typing_anywhere() -> None:
    engine = engine_with({"cacheMegabytes": 1, "documentCacheMegabytes": 1, "cachedDocuments": 50})
    rng = random.Random(1)
    text = "\n\n".join(paragraph(rng, rng.randrange(5, 200)) for _ in range(400))
    document = DocumentState.open("file:///big.txt", text)
    for _ in range(60):
        line = rng.randrange(len(document.text))
        engine.complete(document, line, len(document.text.content(line)))
        assert engine.cache.nbytes <= 1 << 20
    assert sum(entry.nbytes for entry in document.caches.states.entries.values()) <= 1 << 20


def test_recent_documents_hold_no_closed_document_alive() -> None:
    recent = RecentDocuments(limit=2)
    forgotten: list[str] = []
    documents = [DocumentState.open(f"file:///{n}", "x") for n in range(5)]
    for document in documents:
        recent.touch(document, lambda d: forgotten.append(d.uri))
    assert forgotten == ["file:///0", "file:///1", "file:///2"]
    del documents[:]
    recent.touch(DocumentState.open("file:///new", "y"), lambda d: forgotten.append(d.uri))
    assert forgotten[3:] == []  # the dropped ones were already gone: nothing to forget


def test_reopening_a_uri_forgets_the_old_document() -> None:
    recent = RecentDocuments(limit=5)
    forgotten: list[DocumentState] = []
    old = DocumentState.open("file:///same", "a")
    recent.touch(old, forgotten.append)
    recent.touch(DocumentState.open("file:///same", "b"), forgotten.append)
    assert forgotten == [old] and len(recent) == 1


def test_the_line_token_cache_is_bounded() -> None:
    """Tokenized lines are cached by text; the cache holds a bounded number of lines, each at
    most `lookback_chars` long (longer ones are never tokenized whole)."""
    assert line_tokens.cache_info().maxsize <= 4096


def test_cached_documents_setting_is_validated() -> None:
    settings, problems = parse_settings({"nextword": {"cachedDocuments": 0}})
    assert settings.cached_documents == 4 and "cachedDocuments" in problems[0]


# -- the transport ------------------------------------------------------------------------------


def test_an_absurd_content_length_is_ignored_not_allocated() -> None:
    stream = io.BytesIO(b"Content-Length: 99999999999999\r\n\r\nContent-Length: 2\r\n\r\n{}")
    reader = ProtocolInput(stream)
    assert b"Content-Length" not in reader.readline()
    assert reader.readline() == b"\r\n"
    assert reader.readline() == b"Content-Length: 2\r\n"


def test_a_header_glued_to_garbage_is_found() -> None:
    reader = ProtocolInput(io.BytesIO(b'"x"}Content-Length: 17\r\n'))
    assert reader.readline() == b"Content-Length: 17\r\n"


def test_a_line_without_end_is_read_in_bounded_pieces() -> None:
    reader = ProtocolInput(io.BytesIO(b"x" * 5000), max_message_bytes=1000)
    assert len(reader.readline()) <= 1064
    assert MAX_MESSAGE_BYTES >= 16 << 20  # room for a 1M-word document in one message


def read_through_pipe(data: bytes, calls: list[tuple[str, int]], limit: int) -> list[bytes]:
    """Feed `data` into a pipe and read it with AsyncProtocolInput, as the server's loop does."""
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as stream:
            stream.write(data)

    async def read_all() -> list[bytes]:
        with os.fdopen(read_end, "rb") as stream:
            assert pollable(stream)
            reader = AsyncProtocolInput(stream, max_message_bytes=limit)
            return [
                await (reader.readline() if kind == "line" else reader.readexactly(size))
                for kind, size in calls
            ]

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        return asyncio.run(read_all())
    finally:
        writer.join()


def test_the_event_loop_reader_keeps_the_transport_rules() -> None:
    data = b"Content-Length: 99999999999999\r\n\r\n" + b"x" * 1500
    data += b'"x"}Content-Length: 2\r\n\r\n{}'
    calls = [("line", 0)] * 5 + [("body", 2)]
    ignored, blank, piece, header, end_of_headers, body = read_through_pipe(data, calls, 1000)
    assert b"Content-Length" not in ignored and blank == b"\r\n"
    assert len(piece) <= 1064  # a line without end is read in bounded pieces
    assert header == b"Content-Length: 2\r\n"  # found after the garbage
    assert end_of_headers == b"\r\n" and body == b"{}"


def test_the_event_loop_reader_returns_what_is_left_at_the_end() -> None:
    line, body, end = read_through_pipe(
        b"Content-Length: 9\r\n{}", [("line", 0), ("body", 9), ("line", 0)], 1000
    )
    assert (line, body, end) == (b"Content-Length: 9\r\n", b"{}", b"")


def test_a_regular_file_is_not_polled(tmp_path) -> None:
    path = tmp_path / "input"
    path.write_bytes(b"Content-Length: 2\r\n")
    with path.open("rb") as stream:
        assert not pollable(stream)
        reader = AsyncProtocolInput(stream)
        assert asyncio.run(reader.readline()) == b"Content-Length: 2\r\n"


@pytest.mark.parametrize("limit", [1, 4])
def test_recent_documents_limit_follows_the_setting(limit: int) -> None:
    engine = engine_with({"cachedDocuments": limit})
    for number in range(10):
        document = DocumentState.open(f"file:///s/{number}", "The people of the ")
        engine.complete(document, 0, 18)
    assert len(engine.recent) == limit
