"""The server downloads nothing and opens no network socket, ever.

Three independent checks while the real `nextword serve` loads its bundle and answers:
the socket file descriptors it holds are all Unix sockets (asyncio's self-pipe), none a TCP,
UDP or raw socket (/proc); no network system call at all is made but on Unix sockets (strace,
where available); and no server module imports a network client.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import TINY_BUNDLE, default_bundle_present

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from rawlsp import RawServer, serve_command  # noqa: E402

SERVER_SOURCES = Path(__file__).resolve().parents[1] / "server"
NETWORK_MODULES = {
    "socket", "ssl", "urllib", "http", "requests", "httpx", "aiohttp", "urllib3", "ftplib",
    "smtplib", "websockets", "huggingface_hub", "xmlrpc", "socketserver", "asyncio.streams",
}  # fmt: skip
WATCH_SECONDS = 15.0
"""How long a served session is watched: onnxruntime 1.31's telemetry, when not disabled, looked
up its collector's address ~9 s after the first session was created."""
INET_TABLES = ("tcp", "tcp6", "udp", "udp6", "raw", "raw6", "udplite", "udplite6")


def bundle() -> str | None:
    """The default bundle when there is one (the real thing), else the tiny test bundle."""
    return None if default_bundle_present() else str(TINY_BUNDLE)


def exercise(raw: RawServer) -> None:
    """Initialize, open, edit and complete: everything a session does, then stay up."""
    init = raw.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
    assert raw.wait([init], timeout=60) == []
    raw.notify("initialized", {})
    item = {"uri": "file:///n.txt", "languageId": "plaintext", "version": 1, "text": "The gov"}
    raw.notify("textDocument/didOpen", {"textDocument": item})
    end = {"line": 0, "character": 7}
    raw.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": "file:///n.txt", "version": 2},
            "contentChanges": [{"range": {"start": end, "end": end}, "text": "ernment of the "}],
        },
    )
    position = {"line": 0, "character": 22}
    ids = [
        raw.request(
            "textDocument/completion",
            {"textDocument": {"uri": "file:///n.txt"}, "position": position},
        )
        for _ in range(5)
    ]
    ids.append(raw.request("nextword/stats", {}))
    assert raw.wait(ids) == []
    assert raw.responses[ids[-1]]["result"]["loaded"] is True


def keep_busy(raw: RawServer, seconds: float) -> None:
    """Keep the session going (pings) for a while: background activity has time to show."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert raw.wait([raw.request("nextword/ping", {})]) == []
        time.sleep(0.25)


def shut_down(raw: RawServer) -> None:
    shutdown = raw.request("shutdown")
    assert raw.wait([shutdown]) == []
    raw.notify("exit")
    assert raw.process.wait(10) == 0


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:  # closed meanwhile
            continue
        if match := re.fullmatch(r"socket:\[(\d+)\]", target):
            inodes.add(int(match.group(1)))
    return inodes


def table_inodes(pid: int, table: str) -> set[int]:
    """Inodes of the sockets listed in /proc/PID/net/TABLE (the process's network namespace)."""
    path = Path(f"/proc/{pid}/net/{table}")
    if not path.exists():
        return set()
    lines = path.read_text().splitlines()[1:]
    column = 6 if table == "unix" else 9
    return {int(line.split()[column]) for line in lines if len(line.split()) > column}


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
def test_only_unix_sockets_while_serving(tmp_path: Path) -> None:
    raw = RawServer(serve_command(bundle()), tmp_path / "server.log")
    try:
        exercise(raw)
        pid = raw.process.pid
        held = socket_inodes(pid)
        inet = set().union(*(table_inodes(pid, table) for table in INET_TABLES))
        assert held & inet == set(), "the server holds a TCP, UDP or raw socket"
        assert held <= table_inodes(pid, "unix"), "every socket it holds is a Unix socket"
        shut_down(raw)
    finally:
        raw.stop()


def strace_works() -> bool:
    if shutil.which("strace") is None:
        return False
    probe = subprocess.run(["strace", "-f", "-o", os.devnull, "true"], capture_output=True)
    return probe.returncode == 0


@pytest.mark.skipif(not strace_works(), reason="strace is not installed or may not trace")
def test_no_network_system_calls_at_all(tmp_path: Path) -> None:
    trace = tmp_path / "network.trace"
    command = ["strace", "-f", "-qq", "-e", "trace=%network", "-o", str(trace)]
    raw = RawServer([*command, *serve_command(bundle())], tmp_path / "server.log")
    try:
        exercise(raw)
        keep_busy(raw, WATCH_SECONDS)
        shut_down(raw)
    finally:
        raw.stop()
    calls = [line for line in trace.read_text().splitlines() if "(" in line]
    not_unix = [
        line
        for line in calls
        if re.search(r"\b(socket|socketpair)\(", line) and "AF_UNIX" not in line
    ]
    assert not_unix == [], not_unix[:5]
    connects = [line for line in calls if re.search(r"\b(connect|sendto|sendmsg)\(", line)]
    assert all("AF_UNIX" in line or "sa_family" not in line for line in connects), connects[:5]
    assert not any(re.search(r"AF_INET6?\b", line) for line in calls), calls[:5]


def imported_modules(source: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_no_server_module_imports_a_network_client() -> None:
    offenders = {}
    for source in sorted(SERVER_SOURCES.glob("*.py")):
        found = {
            name
            for name in imported_modules(source)
            if name in NETWORK_MODULES or name.split(".")[0] in NETWORK_MODULES
        }
        if found:
            offenders[source.name] = sorted(found)
    assert offenders == {}


def in_process_run(tmp_path: Path, environment: dict[str, str]) -> subprocess.CompletedProcess:
    """A program that imports onnxruntime first, then completes with nextword's engine."""
    program = f"""
import time
import onnxruntime
from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import load_engine
engine = load_engine({str(TINY_BUNDLE)!r})
print(len(engine.complete(DocumentState.open("file:///n.txt", "The gov"), 0, 7)))
time.sleep(3)
"""
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env |= {"HOME": str(tmp_path), "XDG_CACHE_HOME": str(tmp_path / "cache")} | environment
    command = [sys.executable, "-c", program]
    if strace_works():
        command = [
            "strace",
            "-f",
            "-qq",
            "-e",
            "trace=%network",
            "-o",
            str(tmp_path / "t"),
            *command,
        ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=120)


def test_onnxruntime_imported_first_with_telemetry_on_is_refused(tmp_path: Path) -> None:
    """Its telemetry starts at import and cannot be stopped after: the engine says so."""
    result = in_process_run(tmp_path, {})
    assert result.returncode != 0
    assert "TelemetryError" in result.stderr and "ORT_DISABLE_TELEMETRY=1" in result.stderr


def test_onnxruntime_imported_first_with_telemetry_off_stays_offline(tmp_path: Path) -> None:
    result = in_process_run(tmp_path, {"ORT_DISABLE_TELEMETRY": "1"})
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / ".cache" / "Microsoft").exists()
    assert not (tmp_path / "cache" / "Microsoft").exists()
    if (tmp_path / "t").exists():
        assert not re.search(r"AF_INET6?\b", (tmp_path / "t").read_text())
