"""The central invariant through the real server over stdio: incremental equals fresh.

Random edit sequences (multi-byte and astral characters, line and paragraph breaks) go to the
server as incremental didChange notifications in the client's position units, with completions
asked along the way; then the completions at every position of the edited document must equal
those of a document opened with the final text, and those of a fresh in-process engine.
"""

from __future__ import annotations

import asyncio
import itertools
import sys

import pytest
from conftest import SERVER_COMMAND, TINY_BUNDLE, Editor
from hypothesis import HealthCheck, given, settings
from lsprotocol import types
from pytest_lsp import client_capabilities, make_test_lsp_client
from test_incremental import all_positions, edits, offset_of, position_of, texts

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import load_engine

PROFILES = ["visual-studio-code", "neovim@v0.11.0"]
_counter = itertools.count()


@pytest.fixture(scope="module", params=PROFILES)
def session(request):
    """A running server and an event loop of our own (hypothesis drives a sync test)."""
    loop = asyncio.new_event_loop()
    client = make_test_lsp_client()

    async def start():
        await client.start_io(*SERVER_COMMAND, "--bundle", str(TINY_BUNDLE))
        # Learning from typing makes completions depend on what was typed before, by design:
        # off here, where a fresh engine is the reference.
        result = await client.initialize_session(
            types.InitializeParams(
                capabilities=client_capabilities(request.param),
                initialization_options={"nextword": {"learning": {"typing": False}}},
            )
        )
        client.position_encoding = result.capabilities.position_encoding

    loop.run_until_complete(start())
    yield loop, client
    loop.run_until_complete(client.shutdown_session())
    loop.run_until_complete(client.stop())
    loop.close()


def summary(result, text: str, line: int) -> list[tuple]:
    return [
        (item.label, item.sort_text, item.filter_text, item.text_edit.range.start.character)
        for item in (result.items if result else [])
    ]


async def check(client, initial: str, edit_list) -> None:
    number = next(_counter)
    editor = Editor(client, f"file:///incremental-{number}.txt", initial)
    await editor.complete()
    for where, length, new_text, ask_at in edit_list:
        text = editor.text
        first = offset_of(text, position_of(text, int(where * len(text))))
        last = offset_of(text, position_of(text, min(len(text), first + length)))
        editor.replace(first, last, new_text)
        text = editor.text
        await editor.complete(offset_of(text, position_of(text, first + len(new_text))))
        await editor.complete(offset_of(text, position_of(text, int(ask_at * len(text)))))
    fresh = Editor(client, f"file:///fresh-{number}.txt", editor.text)
    engine = load_engine(TINY_BUNDLE)
    local = DocumentState.open("mem://local", editor.text)
    for line, column in all_positions(editor.text)[:40]:
        offset = offset_of(editor.text, (line, column))
        incremental = await editor.complete(offset)
        opened = await fresh.complete(offset)
        assert summary(incremental, editor.text, line) == summary(opened, editor.text, line)
        expected = [completion.text for completion in engine.complete(local, line, column)]
        assert [label for label, *_ in summary(incremental, editor.text, line)] == expected


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(initial=texts, edit_list=edits)
def test_server_incremental_equals_fresh(session, initial: str, edit_list) -> None:
    loop, client = session
    loop.run_until_complete(asyncio.wait_for(check(client, initial, edit_list), 60))
    assert client.error is None, sys.exc_info()
