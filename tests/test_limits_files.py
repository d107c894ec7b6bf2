"""Files the server writes: only the log file it is given, (opt-in) the learned memory in the
user's data directory, and what it derives to start faster in its cache directory; written
whole, never elsewhere, and a bad path never stops it.

The server runs with HOME, the XDG directories and its working directory in a scratch tree, so
any file it writes anywhere there is seen.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest
from conftest import TINY_BUNDLE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from rawlsp import RawServer  # noqa: E402

RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+: ")


class Sandbox:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.home, self.cwd = root / "home", root / "cwd"
        self.data = root / "data"
        for folder in (self.home, self.cwd, self.data):
            folder.mkdir()

    def env(self) -> dict[str, str]:
        keep = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
        return keep | {
            "HOME": str(self.home),
            "XDG_DATA_HOME": str(self.data),
            "XDG_CACHE_HOME": str(self.root / "cache"),
            "XDG_CONFIG_HOME": str(self.root / "config"),
            "XDG_STATE_HOME": str(self.root / "state"),
        }

    def files(self) -> list[Path]:
        """Every file written, but the server's own cache (`cached`)."""
        every = (p.relative_to(self.root) for p in self.root.rglob("*") if p.is_file())
        return sorted(p for p in every if p.parts[:2] != ("cache", "nextword"))

    def cached(self) -> list[Path]:
        folder = self.root / "cache" / "nextword"
        return sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())

    def serve(self, *arguments: str) -> RawServer:
        command = [sys.executable, "-m", "nextword.server.cli", "serve", *arguments]
        return RawServer(command, self.root / "stderr.txt", cwd=self.cwd, env=self.env())


def session(raw: RawServer, options: dict | None = None, root_uri: str | None = None) -> None:
    """Initialize, type in two documents, close one, shut down and exit (code 0)."""
    init = raw.request(
        "initialize",
        {
            "processId": None,
            "rootUri": root_uri,
            "capabilities": {},
            "initializationOptions": options,
        },
    )
    assert raw.wait([init]) == []
    raw.notify("initialized", {})
    for name in ("a", "b"):
        text = "Zorblat met Quenwick. Then Zorblat and Quenwick left.\n\nZorb"
        item = {"uri": f"file:///w/{name}.txt", "languageId": "plaintext", "version": 1}
        raw.notify("textDocument/didOpen", {"textDocument": item | {"text": text}})
        position = {"line": 2, "character": 4}
        params = {"textDocument": {"uri": item["uri"]}, "position": position}
        assert raw.wait([raw.request("textDocument/completion", params)]) == []
    raw.notify("textDocument/didClose", {"textDocument": {"uri": "file:///w/a.txt"}})
    assert raw.wait([raw.request("shutdown")]) == []
    raw.notify("exit")
    assert raw.process.wait(10) == 0


