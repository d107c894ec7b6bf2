"""Ghost text and the memory end to end: a real client and `nextword serve` (pytest-lsp)."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from conftest import SERVER_COMMAND, TINY_BUNDLE, TINY_SOFTMAX_BUNDLE, units
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities
from test_inline import ANY, engine_with

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import load_engine
from nextword.server.engine.inline import suggest_inline
from nextword.server.lsp.client import StdioClient, encode, frame
from nextword.server.lsp.inline import ghost_text

CLIENTS = {"vscode": "visual-studio-code", "neovim": "neovim@v0.11.0"}
NAME = "Zorblat Quenwick"
STORY = f"{NAME} came. Then {NAME} left. We met {NAME} again.\n"
SERVER = [*SERVER_COMMAND, "--bundle", str(TINY_BUNDLE)]


async def start(client: LanguageClient, profile: str, options=None, root_uri=None) -> None:
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(profile),
            initialization_options=options,
            root_uri=root_uri,
        )
    )
    client.position_encoding = str(result.capabilities.position_encoding or "utf-16")  # type: ignore[attr-defined]
    client.server_capabilities = result.capabilities  # type: ignore[attr-defined]


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER), params=list(CLIENTS))
async def client(lsp_client: LanguageClient, request):
    await start(lsp_client, CLIENTS[request.param])
    yield
    await lsp_client.shutdown_session()


def open_document(client: LanguageClient, uri: str, text: str) -> None:
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(types.TextDocumentItem(uri, "plaintext", 1, text))
    )


async def inline_at_end(client: LanguageClient, uri: str, text: str):
    lines = text.split("\n")
    encoding = client.position_encoding  # type: ignore[attr-defined]
    position = types.Position(len(lines) - 1, units(lines[-1], encoding))
    return await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Automatic
            ),
            text_document=types.TextDocumentIdentifier(uri),
            position=position,
        )
    )


def expected_suggestion(text: str):
    document = DocumentState.open("mem://expected", text)
    last = len(document.text) - 1
    return suggest_inline(
        load_engine(TINY_BUNDLE), document, last, len(document.text.content(last))
    )


async def test_the_server_offers_inline_completion(client: LanguageClient) -> None:
    assert client.server_capabilities.inline_completion_provider  # type: ignore[attr-defined]


@pytest.mark.parametrize("line_start", ["Today ", "Heute \U0001f600 café, "])
async def test_ghost_text_completes_a_made_up_name(client: LanguageClient, line_start) -> None:
    text = STORY + line_start + "Zorb"
    open_document(client, "file:///story.txt", text)
    result = await inline_at_end(client, "file:///story.txt", text)
    expected = expected_suggestion(text)
    assert expected is not None and expected.text.startswith("Zorblat")
    assert result is not None and len(result.items) == 1
    item = result.items[0]
    assert item.insert_text == expected.text
    encoding = client.position_encoding  # type: ignore[attr-defined]
    start = units(line_start, encoding)
    assert item.range == types.Range(
        types.Position(1, start), types.Position(1, start + len("Zorb"))
    )


async def test_no_ghost_text_inside_a_word(client: LanguageClient) -> None:
    text = STORY + "Today Zorblat and more"
    open_document(client, "file:///inside.txt", text)
    result = await client.text_document_inline_completion_async(
        types.InlineCompletionParams(
            context=types.InlineCompletionContext(
                trigger_kind=types.InlineCompletionTriggerKind.Invoked
            ),
            text_document=types.TextDocumentIdentifier("file:///inside.txt"),
            position=types.Position(1, 9),
        )
    )
    assert result is None or not result.items


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER))
async def switched_off(lsp_client: LanguageClient):
    await start(lsp_client, "visual-studio-code", {"nextword": {"inlineSuggestions": False}})
    yield
    await lsp_client.shutdown_session()


async def test_no_ghost_text_when_switched_off(switched_off: LanguageClient) -> None:
    text = STORY + "Today Zorb"
    open_document(switched_off, "file:///off.txt", text)
    result = await inline_at_end(switched_off, "file:///off.txt", text)
    assert result is None or not result.items


def test_the_list_asked_with_the_ghost_text_is_answered_first() -> None:
    """VS Code asks for ghost text and the list together: the list does not wait behind the
    rollout (both requests in one write, the inline one first)."""
    client = StdioClient(SERVER)
    try:
        client.initialize()
        text = STORY + "Today Zorb"
        document = {"uri": "file:///both.txt", "languageId": "plaintext", "version": 1}
        client.notify("textDocument/didOpen", {"textDocument": {**document, "text": text}})
        at_end = {
            "textDocument": {"uri": "file:///both.txt"},
            "position": {"line": 1, "character": len("Today Zorb")},
        }
        inline = {"jsonrpc": "2.0", "id": 100, "method": "textDocument/inlineCompletion"}
        inline["params"] = {**at_end, "context": {"triggerKind": 2}}
        listed = {"jsonrpc": "2.0", "id": 101, "method": "textDocument/completion"}
        listed["params"] = at_end
        client.write(frame(encode(inline)) + frame(encode(listed)))
        assert client.wait([100, 101]) == []
        assert list(client.responses)[-2:] == [101, 100]  # in the order they arrived
        assert client.responses[100]["result"]["items"][0]["insertText"].startswith("Zorblat")
    finally:
        client.shutdown()


def test_an_edit_between_two_words_ends_the_rollout() -> None:
    engine = engine_with(TINY_SOFTMAX_BUNDLE, **ANY, max_words=6, budget_ms=1e3)
    text = "The people of the "
    column = len(text)
    alone = asyncio.run(ghost_text(engine, DocumentState.open("mem://a", text), 0, column, ok))
    assert alone is not None and len(alone.words) == 6
    document = DocumentState.open("mem://edited", text)
    rollout = ghost_text(engine, document, 0, column, ok)
    rollout.send(None)  # the first word, then the event loop's turn
    document.edit((0, column), (0, column), "Z")
    document.version += 1
    with pytest.raises(StopIteration) as ended:
        rollout.send(None)
    assert ended.value.value is None
    gone = ghost_text(engine, DocumentState.open("mem://closed", text), 0, column, lambda: False)
    gone.send(None)
    with pytest.raises(StopIteration) as ended:
        gone.send(None)
    assert ended.value.value is None


def ok() -> bool:
    return True
