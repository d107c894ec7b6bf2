"""A JSON-RPC client for `nextword serve` over stdio: the one that `nextword eval --lsp`, the
benchmarks and the robustness tests use.

It starts the server as a child process and writes to its stdin byte by byte (`write`), so a test
can also send what a well-behaved client library never would (broken headers, malformed JSON,
bodies of the wrong length). A thread reads the server's messages: responses by id, its
notifications in a queue; the server's own requests (configuration, registrations) are answered
at once so it never waits on the client.
"""

from __future__ import annotations

import contextlib
import json
import queue
import subprocess
import sys
import threading
import time
from typing import IO, Any

HANG_SECONDS = 20.0
"""A request not answered within this is a hang (generous: CI machines are shared)."""
EXIT_SECONDS = 10.0


class LspError(RuntimeError):
    pass


def serve_command(bundle: str | None) -> list[str]:
    command = [sys.executable, "-m", "nextword.server.cli", "serve"]
    return [*command, "--bundle", str(bundle)] if bundle else command


def frame(body: bytes) -> bytes:
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def encode(message: Any) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode("utf-8")


def read_message(stream: IO[bytes]) -> Any | None:
    """The next message on `stream` (Content-Length framing); None once it has ended, or ends
    in the middle of a message."""
    while True:
        length = None
        while True:
            header = stream.readline()
            if not header:
                return None
            if not header.strip():
                break
            name, _, value = header.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length is None:
            continue
        try:
            return json.loads(stream.read(length))
        except ValueError:
            return None


def default_answer(request: dict[str, Any]) -> Any:
    """The result a client with no settings of its own gives the server's request (configuration:
    none for each item asked; registrations and the like: null)."""
    if request["method"] == "workspace/configuration":
        return [None for _ in (request.get("params") or {}).get("items", [])]
    return None


class StdioClient:
    """A language server on pipes; `request` sends and returns the id, `call` waits for the
    result."""

    def __init__(
        self,
        command: list[str],
        stderr: IO[bytes] | int | None = subprocess.DEVNULL,
        cwd: str | None = None,
        env: dict[str, str] | None = None,
    ) -> None:
        self.process = subprocess.Popen(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=stderr, cwd=cwd, env=env
        )
        self.responses: dict[Any, dict[str, Any]] = {}
        self.notifications: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.answered = threading.Condition()
        self.inputs = 0
        self._next_id = 0
        self._write_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # -- writing ----------------------------------------------------------------------------------

    def write(self, data: bytes) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        with self._write_lock:
            self.inputs += 1
            try:
                stdin.write(data)
                stdin.flush()
            except (BrokenPipeError, ValueError):  # it died or was closed: the callers see that
                pass

    def send(self, message: Any) -> None:
        self.write(frame(encode(message)))

    def new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def request(self, method: str, params: Any = None) -> int:
        """Send a request; its response arrives in `responses` (see `wait`)."""
        request_id = self.new_id()
        message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)
        return request_id

    def notify(self, method: str, params: Any = None) -> None:
        message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        self.send(message)

    def call(self, method: str, params: Any = None, timeout: float = HANG_SECONDS) -> Any:
        """Send a request and wait for its result (LspError: an error, or no answer)."""
        request_id = self.request(method, params)
        if self.wait([request_id], timeout):
            raise LspError(f"{method}: no answer (exit code {self.process.poll()})")
        response = self.responses.pop(request_id)
        if "error" in response:
            raise LspError(f"{method}: {response['error']}")
        return response.get("result")

    def initialize(self, options: dict[str, Any] | None = None) -> dict[str, Any]:
        capabilities = {
            "general": {"positionEncodings": ["utf-16"]},
            "textDocument": {
                "synchronization": {"dynamicRegistration": False},
                "completion": {"completionItem": {"snippetSupport": False}},
            },
        }
        params = {
            "processId": None,
            "rootUri": None,
            "capabilities": capabilities,
            "initializationOptions": options or {},
        }
        result = self.call("initialize", params)
        self.notify("initialized", {})
        return result

    def shutdown(self) -> None:
        try:
            self.call("shutdown", timeout=EXIT_SECONDS)
            self.notify("exit")
            self.process.wait(timeout=EXIT_SECONDS)
        except (LspError, OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait()

    # -- reading ----------------------------------------------------------------------------------

    def _read_loop(self) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        while (message := read_message(stdout)) is not None:
            self._dispatch(message)
        self._closed()  # the process ended, perhaps in the middle of a message

    def _closed(self) -> None:
        with self.answered:
            self.answered.notify_all()

    def _dispatch(self, message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:  # a request from the server
            self.send({"jsonrpc": "2.0", "id": message["id"], "result": default_answer(message)})
        elif "method" in message:
            self.notifications.put(message)
        else:
            with self.answered:
                self.responses[message.get("id")] = message
                self.answered.notify_all()

    def wait(self, ids: list[int], timeout: float = HANG_SECONDS) -> list[int]:
        """Wait until every id is answered; return the ids still unanswered."""
        deadline = time.monotonic() + timeout
        with self.answered:
            while True:
                missing = [i for i in ids if i not in self.responses]
                left = deadline - time.monotonic()
                if not missing or left <= 0 or self.process.poll() is not None:
                    return missing
                self.answered.wait(min(left, 0.5))

    def drain_notifications(self) -> list[dict[str, Any]]:
        messages = []
        while True:
            try:
                messages.append(self.notifications.get_nowait())
            except queue.Empty:
                return messages

    def close_input(self) -> None:
        if self.process.stdin is not None and not self.process.stdin.closed:
            with contextlib.suppress(BrokenPipeError):
                self.process.stdin.close()

    def stop(self) -> int | None:
        """Make sure the process is gone; its exit code (None: had to be killed)."""
        self.close_input()
        try:
            code = self.process.wait(EXIT_SECONDS)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            code = None
        return code
