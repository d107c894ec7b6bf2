"""The settings are documented and defaulted in one place: docs/settings.md is generated from
server/settings.py, and both editor clients default to the server's values."""

from __future__ import annotations

import json
import re
from pathlib import Path

from nextword.server.commands.settings_doc import settings_markdown
from nextword.server.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
NEOVIM_FILETYPES = {
    "text": "plaintext",
    "markdown": "markdown",
    "tex": "latex",
    "plaintex": "latex",
    "rst": "restructuredtext",
    "gitcommit": "git-commit",
    "asciidoc": "asciidoc",
}
"""Neovim's filetype for each of the server's default LSP language ids."""


def test_the_settings_page_is_current() -> None:
    page = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    assert page == settings_markdown(), "run: nextword settings > docs/settings.md"


def test_the_settings_page_names_every_setting() -> None:
    page = settings_markdown()
    for name in ("maxItems", "ranking.candidates", "memory.weight", "inline.maxWords"):
        assert f"`{name}`" in page
    assert "| `memory.weight` | number | `0.3` | 0 to 0.999 |" in page


def vscode_defaults() -> dict[str, object]:
    package = json.loads((ROOT / "editor-clients/vscode/package.json").read_text(encoding="utf-8"))
    properties = package["contributes"]["configuration"]["properties"]
    return {name: spec.get("default") for name, spec in properties.items()}


def test_the_vscode_client_defaults_to_the_servers_values() -> None:
    server, client = Settings(), vscode_defaults()
    assert client["nextword.bundle"] == server.bundle
    assert client["nextword.maxItems"] == server.max_items
    assert client["nextword.languages"] == server.languages
    assert client["nextword.inlineSuggestions"] == server.inline_suggestions
    source = (ROOT / "editor-clients/vscode/src/settings.ts").read_text(encoding="utf-8")
    assert f'config.get<number>("maxItems", {server.max_items})' in source
    assert (
        f'config.get<boolean>("inlineSuggestions", {str(server.inline_suggestions).lower()})'
        in (source)
    )


def neovim_defaults() -> str:
    source = (ROOT / "editor-clients/neovim/lua/nextword/init.lua").read_text(encoding="utf-8")
    start = source.index("M.defaults = {")
    return source[start : source.index("\n}\n", start)]


def lua_value(block: str, name: str) -> str:
    match = re.search(rf"\b{name} = ([^,\n]+)", block)
    assert match is not None, name
    return match.group(1).strip()


def test_the_neovim_client_defaults_to_the_servers_values() -> None:
    server, block = Settings(), neovim_defaults()
    assert lua_value(block, "max_items") == str(server.max_items)
    assert lua_value(block, "bundle") == repr(server.bundle)
    assert lua_value(block, "inline") == str(server.inline_suggestions).lower()
    listed = re.search(r"filetypes = \{([^}]*)\}", block)
    assert listed is not None
    filetypes = re.findall(r"'([\w-]+)'", listed.group(1))
    assert sorted({NEOVIM_FILETYPES[name] for name in filetypes}) == sorted(server.languages)
