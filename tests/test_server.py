"""End to end: a real client talks to `nextword serve` over stdio (pytest-lsp)."""

from __future__ import annotations

import asyncio

import pytest
import pytest_lsp
from conftest import SERVER_COMMAND, TINY_BUNDLE, Editor, default_bundle_present, units
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient, client_capabilities

CLIENTS = {"vscode": "visual-studio-code", "neovim": "neovim@v0.11.0"}


async def start_session(client: LanguageClient, profile: str, options=None) -> None:
    result = await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities(profile), initialization_options=options
        )
    )
    client.position_encoding = result.capabilities.position_encoding  # type: ignore[attr-defined]
    client.server_capabilities = result.capabilities  # type: ignore[attr-defined]


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[*SERVER_COMMAND, "--bundle", str(TINY_BUNDLE)]),
    params=list(CLIENTS),
)
async def client(lsp_client: LanguageClient, request):
    await start_session(lsp_client, CLIENTS[request.param])
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[*SERVER_COMMAND, "--bundle", "/no/such/bundle"])
)
async def broken(lsp_client: LanguageClient):
    await start_session(lsp_client, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def default(lsp_client: LanguageClient):
    await start_session(lsp_client, "visual-studio-code")
    yield
    await lsp_client.shutdown_session()


def labels(result) -> list[str]:
    return [item.label for item in result.items]


async def test_capabilities(client: LanguageClient) -> None:
    capabilities = client.server_capabilities  # type: ignore[attr-defined]
    assert list(capabilities.completion_provider.trigger_characters) == [" "]
    sync = capabilities.text_document_sync
    assert sync.change == types.TextDocumentSyncKind.Incremental


async def test_type_character_by_character_and_complete(client: LanguageClient) -> None:
    editor = Editor(client, "file:///typing.txt")
    seen = []
    for char in "The President of the United States. Ladies and gover":
        editor.type(char)
        seen.append(await editor.complete())
    final = seen[-1]
    assert final.is_incomplete is True
    assert sorted(labels(final)) == ["govern", "government", "governor"]
    after_space = seen[len("The President of the ") - 1]
    assert after_space.items, "a space triggers the next word"
    start = len(editor.text) - len("gover")
    for rank, item in enumerate(final.items):
        assert item.kind == types.CompletionItemKind.Text
        assert item.sort_text == f"{rank:04d}"
        assert item.filter_text.startswith("gover")
        assert item.text_edit.new_text == item.label
        assert item.text_edit.range == types.Range(
            editor.position(start), editor.position(len(editor.text))
        )


async def test_prefix_filtering_keeps_case(client: LanguageClient) -> None:
    editor = Editor(client, "file:///case.txt", "we flew to LON")
    assert labels(await editor.complete()) == ["LONDON"]
    editor.replace(11, 14, "Gov")
    found = labels(await editor.complete())
    assert found and all(label.startswith("Gov") for label in found)


@pytest.mark.parametrize("before", ["😀 é ", "👍🏽 naïve 😀😀 "])
async def test_text_edit_ranges_count_client_units(client: LanguageClient, before: str) -> None:
    encoding = client.position_encoding  # type: ignore[attr-defined]
    assert encoding == ("utf-8" if client.capabilities.general.position_encodings else "utf-16")
    editor = Editor(client, "file:///emoji.txt", f"first line\n{before}and gover")
    result = await editor.complete()
    assert sorted(labels(result)) == ["govern", "government", "governor"]
    line_start = units(before + "and ", encoding)
    for item in result.items:
        assert item.text_edit.range.start == types.Position(1, line_start)
        assert item.text_edit.range.end == types.Position(1, line_start + 5)
    # An edit given in client units lands where the client meant it.
    editor.replace(len("first line\n") + len(before), len("first line\n") + len(before), "X")
    result = await editor.complete()
    assert result.items[0].text_edit.range.start == types.Position(1, line_start + 1)


async def test_markdown_code_gives_nothing(client: LanguageClient) -> None:
    text = "Some prose and gover\n\n```python\nthe gover\n```\n\nand `the gover` and the gover"
    editor = Editor(client, "file:///notes.md", text, language="markdown")
    first = text.index("gover") + 5
    assert labels(await editor.complete(first))
    assert labels(await editor.complete(text.index("the gover") + 9)) == []
    assert labels(await editor.complete(text.index("`the gover") + 10)) == []
    assert labels(await editor.complete(len(text)))


async def test_no_completion_in_urls_numbers_or_mid_word(client: LanguageClient) -> None:
    editor = Editor(client, "file:///misc.txt", "see https://gover and 1990gover the government")
    assert labels(await editor.complete(len("see https://gover"))) == []
    assert labels(await editor.complete(len("see https://gover and 1990gover"))) == []
    assert labels(await editor.complete(len(editor.text) - 3)) == []


async def test_unserved_language_gets_nothing(client: LanguageClient) -> None:
    editor = Editor(client, "file:///code.py", "the gover", language="python")
    assert await editor.complete() == []


async def test_settings_change_applies(client: LanguageClient) -> None:
    editor = Editor(client, "file:///settings.txt", "The people of the ")
    assert len(labels(await editor.complete())) == 6
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"nextword": {"maxItems": 2}})
    )
    assert len(labels(await editor.complete())) == 2
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(
            settings={"nextword": {"languages": ["markdown"], "maxItems": -3}}
        )
    )
    assert await editor.complete() == []
    await wait_for(lambda: client.messages)
    assert len(client.messages) == 1
    assert client.messages[0].type == types.MessageType.Warning
    assert "maxItems" in client.messages[0].message


