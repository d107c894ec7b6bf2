"""A bundle that is missing, corrupt, tampered with or of another version is refused clearly."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from nextword.server.commands import info
from nextword.server.model.bundle import (
    DEFAULT_BUNDLE,
    INPUT_EMBEDDINGS,
    MANIFEST,
    OUTPUT_EMBEDDINGS,
    OUTPUT_SCALES,
    PREDICTOR,
    VOCAB,
    BundleError,
    load_bundle,
    quantize_rows,
    write_manifest,
)
from nextword.server.model.vocab import Vocabulary
from nextword.server.text.tokenizer import CONTINUE_SYMBOL, NUMBER_SYMBOL, PARAGRAPH_SYMBOL

INPUT_DIM, OUTPUT_DIM = 8, 6


def make_bundle(path: Path) -> Path:
    """A small, well-formed bundle (the ONNX file is opaque bytes: load_bundle only hashes it)."""
    path.mkdir(parents=True)
    words = {w: (w.capitalize() if w == "london" else w, 10) for w in ["a", "an", "and", "london"]}
    symbols = {".": 5, NUMBER_SYMBOL: 2, PARAGRAPH_SYMBOL: 3, CONTINUE_SYMBOL: 0, "<unk>": 1}
    vocab = Vocabulary.build(words, symbols)
    vocab.save(path / VOCAB)
    rng = np.random.default_rng(0)
    np.save(path / INPUT_EMBEDDINGS, rng.normal(size=(len(vocab), INPUT_DIM)).astype(np.float16))
    quantized, scales = quantize_rows(rng.normal(size=(len(vocab), OUTPUT_DIM)))
    np.save(path / OUTPUT_EMBEDDINGS, quantized)
    np.save(path / OUTPUT_SCALES, scales)
    (path / PREDICTOR).write_bytes(b"\x08\x07onnx-bytes" * 10)
    manifest = {
        "tokenizer": {"version": 1, "max_context_tokens": 64},
        "vocab": {"size": len(vocab), "n_words": vocab.n_words},
        "network": {
            "cell": "gru",
            "layers": 1,
            "hidden_size": 4,
            "input_dim": INPUT_DIM,
            "output_dim": OUTPUT_DIM,
            "state_shape": [1, 1, 4],
            "output": "continuous",
        },
    }
    write_manifest(path, manifest)
    return path


def rewrite_manifest(path: Path, change: Callable[[dict], None]) -> None:
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    change(manifest)
    (path / MANIFEST).write_text(json.dumps(manifest), encoding="utf-8")


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def wrong_dtype(path: Path) -> None:
    """A replaced array whose manifest entry was updated too: only the shape check catches it."""
    manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    np.save(path / INPUT_EMBEDDINGS, np.zeros((3, INPUT_DIM), dtype=np.float32))
    for key in ("format", "format_version", "files"):
        manifest.pop(key)
    write_manifest(path, manifest)


CORRUPTIONS: dict[str, tuple[Callable[[Path], None], str]] = {
    "manifest missing": (lambda p: (p / MANIFEST).unlink(), "manifest.json is missing"),
    "manifest not json": (
        lambda p: (p / MANIFEST).write_text("{not json", encoding="utf-8"),
        "not valid JSON",
    ),
    "not a bundle manifest": (
        lambda p: (p / MANIFEST).write_text("[1, 2]", encoding="utf-8"),
        "not a nextword bundle manifest",
    ),
    "wrong version": (
        lambda p: rewrite_manifest(p, lambda m: m.update(format_version=99)),
        "format version 99 is not supported",
    ),
    "file missing": (lambda p: (p / PREDICTOR).unlink(), "predictor.onnx is missing"),
    "file tampered": (
        lambda p: flip_byte(p / OUTPUT_EMBEDDINGS),
        "output_embeddings.npy does not match its sha256",
    ),
    "file truncated": (
        lambda p: (p / VOCAB).write_bytes((p / VOCAB).read_bytes()[:-3]),
        "vocab.tsv has",
    ),
    "file unlisted": (
        lambda p: rewrite_manifest(p, lambda m: m["files"].pop(INPUT_EMBEDDINGS)),
        "does not list input_embeddings.npy",
    ),
    "path in file name": (
        lambda p: rewrite_manifest(p, lambda m: m["files"].update({"../x": {}})),
        "bad file name",
    ),
    "section missing": (
        lambda p: rewrite_manifest(p, lambda m: m.pop("network")),
        "no 'network' section",
    ),
    "array of wrong shape": (wrong_dtype, "input_embeddings.npy is float32[3, 8]"),
}


def test_a_well_formed_bundle_loads(tmp_path: Path) -> None:
    bundle = load_bundle(make_bundle(tmp_path / "bundle"))
    assert bundle.vocab.n_words == 4
    assert bundle.input_embeddings.shape == (len(bundle.vocab), INPUT_DIM)
    norms = np.linalg.norm(bundle.output_embeddings, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5)
    assert bundle.vocab.display[bundle.vocab.index["london"]] == "London"


def test_missing_bundle_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_damaged_bundle_is_refused_naming_the_reason(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damage, reason = CORRUPTIONS[name]
    path = make_bundle(tmp_path / "bundle")
    damage(path)
    with pytest.raises(BundleError) as error:
        load_bundle(path)
    message = str(error.value)
    assert reason in message and "\n" not in message
    assert info.main(["--bundle", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and reason in captured.err


def test_info_command_fails_with_one_line_and_no_traceback(tmp_path: Path) -> None:
    path = make_bundle(tmp_path / "bundle")
    flip_byte(path / PREDICTOR)
    command = [sys.executable, "-m", "nextword.server.cli", "info", "--bundle", str(path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0
    assert "predictor.onnx does not match its sha256" in result.stderr


def test_info_json_of_a_good_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = make_bundle(tmp_path / "bundle")
    assert info.main(["--bundle", str(path), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["verified"] is True
    assert summary["manifest"]["vocab"]["n_words"] == 4


def test_the_committed_default_bundle_verifies(capsys: pytest.CaptureFixture[str]) -> None:
    if not (DEFAULT_BUNDLE / MANIFEST).exists():
        pytest.fail(f"the default bundle is missing from {DEFAULT_BUNDLE}")
    bundle = load_bundle()
    assert bundle.path == DEFAULT_BUNDLE
    assert sum(bundle.sizes.values()) <= 40_000_000  # the default bundle stays in git history
    assert info.main([]) == 0
    assert str(DEFAULT_BUNDLE) in capsys.readouterr().out
