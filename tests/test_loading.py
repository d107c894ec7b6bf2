"""The model loads on a thread (lsp/loading.py): `load_model` returns at once, the first use of
the engine waits for it, and a load that fails leaves the server running without a model."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest
from conftest import TINY_BUNDLE
from pygls.workspace import Workspace

from nextword.server.engine.engine import load_engine
from nextword.server.lsp import loading
from nextword.server.lsp.loading import ModelLoad
from nextword.server.lsp.server import NextwordServer
from nextword.server.model.bundle import BundleError


def fresh_server(bundle: Path | str) -> NextwordServer:
    server = NextwordServer(str(bundle))
    server.protocol._workspace = Workspace(None)  # what `initialize` sets up
    return server


def held_load(monkeypatch: pytest.MonkeyPatch, outcome: Exception | None = None) -> threading.Event:
    """Loads wait for the returned event, then load the bundle (or raise `outcome`)."""
    release = threading.Event()

    def load(path: Path | str | None, settings: object) -> object:
        assert release.wait(30)
        if outcome is not None:
            raise outcome
        return load_engine(path)

    monkeypatch.setattr(loading, "load_engine", load)
    return release


def test_load_model_returns_before_the_model_is_loaded(monkeypatch: pytest.MonkeyPatch) -> None:
    release = held_load(monkeypatch)
    server = fresh_server(TINY_BUNDLE)

    async def start_then_use() -> None:
        started = time.monotonic()
        server.load_model()
        assert time.monotonic() - started < 1.0
        assert server.loaded is None and server.loading is not None
        threading.Timer(0.2, release.set).start()
        assert server.engine is not None  # waits for the load
        assert server.status == "ready" and server.loading is None

    asyncio.run(start_then_use())


@pytest.mark.parametrize(
    ("failure", "status"),
    [(BundleError("model bundle x: vocab.tsv is missing"), "no-model"), (MemoryError(), "error")],
)
def test_a_failed_load_leaves_a_server_without_a_model(
    monkeypatch: pytest.MonkeyPatch, failure: Exception, status: str
) -> None:
    held_load(monkeypatch, failure).set()
    server = fresh_server(TINY_BUNDLE)

    async def start_then_use() -> None:
        server.load_model()
        assert server.engine is None
        assert server.status == status and server.bundle_error
        assert server.loading is None and server.engine is None  # asked again: no wait

    asyncio.run(start_then_use())
    assert any("cannot complete" in message for _, message in server.pending_messages)


def test_an_early_load_is_kept_for_its_bundle_only(monkeypatch: pytest.MonkeyPatch) -> None:
    release = held_load(monkeypatch)
    server = fresh_server(TINY_BUNDLE)
    early = ModelLoad.early(str(TINY_BUNDLE))
    server.loading = early

    async def start() -> None:
        server.load_model()
        assert server.loading is early
        server.bundle_override = str(TINY_BUNDLE.parent / "another")
        server.load_model()
        assert server.loading is not early and server.loading.path == server.bundle_override

    asyncio.run(start())
    release.set()
