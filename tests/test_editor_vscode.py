"""The VS Code extension: lint, package, and an end-to-end run in the real VS Code.

The e2e test installs the freshly built .vsix into code-server (VS Code in the browser), drives
it in headless Chromium with playwright-core (tests/editors/vscode_e2e.mjs), and checks that the
suggest widget lists exactly the server's words, that Enter accepts one and Ctrl+S saves it.
Screenshots go to artifacts/vscode-*.png. Set NEXTWORD_SKIP_EDITOR_TESTS=1 to skip (CI never
does); NEXTWORD_EDITOR_TEST_BUNDLE=DIR runs with another model bundle.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from editors.tooling import (
    ARTIFACTS,
    EDITORS_TESTS,
    VSCODE_EXTENSION,
    chromium,
    code_server,
    editor_env,
    nextword_bin_dir,
    node24,
    run,
    skip_unless_wanted,
)

if TYPE_CHECKING:
    from nextword.server.engine.inline import InlineSuggestion

pytestmark = [pytest.mark.editor, skip_unless_wanted]

MARKDOWN = "# Notes\n\nA few lines of prose to start with. The test adds a sentence below.\n"
SENTENCE = "The weather today is "
CODE_SERVER_START_S = 120


def npm_bin(name: str) -> Path:
    path = VSCODE_EXTENSION / "node_modules" / ".bin" / name
    if not path.exists():
        pytest.fail(f"{path} missing: run `bash scripts/install-editors.sh` (npm ci)")
    return path


def test_extension_lint() -> None:
    """Strict TypeScript type check and eslint."""
    result = run(["npm", "run", "--silent", "lint"], 300, cwd=VSCODE_EXTENSION)
    assert result.returncode == 0, result.output


@pytest.fixture(scope="module")
def vsix(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The extension compiled and packaged from the working tree, as the build does."""
    out = tmp_path_factory.mktemp("vsix") / "nextword.vsix"
    result = run(
        [npm_bin("vsce"), "package", "--allow-missing-repository", "--out", out],
        300,
        cwd=VSCODE_EXTENSION,
    )
    assert result.returncode == 0 and out.is_file(), result.output
    return out


def test_vsix_contents(vsix: Path) -> None:
    import zipfile

    names = set(zipfile.ZipFile(vsix).namelist())
    assert "extension/out/extension.js" in names
    assert "extension/node_modules/vscode-languageclient/package.json" in names
    assert not any(name.startswith("extension/src/") for name in names), "sources packaged"
    manifest = json.loads(zipfile.ZipFile(vsix).read("extension/package.json"))
    assert "onLanguage:markdown" in manifest["activationEvents"]
    assert "nextword.maxItems" in manifest["contributes"]["configuration"]["properties"]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def code_server_env(home: Path) -> dict[str, str]:
    """node 24 first on PATH (code-server's native modules were built for it), private dirs."""
    env = editor_env(XDG_CONFIG_HOME=str(home / "config"), XDG_DATA_HOME=str(home / "data"))
    env["PATH"] = f"{node24().parent}{os.pathsep}{env['PATH']}"
    return env


def user_settings() -> dict[str, object]:
    """Quiet VS Code; nextword's own defaults (quick suggestions in Markdown) stay untouched.

    The server is this Python's `nextword` by absolute path: the extension host does not see
    the PATH the test gives code-server, so a `nextword` found only in a venv would be missed."""
    settings: dict[str, object] = {
        "nextword.server.command": str(nextword_bin_dir() / "nextword"),
        "workbench.startupEditor": "none",
        "workbench.tips.enabled": False,
        "workbench.enableExperiments": False,
        "security.workspace.trust.enabled": False,
        "telemetry.telemetryLevel": "off",
        "extensions.ignoreRecommendations": True,
        "update.mode": "none",
        "chat.disableAIFeatures": True,
        "files.autoSave": "off",
        "workbench.secondarySideBar.defaultVisibility": "hidden",
    }
    bundle = os.environ.get("NEXTWORD_EDITOR_TEST_BUNDLE")
    if bundle:
        settings["nextword.bundle"] = str(Path(bundle).resolve())
    return settings