@pytest_lsp.fixture(
    config=ClientServerConfig(server_command=[*SERVER_COMMAND, "--bundle", str(TINY_BUNDLE)])
)
async def configured(lsp_client: LanguageClient):
    options = {"nextword": {"maxItems": 3, "languages": ["plaintext"], "cache": "yes"}}
    await start_session(lsp_client, "neovim@v0.11.0", options)
    yield
    await lsp_client.shutdown_session()


async def test_init_options(configured: LanguageClient) -> None:
    editor = Editor(configured, "file:///init.txt", "The people of the ")
    assert len(labels(await editor.complete())) == 3
    await wait_for(lambda: configured.messages)
    assert ["cache" in message.message for message in configured.messages] == [True]


async def test_missing_bundle_server_answers_empty(broken: LanguageClient) -> None:
    editor = Editor(broken, "file:///x.txt", "the gover")
    for _ in range(3):
        assert await editor.complete() == []
    editor.type("nment ")
    assert await editor.complete() == []
    await wait_for(lambda: broken.messages)
    await asyncio.sleep(0.2)
    assert len(broken.messages) == 1
    message = broken.messages[0]
    assert message.type == types.MessageType.Error
    assert "/no/such/bundle" in message.message and "does not exist" in message.message


@pytest.mark.skipif(not default_bundle_present(), reason="no default bundle in server/")
async def test_default_bundle_completes(default: LanguageClient) -> None:
    editor = Editor(default, "file:///default.txt", "The government and the gover")
    found = labels(await editor.complete())
    assert found and all(label.lower().startswith("gover") for label in found)
    editor.type("nment of the United ")
    assert labels(await editor.complete())


async def recurrent_steps(client: LanguageClient) -> int:
    return (await client.protocol.send_request_async("nextword/stats", None)).recurrentSteps


@pytest.mark.parametrize("prepare", [True, False])
async def test_a_pause_in_a_word_prepares_the_space(client: LanguageClient, prepare: bool) -> None:
    """Paused after "gover", the server runs the step over it before the space comes; with
    prepareNextWord off, the space pays for it."""
    client.workspace_did_change_configuration(
        types.DidChangeConfigurationParams({"nextword": {"prepareNextWord": prepare}})
    )
    editor = Editor(client, "file:///pause.txt", "The President of the gover")
    await editor.complete()
    await asyncio.sleep(0.3)  # a pause: 30x the server's idle delay
    paused = await recurrent_steps(client)
    editor.type(" ")
    assert (await editor.complete()).items
    assert await recurrent_steps(client) == paused + (0 if prepare else 1)


async def wait_for(condition, timeout: float = 5.0) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out waiting for the server")


@pytest_lsp.fixture(config=ClientServerConfig(server_command=SERVER_COMMAND))
async def misconfigured(lsp_client: LanguageClient):
    await start_session(lsp_client, "visual-studio-code", {"nextword": {"bundle": "/no/such"}})
    yield
    await lsp_client.shutdown_session()


async def test_bundle_setting_change_reloads_the_model(misconfigured: LanguageClient) -> None:
    editor = Editor(misconfigured, "file:///reload.txt", "the gover")
    assert await editor.complete() == []
    misconfigured.workspace_did_change_configuration(
        types.DidChangeConfigurationParams(settings={"nextword": {"bundle": str(TINY_BUNDLE)}})
    )
    assert sorted(labels(await editor.complete())) == ["govern", "government", "governor"]
    assert [message.type for message in misconfigured.messages] == [types.MessageType.Error]
