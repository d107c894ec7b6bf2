"""`nextword/status`: the server tells the client whether it can complete (the VS Code status
bar follows it)."""

from __future__ import annotations

import time
from pathlib import Path

from conftest import TINY_BUNDLE

from nextword.server.lsp.client import StdioClient, serve_command


def statuses(bundle: str, tmp_path: Path) -> list[dict]:
    client = StdioClient(serve_command(bundle))
    try:
        client.initialize()
        client.call("nextword/ping", {})  # answered after the status was sent
        deadline = time.monotonic() + 5
        found: list[dict] = []
        while not found and time.monotonic() < deadline:
            found = [
                message["params"]
                for message in client.drain_notifications()
                if message["method"] == "nextword/status"
            ]
            time.sleep(0.05)
        return found
    finally:
        client.shutdown()


def test_a_server_with_a_model_says_ready(tmp_path: Path) -> None:
    (status,) = statuses(str(TINY_BUNDLE), tmp_path)
    assert status["state"] == "ready"
    assert str(TINY_BUNDLE.name) in status["message"]


def test_a_server_without_a_model_says_so(tmp_path: Path) -> None:
    (status,) = statuses(str(tmp_path / "no-such-bundle"), tmp_path)
    assert status["state"] == "no-model"
    assert "no-such-bundle" in status["message"]