def test_user_settings_name_the_server_by_absolute_path() -> None:
    """The extension host's PATH is not the test's: only an absolute path reaches the venv."""
    command = Path(str(user_settings()["nextword.server.command"]))
    assert command.is_absolute() and os.access(command, os.X_OK), command
    assert command.parent == nextword_bin_dir()


@pytest.fixture
def code_server_url(tmp_path: Path, vsix: Path) -> Iterator[tuple[str, Path]]:
    """A code-server with the .vsix installed; yields its URL and the workspace folder."""
    home, workspace = tmp_path / "home", tmp_path / "workspace"
    user_data, extensions = home / "user-data", home / "extensions"
    (user_data / "User").mkdir(parents=True)
    (workspace / ".vscode").mkdir(parents=True)
    # A repository trying to choose the program the extension runs: ignored, or the server
    # would not start (`false` exits at once; an unknown option makes `nextword serve` exit 2).
    hostile = {"nextword.server.command": "false", "nextword.server.extraArgs": ["--no-such"]}
    (workspace / ".vscode" / "settings.json").write_text(json.dumps(hostile))
    settings_file = user_data / "User" / "settings.json"
    settings_file.write_text(json.dumps(user_settings(), indent=2))
    # code-server is a remote window: machine-scoped settings are read from the Remote file.
    (user_data / "Machine").mkdir()
    machine = {"nextword.server.command": user_settings()["nextword.server.command"]}
    (user_data / "Machine" / "settings.json").write_text(json.dumps(machine, indent=2))
    env = code_server_env(home)
    base = [node24(), code_server(), "--user-data-dir", user_data, "--extensions-dir", extensions]
    installed = run([*base, "--install-extension", vsix], 300, env=env)
    assert installed.returncode == 0 and "nextword" in installed.output, installed.output
    assert list(extensions.glob("nextword.nextword-*")), installed.output

    port = free_port()
    log = (tmp_path / "code-server.log").open("w")
    server = subprocess.Popen(
        [
            str(part)
            for part in [
                *base,
                "--auth",
                "none",
                "--bind-addr",
                f"127.0.0.1:{port}",
                "--disable-telemetry",
                "--disable-update-check",
                "--disable-workspace-trust",
                "--disable-getting-started-override",
                workspace,
            ]
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for_http(f"{url}/healthz", server, tmp_path / "code-server.log")
        yield url, workspace
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
        log.close()
        print((tmp_path / "code-server.log").read_text()[-4000:])
        for extension_log in user_data.glob("logs/*/exthost*/nextword.nextword/*.log"):
            print(f"--- {extension_log}\n{extension_log.read_text()[-8000:]}")


def wait_for_http(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + CODE_SERVER_START_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"code-server exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"code-server did not answer {url} in {CODE_SERVER_START_S} s:\n{log.read_text()}")


def server_words(text: str) -> list[str]:
    """What the server offers at the end of `text`, straight from its engine."""
    from nextword.server.engine.documents import DocumentState
    from nextword.server.engine.engine import load_engine

    engine = load_engine(os.environ.get("NEXTWORD_EDITOR_TEST_BUNDLE") or None)
    document = DocumentState.open("file:///notes.md", text, "markdown", 1)
    lines = text.split("\n")
    return [
        completion.text for completion in engine.complete(document, len(lines) - 1, len(lines[-1]))
    ]


def drive_code_server(
    script: str, limit_s: int, *, url: str, notes: Path, screenshots: dict[str, str], **fields: str
) -> dict:
    """Run a tests/editors script against code-server on `notes`; return its RESULT object.

    The script gets the common input (vscode_common.mjs) plus `fields`.
    """
    config = {
        "url": url,
        "folder": str(notes.parent),
        "fileName": notes.name,
        "chromium": str(chromium()),
        "screenshots": screenshots,
        "timeoutMs": int(os.environ.get("NEXTWORD_VSCODE_TIMEOUT_MS", "120000")),
        **fields,
    }
    env = dict(os.environ, NEXTWORD_VSCODE_TEST=json.dumps(config))
    node = shutil.which("node") or node24()
    driven = run([node, EDITORS_TESTS / script], limit_s, env=env, cwd=EDITORS_TESTS)
    print(driven.output)
    print("screenshots:", *(path for path in screenshots.values() if Path(path).exists()))
    assert driven.returncode == 0, driven.output
    return json.loads(driven.output.split("RESULT ", 1)[1].splitlines()[0])


def test_vscode_suggest_accept_save(code_server_url: tuple[str, Path]) -> None:
    url, workspace = code_server_url
    notes = workspace / "notes.md"
    notes.write_text(MARKDOWN, encoding="utf-8")
    # What the server offers after the sentence, and after the accepted word plus one letter.
    expected = server_words(MARKDOWN + SENTENCE)
    assert expected, "the server offers nothing after the sentence; the test cannot tell"
    letter = server_words(MARKDOWN + SENTENCE + expected[0] + " ")[0][0]
    final_text = MARKDOWN + SENTENCE + expected[0] + " " + letter
    expected_for_letter = server_words(final_text)

    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "vscode-failure.png").unlink(missing_ok=True)
    screenshots = {
        "suggest": str(ARTIFACTS / "vscode-suggest.png"),
        "word": str(ARTIFACTS / "vscode-quick-suggest.png"),
        "saved": str(ARTIFACTS / "vscode-saved.png"),
        "noModel": str(ARTIFACTS / "vscode-no-model.png"),
        "notFound": str(ARTIFACTS / "vscode-not-found.png"),
        "failure": str(ARTIFACTS / "vscode-failure.png"),
    }
    result = drive_code_server(
        "vscode_e2e.mjs",
        420,
        url=url,
        notes=notes,
        screenshots=screenshots,
        sentence=SENTENCE,
        letter=letter,
        missingBundle=str(workspace / "no-such-bundle"),
        missingCommand=str(workspace / "no-such-dir" / "nextword"),
    )

    assert result["labels"] == expected, (result["labels"], expected)
    assert result["focused"] == expected[0]
    assert set(result["kinds"]) == {"text"}, result["kinds"]
    # Typing a letter also brings VS Code's Markdown snippets (other kinds); only Text is ours.
    # With a typed prefix VS Code re-ranks by its own fuzzy score, so compare the sets here.
    assert sorted(result["wordLabels"]) == sorted(expected_for_letter), (
        result["wordLabels"],
        expected_for_letter,
    )
    assert "nextword" in result["status"]["text"] and "codicon-check" in result["status"]["icons"]

    saved = notes.read_text(encoding="utf-8")
    assert saved == final_text, saved

    assert "no model" in result["noModel"]["status"]["text"], result["noModel"]
    assert "no-such-bundle" in result["noModel"]["message"], result["noModel"]
    not_found = result["notFound"]["message"]
    assert "no-such-dir/nextword" in not_found and "pip install nextword" in not_found, not_found
    assert "nextword.server.command" in not_found, not_found


STORY = "Zorblat Quenwick came. Then Zorblat Quenwick left. We met Zorblat Quenwick again.\n"
TYPED = "Today Zorb"


GENEROUS_BUDGET_MS = 1000
"""The ghost text's time budget in these tests: the phrase must not depend on how busy the
machine is."""


def ghost_text_workspace(workspace: Path, typed: str = TYPED) -> tuple[Path, str, InlineSuggestion]:
    """notes.md holding the story, ghost text on and the suggest widget off (so that only the
    inline suggestion shows); the suggestion the server makes after `typed` there."""
    from nextword.server.engine.documents import DocumentState
    from nextword.server.engine.engine import load_engine
    from nextword.server.engine.inline import suggest_inline
    from nextword.server.settings import Settings

    notes = workspace / "notes.md"
    text = MARKDOWN + STORY
    notes.write_text(text, encoding="utf-8")
    quiet = {"other": "off", "comments": "off", "strings": "off"}
    workspace_settings = workspace / ".vscode" / "settings.json"
    workspace_settings.write_text(
        json.dumps(
            json.loads(workspace_settings.read_text())  # the fixture's hostile settings stay
            | {
                "nextword.inlineSuggestions": True,
                "editor.inlineSuggest.enabled": True,
                "[markdown]": {"editor.quickSuggestions": quiet},
                "editor.quickSuggestions": quiet,
                "editor.suggestOnTriggerCharacters": False,
                "nextword.serverSettings": {"inline": {"budgetMs": GENEROUS_BUDGET_MS}},
            }
        )
    )
    settings = Settings()
    settings.inline.budget_ms = GENEROUS_BUDGET_MS
    engine = load_engine(os.environ.get("NEXTWORD_EDITOR_TEST_BUNDLE") or None, settings)
    document = DocumentState.open("file:///notes.md", text + typed, "markdown", 1)
    lines = (text + typed).split("\n")
    expected = suggest_inline(engine, document, len(lines) - 1, len(lines[-1]))
    assert expected is not None, typed
    return notes, text, expected


def ghost_screenshots(name: str) -> dict[str, str]:
    ARTIFACTS.mkdir(exist_ok=True)
    return {
        "ghost": str(ARTIFACTS / f"vscode-{name}.png"),
        "failure": str(ARTIFACTS / f"vscode-{name}-failure.png"),
    }


def test_vscode_ghost_text_shown_and_accepted(code_server_url: tuple[str, Path]) -> None:
    """With nextword.inlineSuggestions on, the rest of a made-up name the document used before
    shows as ghost text after its first letters, and Tab accepts it (issue 6)."""
    url, workspace = code_server_url
    notes, text, expected = ghost_text_workspace(workspace)
    assert expected.text.startswith("Zorblat"), expected
    result = drive_code_server(
        "vscode_inline.mjs", 300, url=url, notes=notes,
        screenshots=ghost_screenshots("ghost-text"),
        typed=TYPED,
    )  # fmt: skip
    rest = expected.text[len("Zorb") :]
    assert result["ghost"].strip() and rest.startswith(result["ghost"].rstrip()), result
    saved = notes.read_text(encoding="utf-8")
    assert saved == text + "Today " + expected.text, saved


PHRASE_TYPED = "We thank the President of the Uni"
"""The counts know what follows: "United States", two words of ghost text."""


def test_vscode_ghost_text_accepted_word_by_word(code_server_url: tuple[str, Path]) -> None:
    """A phrase of ghost text is accepted one word at a time with "Accept Next Word"
    (editor.action.inlineSuggest.acceptNextWord, Ctrl+Right): one press inserts the rest of the
    current word and no more, the rest of the phrase stays shown (#18)."""
    url, workspace = code_server_url
    notes, text, expected = ghost_text_workspace(workspace, PHRASE_TYPED)
    assert len(expected.words) >= 2, expected
    result = drive_code_server(
        "vscode_inline.mjs", 300, url=url, notes=notes,
        screenshots=ghost_screenshots("ghost-words"), typed=PHRASE_TYPED, acceptWords=1,
    )  # fmt: skip
    rest = " ".join(expected.words[1:])
    assert result["ghostAfterWords"][0].strip() == rest, result
    saved = notes.read_text(encoding="utf-8")
    word_start = PHRASE_TYPED.rsplit(" ", 1)[0] + " "
    assert saved.rstrip(" ") == text + word_start + expected.words[0], saved
