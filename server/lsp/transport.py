"""Hardening of the JSON-RPC transport against clients that break the protocol.

pygls' message loop (pygls.io_.run_async) trusts its input:

- a `Content-Length` of 10^14 makes it allocate that many bytes at once: a MemoryError that ends
  the loop and the server;
- a body longer than its `Content-Length` leaves the rest on the stream, glued to the next
  header line, and since bodies have no line ends every later header is glued to the body
  before it: the server never reads another message;
- a request whose params do not fit the method's schema, a request that is not JSON-RPC 2.0 and a
  request after `shutdown` get no response at all, so the client waits for ever.

`ProtocolInput` (and `AsyncProtocolInput`, which the server uses) wraps stdin for the loop: it
ignores oversized headers and finds a header that follows garbage on the same line.
`AnsweringProtocol` answers every request it cannot run with a JSON-RPC error (Invalid Params,
Invalid Request), as the LSP asks.
"""

from __future__ import annotations

import asyncio
import contextvars
import errno
import json
import logging
import os
import re
import selectors
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol.types import ResponseError
from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest, JsonRpcParseError
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 << 20
"""Larger messages are refused (their header is ignored): 10x a 1M-word document."""
MAX_DOCUMENT_CHARS = 10_000_000
"""Larger documents are refused (nothing is served for them): ~1.6x a 1M-word document."""
UNDECODABLE_BODY = b'{"nextword/undecodable": true}'
"""What the message loop reads in place of a body that is not UTF-8 (already answered)."""

_HEADER = b"Content-Length:"
_CONTENT_LENGTH = re.compile(rb"Content-Length: (\d+)\r\n")
_IGNORED_HEADER = b"X-Nextword-Ignored: oversized message\r\n"


def checked_line(line: bytes, max_message_bytes: int) -> bytes:
    """A header line as the message loop may see it: garbage before a header cut off, the
    header of an oversized message replaced by one the loop ignores."""
    start = line.rfind(_HEADER)
    if start > 0:
        log.warning("skipped %d bytes of garbage before a message header", start)
        line = line[start:]
    match = _CONTENT_LENGTH.fullmatch(line)
    if match and int(match.group(1)) > max_message_bytes:
        log.warning(
            "ignored a message of %s bytes (the limit is %d)",
            match.group(1).decode(),
            max_message_bytes,
        )
        return _IGNORED_HEADER
    return line


def checked_body(body: bytes, on_undecodable: Callable[[bytes], None] | None) -> bytes:
    """The body, or `UNDECODABLE_BODY` (after `on_undecodable`) when it is not UTF-8: json.loads
    would raise and the loop would drop a request unanswered."""
    if body.isascii():
        return body
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        if on_undecodable is not None:
            on_undecodable(body)
        return UNDECODABLE_BODY
    return body


class BoundedInput:
    """The input stream with its message size limit and what to do with an undecodable body."""

    def __init__(
        self,
        stream: BinaryIO,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        on_undecodable: Callable[[bytes], None] | None = None,
    ) -> None:
        self.stream = stream
        self.max_message_bytes = max_message_bytes
        self.on_undecodable = on_undecodable


class ProtocolInput(BoundedInput):
    """A reader for pygls' message loop (`readline` and `read`) that keeps it in step."""

    def readline(self) -> bytes:
        # Bounded: a stream without line ends must not grow one line without end.
        line = self.stream.readline(self.max_message_bytes + 64)
        return checked_line(line, self.max_message_bytes)

    def read(self, size: int) -> bytes:
        return checked_body(self.stream.read(size), self.on_undecodable)


class AsyncProtocolInput(BoundedInput):
    """`ProtocolInput` for pygls' asynchronous loop (`readline`, `readexactly` awaitables),
    reading the pipe on the event loop itself.

    pygls' own stdin reader hands every header line and every body to its thread pool: three
    thread round trips per message. Reading on the loop took a keystroke inside a word (didChange
    + completion) from 2.1 to 1.0 ms p50 over stdio. Input the event loop cannot poll (a regular
    file, a terminal) is read the pygls way, through `ProtocolInput` in a thread.
    """

    def __init__(
        self,
        stream: BinaryIO,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        on_undecodable: Callable[[bytes], None] | None = None,
    ) -> None:
        super().__init__(stream, max_message_bytes, on_undecodable)
        self.limit = max_message_bytes + 64
        self._reader: asyncio.StreamReader | None = None
        self._threaded: ProtocolInput | None = None

    async def _pipe(self) -> asyncio.StreamReader | None:
        if self._reader is None and self._threaded is None:
            if pollable(self.stream):
                loop = asyncio.get_running_loop()
                reader = asyncio.StreamReader(limit=self.limit)
                protocol = asyncio.StreamReaderProtocol(reader)
                await loop.connect_read_pipe(lambda: protocol, self.stream)
                self._reader = reader
            else:
                self._threaded = ProtocolInput(
                    self.stream, self.max_message_bytes, self.on_undecodable
                )
        return self._reader

    async def readline(self) -> bytes:
        reader = await self._pipe()
        if reader is None:
            assert self._threaded is not None
            return await asyncio.get_running_loop().run_in_executor(None, self._threaded.readline)
        try:
            line = await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as end:
            line = end.partial  # the stream ended inside a line
        except asyncio.LimitOverrunError:
            line = await reader.read(self.limit)  # as ProtocolInput: a bounded piece
        return checked_line(line, self.max_message_bytes)

    async def readexactly(self, size: int) -> bytes:
        reader = await self._pipe()
        if reader is None:
            assert self._threaded is not None
            return await asyncio.get_running_loop().run_in_executor(None, self._threaded.read, size)
        try:
            body = await reader.readexactly(size)
        except asyncio.IncompleteReadError as end:
            return end.partial
        return checked_body(body, self.on_undecodable)


