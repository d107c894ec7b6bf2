"""Hostile JSON-RPC against the real `nextword serve` over stdio (raw bytes, no LSP library).

Each case names one kind of bad input; `test_seeded_fuzz_finds_nothing` then mixes them all at
random for a bounded time (benchmarks/fuzz.py runs the same loop for minutes).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import TINY_BUNDLE

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from fuzz import fuzz  # noqa: E402
from rawlsp import MEGABYTE, RawServer, encode, frame, serve_command  # noqa: E402

END = {"line": (1 << 31) - 1, "character": 0}


def start(log_path: Path, encodings: list[str] | None = None) -> RawServer:
    raw = RawServer(serve_command(str(TINY_BUNDLE)), log_path)
    initialize(raw, encodings)
    return raw


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RawServer]:
    """One server for the cases that leave it usable (each checks that it is)."""
    raw = start(tmp_path_factory.mktemp("fuzz") / "server.log")
    yield raw
    assert raw.stop() is not None


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[RawServer]:
    raw = start(tmp_path / "server.log")
    yield raw
    raw.stop()


def initialize(raw: RawServer, encodings: list[str] | None = None) -> None:
    capabilities = {"general": {"positionEncodings": encodings or ["utf-16"]}}
    answer(raw, "initialize", {"processId": None, "rootUri": None, "capabilities": capabilities})
    raw.notify("initialized", {})


def answer(raw: RawServer, method: str, params: object = None) -> dict:
    """Send a request and return its response (result or error), failing on a hang."""
    request_id = raw.request(method, params)
    assert raw.wait([request_id]) == [], f"{method} was not answered"
    return raw.responses[request_id]


def alive(raw: RawServer) -> bool:
    return raw.process.poll() is None and answer(raw, "nextword/ping", {}).get("result") == {}


def open_document(raw: RawServer, uri: str, text: str) -> None:
    item = {"uri": uri, "languageId": "plaintext", "version": 1, "text": text}
    raw.notify("textDocument/didOpen", {"textDocument": item})


def complete(raw: RawServer, uri: str, line: int, character: int) -> dict:
    position = {"line": line, "character": character}
    return answer(
        raw, "textDocument/completion", {"textDocument": {"uri": uri}, "position": position}
    )


def change(raw: RawServer, uri: str, start: dict, end: dict, text: str, version: int = 2) -> None:
    raw.notify(
        "textDocument/didChange",
        {
            "textDocument": {"uri": uri, "version": version},
            "contentChanges": [{"range": {"start": start, "end": end}, "text": text}],
        },
    )


def labels(response: dict) -> list[str]:
    result = response["result"]
    items = result["items"] if isinstance(result, dict) else result
    return [item["label"] for item in items]


BROKEN_FRAMES = {
    "malformed JSON": frame(b'{"jsonrpc":"2.0","id":99,"method":'),
    "not an object": frame(b"[1,2,3]"),
    "not UTF-8": frame(b"\xff\xfe\x00\x01"),
    "length too short": b"Content-Length: 10\r\n\r\n" + encode({"jsonrpc": "2.0", "id": 98}),
    "body not JSON": b"Content-Length: 90\r\n\r\n" + b"{" * 90,
    "length absurd": b"Content-Length: 99999999999999999999\r\n\r\n",
    "length not a number": b"Content-Length: many\r\n\r\n{}",
    "no length": b"Content-Type: application/json\r\n\r\n{}",
    "empty lines": b"\r\n\r\n\r\n",
}


@pytest.mark.parametrize("name", list(BROKEN_FRAMES))
def test_broken_framing_leaves_the_server_answering(server: RawServer, name: str) -> None:
    server.write(BROKEN_FRAMES[name])
    assert alive(server)
    assert alive(server)


@pytest.mark.parametrize(
    "params",
    [None, [], "x", {"textDocument": 5}, {"textDocument": {"uri": "file:///a"}},
     {"textDocument": {"uri": "file:///a"}, "position": {"line": -1, "character": 0}},
     {"textDocument": {"uri": "file:///a"}, "position": {"line": 0, "character": "z"}}],
)  # fmt: skip
def test_wrong_params_get_invalid_params(server: RawServer, params: object) -> None:
    message = {"jsonrpc": "2.0", "id": 7000, "method": "textDocument/completion"}
    if params is not None:
        message["params"] = params
    server.send(message)
    assert server.wait([7000]) == []
    assert server.responses[7000]["error"]["code"] == -32602
    assert alive(server)


def test_requests_that_are_not_json_rpc_2_get_invalid_request(server: RawServer) -> None:
    server.send({"jsonrpc": "1.0", "id": 7001, "method": "nextword/ping", "params": {}})
    server.send({"id": 7002, "method": "nextword/ping", "params": {}})
    assert server.wait([7001, 7002]) == []
    assert {server.responses[i]["error"]["code"] for i in (7001, 7002)} == {-32600}
    assert answer(server, "no/such/method", {})["error"]["code"] == -32601


def test_unopened_and_closed_documents_get_empty_answers(server: RawServer) -> None:
    assert labels(complete(server, "file:///never.txt", 0, 0)) == []
    open_document(server, "file:///closed.txt", "The President of the gover")
    assert labels(complete(server, "file:///closed.txt", 0, 26))
    server.notify("textDocument/didClose", {"textDocument": {"uri": "file:///closed.txt"}})
    server.notify("textDocument/didClose", {"textDocument": {"uri": "file:///closed.txt"}})
    change(server, "file:///closed.txt", END, END, "x")
    assert labels(complete(server, "file:///closed.txt", 0, 26)) == []
    assert alive(server)


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8", "utf-32"])
def test_out_of_range_and_mid_character_positions(tmp_path: Path, encoding: str) -> None:
    raw = start(tmp_path / "server.log", [encoding])
    try:
        text = "The \U0001f600 President of the gover\nnment 😀é\u0301 the "
        open_document(raw, "file:///pos.txt", text)
        for line in (0, 1, 2, 50, (1 << 31) - 1):
            for character in (0, 1, 4, 5, 6, 7, 30, 31, 10_000, (1 << 31) - 1):
                response = complete(raw, "file:///pos.txt", line, character)
                assert "result" in response, response
        end = complete(raw, "file:///pos.txt", 0, 10_000)
        assert sorted(labels(end)) == ["govern", "government", "governor"]
        for item in end["result"]["items"]:  # the edit ends at the real end of the line
            assert item["textEdit"]["range"]["end"]["character"] < 10_000
        assert alive(raw)
    finally:
        raw.stop()


def test_edits_with_invalid_ranges_are_clamped(server: RawServer) -> None:
    uri = "file:///ranges.txt"
    open_document(server, uri, "The President of the\n")
    big = (1 << 31) - 1
    bad_ranges = [
        ({"line": 0, "character": 15}, {"line": 0, "character": 4}),  # start after end
        ({"line": 5, "character": 0}, {"line": 9, "character": 9}),  # past the end
        ({"line": 0, "character": big}, {"line": big, "character": big}),
        ({"line": 0, "character": 5}, {"line": 0, "character": 5}),
    ]
    for start, end in bad_ranges:
        change(server, uri, start, end, "\U0001f600\x00\r")
    change(server, uri, END, END, "gover")
    response = complete(server, uri, big, big)
    assert "result" in response
    assert alive(server)


def test_megabyte_line_binary_and_right_to_left_text(server: RawServer) -> None:
    line = ("the people of the United States " * (MEGABYTE // 32))[:MEGABYTE] + "é gover"
    open_document(server, "file:///mega.txt", line)
    assert sorted(labels(complete(server, "file:///mega.txt", 0, len(line)))) == [
        "govern",
        "government",
        "governor",
    ]
    hostile = (
        "\x00\x01\x1b[31m\x7f\x85 \u05e9\u05dc\u05d5\u05dd \u202ethe\u202c e\u0301\u0301\u0301 "
    )
    open_document(server, "file:///hostile.txt", hostile * 100 + "\ud800 the ")
    for character in range(0, 40, 3):
        assert "result" in complete(server, "file:///hostile.txt", 0, character)
    assert alive(server)


def test_thousands_of_edits_in_a_burst(server: RawServer) -> None:
    uri = "file:///burst.txt"
    open_document(server, uri, "")
    typed = "The President of the United States. " * 100
    for version, char in enumerate(typed, start=2):
        change(server, uri, END, END, char, version)
    change(server, uri, END, END, "gover", len(typed) + 2)
    assert sorted(labels(complete(server, uri, 0, len(typed) + 5))) == [
        "govern",
        "government",
        "governor",
    ]


def test_cancelled_requests_are_still_answered(server: RawServer) -> None:
    open_document(server, "file:///c.txt", "The President of the ")
    params = {"textDocument": {"uri": "file:///c.txt"}, "position": {"line": 0, "character": 21}}
    ids = [server.request("textDocument/completion", params) for _ in range(50)]
    for request_id in [*ids, 123456, "no-such-id"]:
        server.notify("$/cancelRequest", {"id": request_id})
    server.notify("$/cancelRequest", {"id": None})
    assert server.wait(ids) == []
    for request_id in ids:
        response = server.responses[request_id]
        assert "result" in response or response["error"]["code"] == -32800
    assert alive(server)


def test_shutdown_in_the_middle_of_work_then_exit(fresh: RawServer) -> None:
    server = fresh
    open_document(server, "file:///s.txt", "The President of the ")
    params = {"textDocument": {"uri": "file:///s.txt"}, "position": {"line": 0, "character": 21}}
    before = [server.request("textDocument/completion", params) for _ in range(30)]
    shutdown = server.request("shutdown")
    after = server.request("textDocument/completion", params)
    assert server.wait([*before, shutdown, after]) == []
    assert server.responses[shutdown]["result"] is None
    assert server.responses[after]["error"]["code"] == -32600
    server.notify("exit")
    assert server.process.wait(10) == 0


def test_exit_without_shutdown_exits_with_1(fresh: RawServer) -> None:
    fresh.notify("exit")
    assert fresh.process.wait(10) == 1


def test_closed_input_ends_the_server(fresh: RawServer) -> None:
    fresh.close_input()
    assert fresh.process.wait(10) is not None


def test_seeded_fuzz_finds_nothing() -> None:
    counts = fuzz(seconds=15, bundle=str(TINY_BUNDLE), seed=7, actions_per_session=40)
    assert counts.problems == []
    assert counts.crashes == counts.hangs == counts.internal_errors == counts.bad_exits == 0
    assert counts.requests == counts.answered > 100
    print(json.dumps({"inputs": counts.inputs, "answered": counts.answered}))


def shown_messages(raw: RawServer) -> list[str]:
    notifications = raw.drain_notifications()
    return [m["params"]["message"] for m in notifications if m["method"] == "window/showMessage"]


def test_a_request_that_is_not_utf8_gets_a_parse_error(fresh: RawServer) -> None:
    fresh.write(
        frame(b'{"jsonrpc":"2.0","id":7100,"method":"nextword/ping","params":{"x":"\xff"}}')
    )
    assert fresh.wait([7100]) == []
    assert fresh.responses[7100]["error"]["code"] == -32700
    assert "UTF-8" in fresh.responses[7100]["error"]["message"]
    assert alive(fresh)


def test_malformed_messages_are_logged_and_the_user_told_once(fresh: RawServer) -> None:
    for _ in range(3):
        for name in ("malformed JSON", "not an object", "not UTF-8", "body not JSON"):
            fresh.write(BROKEN_FRAMES[name])
        fresh.notify("textDocument/didOpen", {"textDocument": 5})
    assert alive(fresh)
    messages = shown_messages(fresh)
    assert len(messages) == 1 and "malformed" in messages[0], messages
    assert "Traceback" not in messages[0]


def test_an_error_answer_carries_one_short_line_not_a_traceback() -> None:
    from pygls.exceptions import JsonRpcInternalError

    from nextword.server.lsp.server import NextwordServer

    protocol = NextwordServer().protocol
    sent: list[object] = []
    protocol._send_data = sent.append  # type: ignore[method-assign]
    try:
        raise ValueError("a handler failed")
    except ValueError:
        error = JsonRpcInternalError.of(sys.exc_info()).to_response_error()
    assert error.data is not None  # pygls's own answer: the traceback
    protocol._send_response(1, error=error)
    (response,) = sent
    assert response.error.data is None  # type: ignore[attr-defined]
    assert response.error.message == "ValueError: a handler failed"  # type: ignore[attr-defined]
    assert response.error.code == -32603  # type: ignore[attr-defined]


def test_a_document_over_the_limit_is_refused_with_one_message(fresh: RawServer) -> None:
    from nextword.server.lsp.transport import MAX_DOCUMENT_CHARS

    uri = "file:///huge.txt"
    open_document(fresh, uri, "the government " * (MAX_DOCUMENT_CHARS // 15 + 1))
    assert labels(complete(fresh, uri, 0, 3)) == []
    change(fresh, uri, {"line": 0, "character": 0}, {"line": 0, "character": 0}, "The gov")
    assert labels(complete(fresh, uri, 0, 7)) == []
    messages = shown_messages(fresh)
    assert len(messages) == 1 and "too large" in messages[0], messages
    open_document(fresh, "file:///small.txt", "The gov")
    assert labels(complete(fresh, "file:///small.txt", 0, 7))
    assert shown_messages(fresh) == []
