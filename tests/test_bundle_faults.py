"""A broken model bundle gives one clear message and a server that stays up and answers.

Each case damages a copy of the tiny bundle, starts the real `nextword serve` on it over
stdio and checks: exactly one window/showMessage of type Error that names the file and the
reason, empty completions, answered pings, and a clean shutdown.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import hypothesis.strategies as st
import pytest
from conftest import TINY_BUNDLE
from hypothesis import given, settings

from nextword.server.model.bundle import BundleError, load_bundle, write_manifest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from rawlsp import RawServer, serve_command  # noqa: E402


def manifest_of(path: Path) -> dict:
    return json.loads((path / "manifest.json").read_text(encoding="utf-8"))


def truncate_onnx_and_rehash(path: Path) -> None:
    """A truncated predictor whose manifest was rewritten to match: only loading it fails."""
    onnx = path / "predictor.onnx"
    onnx.write_bytes(onnx.read_bytes()[: onnx.stat().st_size // 3])
    manifest = manifest_of(path)
    manifest.pop("files")
    write_manifest(path, manifest)


def set_manifest(path: Path, change: Callable[[dict], None]) -> None:
    manifest = manifest_of(path)
    change(manifest)
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def flip_a_byte(file: Path) -> None:
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    file.write_bytes(bytes(data))


FAULTS: dict[str, tuple[Callable[[Path], None], list[str]]] = {
    "missing file": (lambda p: (p / "vocab.tsv").unlink(), ["vocab.tsv", "missing"]),
    "wrong hash": (
        lambda p: flip_a_byte(p / "input_embeddings.npy"),
        ["input_embeddings.npy", "sha256"],
    ),
    "truncated onnx, hash mismatch": (
        lambda p: (p / "predictor.onnx").write_bytes((p / "predictor.onnx").read_bytes()[:100]),
        ["predictor.onnx", "bytes"],
    ),
    "truncated onnx, matching hash": (
        truncate_onnx_and_rehash,
        ["predictor.onnx", "cannot be loaded"],
    ),
    "unknown manifest version": (
        lambda p: set_manifest(p, lambda m: m.update(format_version=99)),
        ["format version 99", "not supported"],
    ),
    "manifest not JSON": (
        lambda p: (p / "manifest.json").write_text("{nope", encoding="utf-8"),
        ["manifest.json", "not valid JSON"],
    ),
    "no bundle at all": (lambda p: shutil.rmtree(p), ["does not exist"]),
    "manifest nested too deeply": (
        lambda p: (p / "manifest.json").write_text("[" * 100_000 + "]" * 100_000),
        ["manifest.json", "nested too deeply"],
    ),
    "a files entry that is not an object": (
        lambda p: set_manifest(p, lambda m: m["files"].update({"vocab.tsv": "abc"})),
        ["manifest.json", "vocab.tsv"],
    ),
    "a files entry with a text size": (
        lambda p: set_manifest(p, lambda m: m["files"]["vocab.tsv"].update(bytes="12")),
        ["manifest.json", "vocab.tsv"],
    ),
    "absurd state shape": (
        lambda p: set_manifest(p, lambda m: m["network"].update(state_shape=[1 << 30, 1, 1 << 30])),
        ["manifest.json", "state_shape", "absurd"],
    ),
    "state shape the predictor does not take": (
        lambda p: set_manifest(p, lambda m: m["network"].update(state_shape=[1, 1, 13])),
        ["predictor.onnx", "state", "13"],
    ),
    "absurd context length": (
        lambda p: set_manifest(p, lambda m: m["tokenizer"].update(max_context_tokens=-5)),
        ["manifest.json", "max_context_tokens"],
    ),
}


def error_messages(raw: RawServer) -> list[dict]:
    messages = [m for m in raw.drain_notifications() if m["method"] == "window/showMessage"]
    return [m["params"] for m in messages]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_a_broken_bundle_gives_one_message_and_a_working_server(tmp_path: Path, fault: str) -> None:
    damage, reasons = FAULTS[fault]
    bundle = tmp_path / "bundle"
    shutil.copytree(TINY_BUNDLE, bundle)
    damage(bundle)
    raw = RawServer(serve_command(str(bundle)), tmp_path / "server.log")
    try:
        init = raw.request("initialize", {"processId": None, "rootUri": None, "capabilities": {}})
        assert raw.wait([init]) == []
        assert "capabilities" in raw.responses[init]["result"]
        raw.notify("initialized", {})
        item = {"uri": "file:///a.txt", "languageId": "plaintext", "version": 1, "text": "the gov"}
        raw.notify("textDocument/didOpen", {"textDocument": item})
        position = {"line": 0, "character": 7}
        ids = [
            raw.request(
                "textDocument/completion",
                {"textDocument": {"uri": "file:///a.txt"}, "position": position},
            )
            for _ in range(3)
        ]
        stats = raw.request("nextword/stats", {})
        assert raw.wait([*ids, stats]) == []
        for request_id in ids:
            assert raw.responses[request_id]["result"] == []
        assert raw.responses[stats]["result"]["loaded"] is False
        time.sleep(0.3)
        messages = error_messages(raw)
        assert len(messages) == 1, messages
        assert messages[0]["type"] == 1  # Error
        text = messages[0]["message"]
        assert all(reason in text for reason in reasons), text
        assert "\n" not in text and "Traceback" not in text
        shutdown = raw.request("shutdown")
        assert raw.wait([shutdown]) == []
        raw.notify("exit")
        assert raw.process.wait(10) == 0
        assert "Traceback" not in (tmp_path / "server.log").read_text(errors="replace")
    finally:
        raw.stop()


@pytest.mark.parametrize("fault", list(FAULTS))
def test_nextword_info_names_a_broken_bundle_in_one_line(
    tmp_path: Path, fault: str, capsys: pytest.CaptureFixture
) -> None:
    from nextword.server import cli

    damage, reasons = FAULTS[fault]
    bundle = tmp_path / "bundle"
    shutil.copytree(TINY_BUNDLE, bundle)
    damage(bundle)
    try:
        from nextword.server.engine.engine import load_engine

        load_engine(bundle)  # the server's whole load, past the manifest
    except BundleError as error:
        assert all(reason in str(error) for reason in reasons), error
    else:
        raise AssertionError("the broken bundle loaded")
    try:
        load_bundle(bundle)
    except BundleError:
        pass
    else:
        return  # a fault in the network itself: `info` verifies files, it does not run them
    assert cli.main(["info", "--bundle", str(bundle)]) == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and all(reason in error for reason in reasons), error


def test_a_stray_dotfile_does_not_break_a_bundle(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    shutil.copytree(TINY_BUNDLE, bundle)
    (bundle / ".DS_Store").write_bytes(b"Bud1")
    load_bundle(bundle)
    write_manifest(bundle, manifest_of(bundle))  # as `nextword ngrams` rewrites it
    assert ".DS_Store" not in manifest_of(bundle)["files"]
    load_bundle(bundle)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
PLACES = [
    (), ("files",), ("network",), ("tokenizer",), ("vocab",), ("format_version",),
    ("files", "vocab.tsv"), ("files", "vocab.tsv", "bytes"), ("files", "vocab.tsv", "sha256"),
    ("files", "predictor.onnx"), ("network", "state_shape"), ("network", "input_dim"),
    ("network", "output_dim"), ("network", "output"), ("network", "word_bias"),
    ("vocab", "size"), ("vocab", "n_words"), ("tokenizer", "max_context_tokens"),
]  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(place=st.sampled_from(PLACES), value=JSON)
def test_any_manifest_loads_or_is_refused_as_a_bundle_error(place: tuple, value: object) -> None:
    """Whatever JSON sits anywhere in the manifest, loading gives a bundle or a BundleError."""
    with tempfile.TemporaryDirectory() as scratch:
        bundle = Path(scratch) / "bundle"
        shutil.copytree(TINY_BUNDLE, bundle)
        manifest = manifest_of(bundle)
        if place:
            holder = manifest
            for key in place[:-1]:
                holder = holder[key]
            holder[place[-1]] = value
        else:
            manifest = value
        (bundle / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
        try:
            from nextword.server.engine.engine import load_engine

            load_engine(bundle)
        except BundleError as error:
            assert "\n" not in str(error)