def pollable(stream: BinaryIO) -> bool:
    """Whether the event loop can wait on this stream (a pipe or a socket)."""
    try:
        fd = stream.fileno()
        mode = os.fstat(fd).st_mode
        if not (stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)):
            return False
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
        return True
    except (OSError, ValueError):
        return False


def open_log_file(path: Path) -> logging.Handler:
    """A handler appending to `path`, created 0600 (it holds document URIs and, with -v, what
    was suggested) and never through a symbolic link."""
    # O_NONBLOCK: a FIFO without a reader fails at once instead of blocking the start.
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    descriptor = os.open(path, flags, 0o600)
    try:
        if not stat.S_ISREG(os.fstat(descriptor).st_mode):
            raise IsADirectoryError(0, "not a regular file")
        os.fchmod(descriptor, 0o600)
        stream = os.fdopen(descriptor, "a", encoding="utf-8", errors="backslashreplace")
    except BaseException:
        os.close(descriptor)
        raise
    return logging.StreamHandler(stream)


def log_handler(log_file: str | None) -> tuple[logging.Handler, str | None]:
    """A handler appending whole records to `log_file`, else to stderr.

    A log file that cannot be opened (no such directory, a directory, a symbolic link, no
    permission) must not stop the server: it logs to stderr instead and returns the reason, for
    the user.
    """
    if not log_file:
        return logging.StreamHandler(), None
    path = Path(log_file).expanduser()
    try:
        return open_log_file(path), None
    except OSError as error:
        reason = error.strerror or str(error)
        if error.errno == errno.ELOOP:
            reason = "it is a symbolic link"
        return (
            logging.StreamHandler(),
            f"cannot write the log file {path} ({reason}): logging to stderr",
        )


class _Answered:
    """Stands for a request that was already answered with an error."""


ANSWERED = _Answered()


def _request_id(message: Any) -> int | str | None:
    """The id of something that looks like a request (has a method and a usable id)."""
    if isinstance(message, dict):
        request_id, method = message.get("id"), message.get("method")
    else:
        request_id, method = getattr(message, "id", None), getattr(message, "method", None)
    if not isinstance(method, str) or isinstance(request_id, bool):
        return None
    return request_id if isinstance(request_id, (int, str)) else None


class AnsweringProtocol(LanguageServerProtocol):
    """Answers each request it cannot handle with a JSON-RPC error instead of dropping it."""

    @property
    def was_shut_down(self) -> bool:
        """A shutdown request came before the exit (the exit code says so, as the LSP asks)."""
        return self._shutdown

    def reject(self, request_id: int | str, error: JsonRpcException) -> None:
        log.warning("request %r refused: %s", request_id, error.message)
        self._send_response(request_id, error=error.to_response_error())

    def reject_undecodable(self, body: bytes) -> None:
        """Answer a request whose body is not UTF-8 with a Parse Error, if its id can be read."""
        try:
            message = json.loads(body.decode("utf-8", "replace"))
        except (ValueError, RecursionError):
            message = None
        request_id = _request_id(message) if isinstance(message, dict) else None
        if request_id is None:
            log.warning("ignored a message that is not valid UTF-8 (%d bytes)", len(body))
            return
        self.reject(request_id, JsonRpcParseError("the message is not valid UTF-8"))

    def _send_response(
        self, msg_id: Any, result: Any = None, error: ResponseError | None = None
    ) -> None:
        # pygls puts the Python traceback of a failed handler in the error's data; it is in the
        # log already (pygls logs the exception), the client gets one short line.
        if error is not None and error.data is not None:
            first_line = (error.message or "").strip().splitlines()[:1] or ["internal error"]
            error = ResponseError(code=error.code, message=first_line[0][:200])
        super()._send_response(msg_id, result, error)

    def structure_message(self, data: dict[str, Any]) -> Any:
        if "nextword/undecodable" in data:
            return ANSWERED
        try:
            return super().structure_message(data)
        except JsonRpcException as error:
            request_id = _request_id(data) if "jsonrpc" in data else None
            if request_id is None:
                raise
            self.reject(request_id, error)
            return ANSWERED

    def handle_message(self, message: Any) -> None:
        if message is ANSWERED:
            return
        request_id = _request_id(message)
        if not hasattr(message, "jsonrpc") or message.jsonrpc != self.VERSION:
            if request_id is not None:
                self.reject(request_id, JsonRpcInvalidRequest("not a JSON-RPC 2.0 request"))
            else:
                log.warning("ignored a message that is not JSON-RPC 2.0: %.200r", message)
            return
        if self._shutdown and getattr(message, "method", "") != "exit":
            if request_id is not None:
                self.reject(request_id, JsonRpcInvalidRequest("the server is shutting down"))
            else:
                log.warning("server shutting down: ignored %.200r", message)
            return
        # pygls' JsonRPCProtocol.handle_message tells the kinds apart with isinstance on
        # runtime_checkable Protocols, which walks every member on each call: ~7% of the
        # server's time while typing. The same tests by attribute, in the same order:
        context = contextvars.copy_context()
        if _has(message, "id", "method", "params"):
            context.run(self._handle_request, message.id, message.method, message.params)
        elif _has(message, "method", "params"):
            context.run(self._handle_notification, message.method, message.params)
        elif _has(message, "id", "result"):
            context.run(self._handle_response, message.id, message.result)
        else:
            context.run(self._handle_response, message.id, None, message.error)


def _has(message: Any, *names: str) -> bool:
    return all(hasattr(message, name) for name in names)
