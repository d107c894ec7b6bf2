"""A workspace cannot choose what the VS Code extension runs or opt the user into storing text.

Checked on the extension's manifest (package.json) and on how src/settings.ts reads those
settings; tests/test_editor_vscode.py runs the real VS Code with a hostile workspace
`.vscode/settings.json`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

EXTENSION = Path(__file__).resolve().parents[1] / "editor-clients" / "vscode"
RUNS_A_PROGRAM = [
    "nextword.server.command",
    "nextword.server.pythonPath",
    "nextword.server.extraArgs",
]
READS_OR_WRITES_FILES = ["nextword.bundle", "nextword.serverSettings"]


def manifest() -> dict:
    return json.loads((EXTENSION / "package.json").read_text(encoding="utf-8"))


def test_settings_that_run_a_program_are_machine_scoped() -> None:
    properties = manifest()["contributes"]["configuration"]["properties"]
    for name in RUNS_A_PROGRAM:
        assert properties[name].get("scope") == "machine", name


def test_untrusted_workspaces_are_limited_and_may_not_set_them() -> None:
    untrusted = manifest()["capabilities"]["untrustedWorkspaces"]
    assert untrusted["supported"] == "limited"
    assert sorted(untrusted["restrictedConfigurations"]) == sorted(
        RUNS_A_PROGRAM + READS_OR_WRITES_FILES
    )


def test_the_extension_reads_them_from_the_users_settings_only() -> None:
    """`config.get` merges workspace values in; `inspect().globalValue` does not."""
    source = (EXTENSION / "src" / "settings.ts").read_text(encoding="utf-8")
    for name in RUNS_A_PROGRAM:
        key = name.removeprefix("nextword.")
        assert not re.search(rf'config\.get<[^>]*>\("{re.escape(key)}"', source), key
        assert re.search(rf'userValue(<[^>]*>)?\(config, "{re.escape(key)}"', source), key
    assert "globalValue" in source
    user_only = source[source.index("USER_ONLY_SERVER_SETTINGS") :].split("];")[0]
    for path in ('["memory", "persist"]', '["learning", "enabled"]', '["learning", "typing"]'):
        assert path in user_only, path
    assert "serverSettings: guardedServerSettings(config)" in source
