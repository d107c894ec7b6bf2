"""Opt-in persistence of the memory (persist.py): atomic, private, forgettable."""

from __future__ import annotations

import dataclasses
import os
import shutil
import stat
import tempfile
from pathlib import Path

import numpy as np
import pytest
import pytest_lsp
from conftest import SERVER_COMMAND, TINY_BUNDLE
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

from nextword.server import cli
from nextword.server.engine import stored
from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.memory import persist
from nextword.server.memory.blocks import make_block
from nextword.server.settings import Settings

NAME = "Zorblat Quenwick"
STORY = f"{NAME} came. Then {NAME} left. We met {NAME} again.\nToday "
WORKSPACE = "file:///home/someone/project"
SERVER_DATA_HOME = Path(tempfile.mkdtemp(prefix="nextword-test-xdg-"))
"""XDG_DATA_HOME of the server the end-to-end test starts (its environment is fixed early)."""


@pytest.fixture(autouse=True)
def data_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    return tmp_path / "data" / "nextword"


def engine_with(**memory) -> Engine:
    settings = Settings()
    settings.memory = dataclasses.replace(settings.memory, **memory)
    return load_engine(TINY_BUNDLE, settings)


def learn_story(engine: Engine) -> DocumentState:
    document = DocumentState.open("file:///home/someone/project/story.txt", STORY)
    engine.complete(document, 1, 6)
    return document


def completes_name(engine: Engine) -> bool:
    document = DocumentState.open("file:///home/someone/project/new.txt", "Here Zo")
    return "Zorblat" in [completion.text for completion in engine.complete(document, 0, 7)]


def test_the_data_dir_follows_xdg(data_home: Path) -> None:
    assert persist.data_dir() == data_home
    assert persist.workspace_file(WORKSPACE).parent == data_home / "workspaces"


def test_blocks_are_written_atomically_and_privately(data_home: Path) -> None:
    block = make_block(np.eye(3, dtype=np.float32), ["b", "a", "b"], ["B", "a", "b"])
    path = persist.workspace_file(WORKSPACE)
    persist.save_block(path, block)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left
    loaded = persist.load_block(path)
    assert loaded is not None and loaded.words == ["a", "b"] and len(loaded) == 3


def test_nothing_is_written_outside_the_data_dir(tmp_path: Path) -> None:
    block = make_block(np.eye(2, dtype=np.float32), ["a", "b"], ["a", "b"])
    with pytest.raises(ValueError):
        persist.save_block(tmp_path / "elsewhere.npz", block)
    assert not (tmp_path / "elsewhere.npz").exists()


def test_persistence_is_off_by_default(data_home: Path) -> None:
    engine = engine_with()
    stored.attach(engine, WORKSPACE)
    assert not stored.store_learned(engine, learn_story(engine))
    assert not data_home.exists()


def test_learned_words_survive_a_restart_and_forgetting_removes_them(data_home: Path) -> None:
    engine = engine_with(persist=True)
    stored.attach(engine, WORKSPACE)
    assert stored.store_learned(engine, learn_story(engine))
    path = persist.workspace_file(WORKSPACE)
    assert path.is_file() and stat.S_IMODE(path.stat().st_mode) == 0o600

    restarted = engine_with(persist=True)
    stored.attach(restarted, WORKSPACE)
    assert completes_name(restarted)
    assert not completes_name(engine_with())  # without persistence nothing carries over

    assert stored.forget_stored(restarted, WORKSPACE, everything=False) == 1
    assert not path.exists()
    assert not completes_name(restarted)
    again = engine_with(persist=True)
    stored.attach(again, WORKSPACE)
    assert not completes_name(again)


def test_the_cli_forgets_every_workspace(data_home: Path, capsys) -> None:
    engine = engine_with(persist=True)
    for workspace in (WORKSPACE, "file:///other"):
        stored.attach(engine, workspace)
        stored.store_learned(engine, learn_story(engine))
    assert len(list((data_home / "workspaces").iterdir())) == 2
    assert cli.main(["forget", "--all"]) == 0
    assert list((data_home / "workspaces").iterdir()) == []
    assert "removed 2" in capsys.readouterr().out


@pytest_lsp.fixture(
    config=ClientServerConfig(
        server_command=[*SERVER_COMMAND, "--bundle", str(TINY_BUNDLE)],
        server_env={**os.environ, "XDG_DATA_HOME": str(SERVER_DATA_HOME)},
    )
)
async def server(lsp_client: LanguageClient):
    yield lsp_client


async def test_the_forget_command_through_the_server(server: LanguageClient, tmp_path: Path):
    """Closing a document stores what was learned; `nextword.forget` deletes it."""
    data = SERVER_DATA_HOME / "nextword"
    workspace = tmp_path.as_uri()
    await server.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            initialization_options={"nextword": {"memory": {"persist": True}}},
            root_uri=workspace,
        )
    )
    try:
        uri = f"{workspace}/story.txt"
        server.text_document_did_open(
            types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "plaintext", 1, STORY))
        )
        await server.text_document_completion_async(
            types.CompletionParams(types.TextDocumentIdentifier(uri), types.Position(1, 6))
        )
        server.text_document_did_close(
            types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri))
        )
        stored = persist.workspace_file(workspace, data)
        await server.protocol.send_request_async("nextword/ping", {})  # didClose handled
        assert stored.is_file() and stat.S_IMODE(stored.stat().st_mode) == 0o600
        result = await server.workspace_execute_command_async(
            types.ExecuteCommandParams(command="nextword.forget")
        )
        assert result == {"removed": 1}
        assert not stored.exists()
    finally:
        await server.shutdown_session()
        shutil.rmtree(SERVER_DATA_HOME, ignore_errors=True)
