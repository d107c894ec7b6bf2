"""Learning through `nextword serve`: typed sentences survive a restart, `nextword learn` is
picked up without one, and with learning off nothing is written."""

from __future__ import annotations

import os
from pathlib import Path

from conftest import SERVER_COMMAND, TINY_BUNDLE
from test_personal import CONTEXT, WRITING

from nextword.server import cli
from nextword.server.commands.sessions import completion_words
from nextword.server.lsp.client import StdioClient


def serve(home: Path, options: dict | None = None) -> StdioClient:
    client = StdioClient(
        [*SERVER_COMMAND, "--bundle", str(TINY_BUNDLE)],
        env={**os.environ, "XDG_DATA_HOME": str(home)},
    )
    client.initialize({"nextword": options or {}})
    return client


def type_and_close(client: StdioClient, uri: str, text: str) -> None:
    document = {"uri": uri, "languageId": "plaintext", "version": 1, "text": ""}
    client.notify("textDocument/didOpen", {"textDocument": document})
    start = {"line": 0, "character": 0}
    client.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": 2},
            "contentChanges": [{"range": {"start": start, "end": start}, "text": text}],
        },
    )
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    client.call("nextword/ping", {})


def offered(client: StdioClient, uri: str, text: str) -> list[str]:
    document = {"uri": uri, "languageId": "plaintext", "version": 1, "text": text}
    client.notify("textDocument/didOpen", {"textDocument": document})
    result = client.call(
        "textDocument/completion",
        {"textDocument": {"uri": uri}, "position": {"line": 0, "character": len(text)}},
    )
    client.notify("textDocument/didClose", {"textDocument": {"uri": uri}})
    return completion_words(result)


def test_typed_sentences_survive_a_restart(tmp_path: Path) -> None:
    client = serve(tmp_path)
    try:
        assert "quantum" not in offered(client, "file:///x/before.txt", CONTEXT)
        type_and_close(client, "file:///x/a.txt", WRITING)
    finally:
        client.shutdown()
    assert list((tmp_path / "nextword" / "learned").rglob("*.npz"))
    restarted = serve(tmp_path)
    try:
        assert offered(restarted, "file:///x/b.txt", CONTEXT)[0] == "quantum"
    finally:
        restarted.shutdown()


def test_learned_files_are_picked_up_without_a_restart(tmp_path: Path, monkeypatch) -> None:
    client = serve(tmp_path, {"learning": {"typing": False}})
    try:
        assert "quantum" not in offered(client, "file:///x/before.txt", CONTEXT)
        source = tmp_path / "notes.txt"
        source.write_text(WRITING, encoding="utf-8")
        monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
        assert cli.main(["learn", "--quiet", "--bundle", str(TINY_BUNDLE), str(source)]) == 0
        assert offered(client, "file:///x/after.txt", CONTEXT)[0] == "quantum"
        assert cli.main(["forget", "--all"]) == 0
        assert "quantum" not in offered(client, "file:///x/forgotten.txt", CONTEXT)
    finally:
        client.shutdown()


def test_with_learning_off_the_server_writes_nothing(tmp_path: Path) -> None:
    for options in ({"learning": {"typing": False}}, {"learning": {"enabled": False}}):
        client = serve(tmp_path, options)
        try:
            type_and_close(client, "file:///x/a.txt", WRITING)
        finally:
            client.shutdown()
        assert not (tmp_path / "nextword").exists()
