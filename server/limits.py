"""Hardening of the JSON-RPC transport against clients that break the protocol.

pygls' message loop (pygls.io_.run_async) trusts its input:

- a `Content-Length` of 10^14 makes it allocate that many bytes at once: a MemoryError that ends
  the loop and the server;
- a body longer than its `Content-Length` leaves the rest on the stream, glued to the next
  header line, and since bodies have no line ends every later header is glued to the body
  before it: the server never reads another message;
- a request whose params do not fit the method's schema, a request that is not JSON-RPC 2.0 and a
  request after `shutdown` get no response at all, so the client waits for ever.

`ProtocolInput` wraps stdin for the loop: it ignores oversized headers and finds a header that
follows garbage on the same line. `AnsweringProtocol` answers every request it cannot run with a
JSON-RPC error (Invalid Params, Invalid Request), as the LSP asks.
"""

from __future__ import annotations

import logging
import re
from typing import Any, BinaryIO

from pygls.exceptions import JsonRpcException, JsonRpcInvalidRequest
from pygls.protocol import LanguageServerProtocol

log = logging.getLogger(__name__)

MAX_MESSAGE_BYTES = 64 << 20
"""Larger messages are refused (their header is ignored): 10x a 1M-word document."""

_HEADER = b"Content-Length:"
_CONTENT_LENGTH = re.compile(rb"Content-Length: (\d+)\r\n")
_IGNORED_HEADER = b"X-Nextword-Ignored: oversized message\r\n"


class ProtocolInput:
    """A reader for pygls' message loop (`readline` and `read`) that keeps it in step."""

    def __init__(self, stream: BinaryIO, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        self.stream = stream
        self.max_message_bytes = max_message_bytes

    def readline(self) -> bytes:
        # Bounded: a stream without line ends must not grow one line without end.
        line = self.stream.readline(self.max_message_bytes + 64)
        start = line.rfind(_HEADER)
        if start > 0:
            log.warning("skipped %d bytes of garbage before a message header", start)
            line = line[start:]
        match = _CONTENT_LENGTH.fullmatch(line)
        if match and int(match.group(1)) > self.max_message_bytes:
            log.warning(
                "ignored a message of %s bytes (the limit is %d)",
                match.group(1).decode(),
                self.max_message_bytes,
            )
            return _IGNORED_HEADER
        return line

    def read(self, size: int) -> bytes:
        return self.stream.read(size)


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

    def structure_message(self, data: dict[str, Any]) -> Any:
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
        if self._shutdown and request_id is not None and message.method != "exit":
            self.reject(request_id, JsonRpcInvalidRequest("the server is shutting down"))
            return
        super().handle_message(message)