def test_a_plain_session_writes_only_the_log_file(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    log = box.root / "logs" / "nextword.log"
    log.parent.mkdir()
    raw = box.serve("--bundle", str(TINY_BUNDLE), "--log-file", str(log), "--verbose")
    try:
        session(raw)
    finally:
        raw.stop()
    assert box.files() == [Path("logs/nextword.log"), Path("stderr.txt")]
    lines = log.read_text(encoding="utf-8").splitlines()
    assert any("loaded model bundle" in line for line in lines)
    records = [line for line in lines if RECORD.match(line)]
    assert len(records) > 5
    assert lines[-1] and RECORD.match(lines[0])  # whole records: no torn last line


@pytest.mark.parametrize("where", ["missing directory", "a directory", "unwritable"])
def test_a_log_file_that_cannot_be_written_does_not_stop_the_server(
    tmp_path: Path, where: str
) -> None:
    box = Sandbox(tmp_path)
    target = {
        "missing directory": box.root / "no" / "such" / "x.log",
        "a directory": box.root,
        "unwritable": Path("/proc/version"),
    }[where]
    raw = box.serve("--bundle", str(TINY_BUNDLE), "--log-file", str(target))
    try:
        session(raw)
        shown = [m for m in raw.drain_notifications() if m["method"] == "window/showMessage"]
        messages = [m["params"] for m in shown]
    finally:
        raw.stop()
    warnings = [m for m in messages if m["type"] == 2 and "log file" in m["message"]]
    assert len(warnings) == 1 and str(target) in warnings[0]["message"]
    assert not (box.root / "no").exists()
    assert "logging to stderr" in (box.root / "stderr.txt").read_text()


def test_the_learned_memory_is_written_whole_and_only_in_the_data_dir(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    options = {"nextword": {"memory": {"persist": True}}}
    raw = box.serve("--bundle", str(TINY_BUNDLE))
    try:
        session(raw, options, root_uri="file:///w")
    finally:
        raw.stop()
    written = [p for p in box.files() if p != Path("stderr.txt")]
    assert written, "persistence is on: the memory is stored"
    for path in written:
        assert path.parts[:3] == ("data", "nextword", "workspaces"), path
        assert path.suffix == ".npz" and not path.name.startswith(".")  # no temporary left
        assert stat.S_IMODE((box.root / path).stat().st_mode) == 0o600
    assert stat.S_IMODE((box.data / "nextword" / "workspaces").stat().st_mode) == 0o700
    assert stat.S_IMODE((box.data / "nextword").stat().st_mode) == 0o700


def test_a_data_dir_that_leads_elsewhere_is_refused(tmp_path: Path) -> None:
    """workspaces/ as a symbolic link out of the data directory: nothing is written there, and
    the server keeps answering without an error message."""
    box = Sandbox(tmp_path)
    outside = box.root / "outside"
    outside.mkdir()
    (box.data / "nextword").mkdir()
    (box.data / "nextword" / "workspaces").symlink_to(outside)
    raw = box.serve("--bundle", str(TINY_BUNDLE))
    try:
        session(raw, {"nextword": {"memory": {"persist": True}}}, root_uri="file:///w")
        shown = [m for m in raw.drain_notifications() if m["method"] == "window/showMessage"]
        messages = [m["params"]["message"] for m in shown]
    finally:
        raw.stop()
    assert list(outside.iterdir()) == []
    assert not any("Error in server" in message for message in messages), messages


def test_the_default_never_writes_a_file(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    raw = box.serve("--bundle", str(TINY_BUNDLE))
    try:
        session(raw, root_uri="file:///w")
    finally:
        raw.stop()
    assert box.files() == [Path("stderr.txt")]
    # Only what a start derives (lsp/attrs_code.py; the tiny bundle has no counts to decode).
    assert [path.name.startswith("attrs-code-") for path in box.cached()] == [True]


def test_forgetting_never_deletes_outside_the_data_dir(tmp_path: Path) -> None:
    from nextword.server.memory import persist

    box = Sandbox(tmp_path)
    victim = box.root / "precious.npz"
    victim.write_bytes(b"keep me")
    (box.data / "nextword").mkdir()
    (box.data / "nextword" / "workspaces").symlink_to(box.root)
    assert persist.delete_stored(None, box.data / "nextword") == []
    assert persist.delete_stored("file:///w", box.data / "nextword") == []
    assert victim.read_bytes() == b"keep me"


def stored_memory(box: Sandbox, workspace: str, dim: int, bundle: str = "") -> Path:
    """A valid stored memory for `workspace` with vectors `dim` wide."""
    import numpy as np

    from nextword.server.memory import persist
    from nextword.server.memory.blocks import make_block

    base = box.data / "nextword"
    path = persist.workspace_file(workspace, base)
    vectors = np.ones((2, dim), np.float32) / np.sqrt(dim)
    block = make_block(vectors, ["zorblat", "quenwick"], ["Zorblat", "Quenwick"])
    persist.save_block(path, block, base, bundle=bundle, workspace_uri=workspace)
    return path


@pytest.mark.parametrize(
    "damage", ["empty", "cut off", "garbage", "other width", "other bundle", "symlink loop"]
)
def test_a_damaged_or_foreign_stored_memory_is_set_aside(tmp_path: Path, damage: str) -> None:
    """initialize answers, completions work, one warning is logged, shutdown exits 0."""
    from nextword.server.model.bundle import load_bundle

    box = Sandbox(tmp_path)
    dim = load_bundle(TINY_BUNDLE).output_dim
    path = stored_memory(
        box, "file:///w", dim + 1 if damage == "other width" else dim, bundle="another bundle"
    )
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "cut off":
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    elif damage == "garbage":
        path.write_bytes(b"PK\x03\x04" + bytes(range(256)) * 4)
    elif damage == "symlink loop":
        path.unlink()
        path.symlink_to(path.name)
    if damage == "other width":  # no bundle recorded: only the width tells
        stored_memory(box, "file:///w", dim + 1)
    raw = box.serve("--bundle", str(TINY_BUNDLE))
    try:
        session(raw, {"nextword": {"memory": {"persist": True}}}, root_uri="file:///w")
        messages = [m["params"]["message"] for m in raw.drain_notifications()]
    finally:
        raw.stop()
    assert not any("Error" in message for message in messages), messages
    log = (box.root / "stderr.txt").read_text()
    assert "Traceback" not in log, log
    if damage != "symlink loop":
        assert log.count("ignoring the stored memory") == 1, log
        assert path.with_name(path.name + ".damaged").is_file()


def test_the_log_file_is_private_and_never_followed_through_a_symlink(tmp_path: Path) -> None:
    box = Sandbox(tmp_path)
    log = box.root / "nextword.log"
    raw = box.serve("--bundle", str(TINY_BUNDLE), "--log-file", str(log))
    try:
        session(raw)
    finally:
        raw.stop()
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    target, link = box.root / "elsewhere.txt", box.root / "link.log"
    target.write_text("untouched\n")
    link.symlink_to(target)
    raw = box.serve("--bundle", str(TINY_BUNDLE), "--log-file", str(link))
    try:
        session(raw)
        messages = [m["params"]["message"] for m in raw.drain_notifications()]
    finally:
        raw.stop()
    assert target.read_text() == "untouched\n"
    assert any("symbolic link" in message for message in messages), messages


def test_forget_finds_a_workspace_however_its_uri_was_spelled(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Neovim leaves `(` `)` unencoded where Python writes %28 %29; a folder opened through a
    symbolic link is stored under the link's URI."""
    from nextword.server import cli
    from nextword.server.memory import persist

    box = Sandbox(tmp_path)
    folder = box.root / "my notes (draft)"
    folder.mkdir()
    (box.root / "link").symlink_to(folder)
    neovim_uri = "file://" + str(folder).replace(" ", "%20")
    assert "(" in neovim_uri and neovim_uri != folder.as_uri()
    spellings = [neovim_uri, (box.root / "link").as_uri()]
    for workspace in spellings:
        stored_memory(box, workspace, 4)
    stored_memory(box, (box.root / "other").as_uri(), 4)
    monkeypatch.setenv("XDG_DATA_HOME", str(box.data))
    assert cli.main(["forget", "--workspace", str(folder)]) == 0
    assert "removed 2 file(s)" in capsys.readouterr().out
    left = list((box.data / "nextword" / "workspaces").iterdir())
    assert [persist.stored_workspace(path) for path in left] == [(box.root / "other").as_uri()]
