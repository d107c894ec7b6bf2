"""The model bundle: the one interface between the exporter (writes) and the server (reads).

A bundle is a directory:

- `manifest.json`: format and version, tokenizer and context settings, vocabulary size, network
  shape, training corpus and settings, dev figures, and the sha256 and size of every other file.
- `predictor.onnx`: one recurrent step. Inputs `input` float32 [1, input_dim] (the token's input
  embedding) and `state` float32 [layers, 1, state_size] (GRU: h; LSTM: h and c concatenated on
  the last axis). Outputs `output` float32 [1, output_dim] and `state_out` like `state`.
  Continuous output: a vector in the target space (direction is what counts; its norm is the vMF
  concentration when trained with that loss). Softmax output: logits over the vocabulary.
- `vocab.tsv`: see `nextword.server.model.vocab`.
- `input_embeddings.npy`: float16 [vocab, input_dim].
- `output_embeddings.npy` int8 [vocab, output_dim] and `output_scales.npy` float32 [vocab]:
  the frozen target vectors, row i = int8 row * scale (continuous output only).
- `output_bias.npy` float32 [vocab], when the manifest's network says `word_bias`: a learned
  per-word bias b_w. A word then scores output.e_w + b_w with the raw (unnormalised) output, a
  log-probability up to a constant; without it, the cosine of the output with e_w.
- `ngrams.npz` (optional): word bigram and trigram counts of the training corpus, layered over
  the network when ranking; see `nextword.server.model.ngrams`.

`load_bundle` is the only function that reads a bundle. It verifies the format version and every
file's hash before anything is used, and raises `BundleError` naming the file and the reason.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from nextword.server.model.derived import ngram_folder, read_ngrams, write_ngrams
from nextword.server.model.ngrams import FILE_NAME as NGRAMS
from nextword.server.model.ngrams import NgramError, NgramTable, load_ngrams
from nextword.server.model.rows import CHUNK_ROWS
from nextword.server.model.vocab import Vocabulary, VocabularyError

FORMAT_NAME = "nextword-bundle"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
PREDICTOR = "predictor.onnx"
VOCAB = "vocab.tsv"
INPUT_EMBEDDINGS = "input_embeddings.npy"
OUTPUT_EMBEDDINGS = "output_embeddings.npy"
OUTPUT_SCALES = "output_scales.npy"
OUTPUT_BIAS = "output_bias.npy"

DEFAULT_BUNDLE = Path(__file__).resolve().parent.parent / "default_bundle"
MAX_DIMENSION = 1 << 16
"""Largest width or layer count a manifest may state (the default bundle's widest is 512)."""
MAX_STATE_VALUES = 1 << 24
"""Most numbers in the recurrent state (64 MB as float32)."""
MAX_CONTEXT_TOKENS = 1 << 20


class BundleError(Exception):
    """A bundle that cannot be used; the message is one line meant for the user."""


@dataclass
class Bundle:
    path: Path
    manifest: dict[str, Any]
    vocab: Vocabulary
    input_embeddings: np.ndarray  # float16 [vocab, input_dim], as stored
    output_codes: np.ndarray | None  # int8 [vocab, output_dim]; None: softmax output
    output_scales: np.ndarray | None  # float32 [vocab]: row i = codes[i] * scales[i], unit length
    sizes: dict[str, int] = field(default_factory=dict)
    output_bias: np.ndarray | None = None  # float32 [vocab]: learned word bias, if any
    ngrams: NgramTable | None = None  # corpus counts, if the bundle has them

    @property
    def output_embeddings(self) -> np.ndarray | None:
        """All target rows, unit length, float32 [vocab, output_dim]; None for softmax output.
        Computed on each use (49 MB for 32k words): the bundle keeps them as int8."""
        return None if self.output_codes is None else self.output_rows(slice(None))

    @property
    def output_dim(self) -> int:
        """Width of the target rows (continuous output), of the logits (softmax)."""
        return int(self.network["output_dim"])

    def output_rows(self, ids: np.ndarray | slice) -> np.ndarray:
        """Target rows `ids`, float32 [n, output_dim]."""
        assert self.output_codes is not None and self.output_scales is not None
        return self.output_codes[ids].astype(np.float32) * self.output_scales[ids, None]

    @property
    def predictor_path(self) -> Path:
        return self.path / PREDICTOR

    @property
    def network(self) -> dict[str, Any]:
        return self.manifest["network"]

    @property
    def max_context_tokens(self) -> int:
        return int(self.manifest["tokenizer"]["max_context_tokens"])

    @property
    def state_shape(self) -> tuple[int, ...]:
        return tuple(self.network["state_shape"])

    @property
    def is_softmax(self) -> bool:
        return self.network.get("output") == "softmax"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def bundle_identity(path: Path | str | None) -> str:
    """What is learned or stored for a bundle is tied to: the sha256 of its manifest (which
    holds every other file's sha256); "" when it cannot be read. None: the default bundle."""
    try:
        return sha256_of((Path(path).expanduser() if path else DEFAULT_BUNDLE) / MANIFEST)
    except OSError:
        return ""


def read_manifest(path: Path) -> dict[str, Any]:
    manifest_path = path / MANIFEST
    if not path.is_dir():
        raise BundleError(f"model bundle {path} does not exist or is not a directory")
    if not manifest_path.is_file():
        raise BundleError(f"model bundle {path}: {MANIFEST} is missing")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:  # ValueError: JSONDecodeError
        raise BundleError(f"model bundle {path}: {MANIFEST} is not valid JSON ({error})") from None
    except RecursionError:
        raise BundleError(f"model bundle {path}: {MANIFEST} is nested too deeply") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise BundleError(f"model bundle {path}: {MANIFEST} is not a nextword bundle manifest")
    version = manifest.get("format_version")
    if version != FORMAT_VERSION:
        raise BundleError(
            f"model bundle {path}: format version {version!r} is not supported "
            f"(this nextword reads version {FORMAT_VERSION})"
        )
    for key in ("files", "network", "tokenizer", "vocab"):
        if not isinstance(manifest.get(key), dict):
            raise BundleError(f"model bundle {path}: {MANIFEST} has no '{key}' section")
    return manifest


def verify_files(path: Path, manifest: dict[str, Any]) -> dict[str, int]:
    """Check every listed file's size and sha256; return {name: bytes}."""
    files: dict[str, Any] = manifest["files"]
    required = {PREDICTOR, VOCAB, INPUT_EMBEDDINGS}
    if manifest["network"].get("output") != "softmax":
        required |= {OUTPUT_EMBEDDINGS, OUTPUT_SCALES}
        if manifest["network"].get("word_bias"):
            required.add(OUTPUT_BIAS)
    for name in sorted(required - files.keys()):
        raise BundleError(f"model bundle {path}: {MANIFEST} does not list {name}")
    sizes: dict[str, int] = {}
    for name, entry in sorted(files.items()):
        file_path = path / name
        if "/" in name or "\\" in name or name.startswith("."):
            raise BundleError(f"model bundle {path}: {MANIFEST} lists a bad file name {name!r}")
        if not (
            isinstance(entry, dict)
            and isinstance(entry.get("sha256"), str)
            and type(entry.get("bytes")) is int
        ):
            raise BundleError(
                f"model bundle {path}: {MANIFEST} has no sha256 and bytes for {name!r}"
            )
        if not file_path.is_file():
            raise BundleError(f"model bundle {path}: {name} is missing")
        size = file_path.stat().st_size
        if size != entry.get("bytes"):
            raise BundleError(
                f"model bundle {path}: {name} has {size} bytes, manifest says {entry.get('bytes')}"
            )
        if sha256_of(file_path) != entry.get("sha256"):
            raise BundleError(f"model bundle {path}: {name} does not match its sha256 in manifest")
        sizes[name] = size
    return sizes


def _load_array(
    path: Path, name: str, dtype: type, shape: tuple[int | None, ...], mapped: bool = False
) -> np.ndarray:
    """The array `name`, checked against dtype and shape; `mapped`: memory-mapped read-only (only
    the rows used become resident; bundle files are replaced, never changed in place)."""
    try:
        array = np.load(path / name, allow_pickle=False, mmap_mode="r" if mapped else None)
    except (OSError, ValueError) as error:
        raise BundleError(
            f"model bundle {path}: {name} is not a readable array ({error})"
        ) from None
    expected = all(want is None or want == got for want, got in zip(shape, array.shape))
    if array.dtype != dtype or array.ndim != len(shape) or not expected:
        raise BundleError(
            f"model bundle {path}: {name} is {array.dtype}{list(array.shape)}, "
            f"expected {np.dtype(dtype)}{list(shape)}"
        )
    return array


def row_norms(codes: np.ndarray, scales: np.ndarray, chunk: int = CHUNK_ROWS) -> np.ndarray:
    """The Euclidean norm of each row codes * scale, float32, a chunk of rows at a time."""
    norms = np.empty(len(codes), np.float32)
    for start in range(0, len(codes), chunk):
        part = slice(start, start + chunk)
        rows = codes[part].astype(np.float32) * scales[part, None]
        norms[part] = np.linalg.norm(rows, axis=1)
    return norms


def check_shapes(
    path: Path, input_dim: int, output_dim: int, context_tokens: int, state_shape: tuple[int, ...]
) -> None:
    """Refuse sizes no network has (they would fail later, allocating)."""
    widths = {"input_dim": input_dim, "output_dim": output_dim}
    for name, value in widths.items():
        if not 1 <= value <= MAX_DIMENSION:
            raise BundleError(f"model bundle {path}: {MANIFEST} network {name} {value} is absurd")
    if not 1 <= context_tokens <= MAX_CONTEXT_TOKENS:
        raise BundleError(
            f"model bundle {path}: {MANIFEST} max_context_tokens {context_tokens} is absurd"
        )
    values = 1
    for size in state_shape:
        values *= size if 1 <= size <= MAX_DIMENSION else 0
    if not state_shape or not 1 <= values <= MAX_STATE_VALUES:
        raise BundleError(
            f"model bundle {path}: {MANIFEST} network state_shape {list(state_shape)} is absurd"
        )


def load_bundle(path: Path | str | None = None) -> Bundle:
    """Read and verify a bundle (the default one when path is None)."""
    path = Path(path).expanduser() if path else DEFAULT_BUNDLE
    manifest = read_manifest(path)
    sizes = verify_files(path, manifest)
    network = manifest["network"]
    try:
        vocab = Vocabulary.load(path / VOCAB, int(manifest["vocab"]["n_words"]))
        vocab_size = int(manifest["vocab"]["size"])
        input_dim = int(network["input_dim"])
        output_dim = int(network["output_dim"])
        context_tokens = int(manifest["tokenizer"]["max_context_tokens"])
        state_shape = tuple(int(n) for n in network["state_shape"])
    except VocabularyError as error:
        raise BundleError(f"model bundle {path}: {error}") from None
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise BundleError(f"model bundle {path}: {MANIFEST} lacks or garbles {error}") from None
    check_shapes(path, input_dim, output_dim, context_tokens, state_shape)
    if len(vocab) != vocab_size:
        raise BundleError(f"model bundle {path}: {VOCAB} has {len(vocab)} rows, not {vocab_size}")
    inputs = _load_array(path, INPUT_EMBEDDINGS, np.float16, (vocab_size, input_dim), True)
    codes = scales = bias = None
    if network.get("output") != "softmax":
        codes = _load_array(path, OUTPUT_EMBEDDINGS, np.int8, (vocab_size, output_dim), True)
        stored = _load_array(path, OUTPUT_SCALES, np.float32, (vocab_size,))
        norms = row_norms(codes, stored)
        scales = (stored / np.maximum(norms, 1e-12)).astype(np.float32)  # unit rows
        if network.get("word_bias"):
            bias = _load_array(path, OUTPUT_BIAS, np.float32, (vocab_size,))
            if not np.isfinite(bias).all():
                raise BundleError(f"model bundle {path}: {OUTPUT_BIAS} holds non-finite values")
    ngrams = None
    if NGRAMS in sizes:
        ngrams = _ngrams(path, manifest["files"][NGRAMS]["sha256"], vocab_size, vocab.n_words)
    return Bundle(path, manifest, vocab, inputs, codes, scales, sizes, bias, ngrams)


def _ngrams(path: Path, sha256: str, vocab_size: int, n_words: int) -> NgramTable:
    """The bundle's corpus counts: decoded once, then memory-mapped from the cache (derived.py)."""
    folder = ngram_folder(sha256)
    cached = None if folder is None else read_ngrams(folder, vocab_size, n_words)
    if cached is not None:
        return cached
    try:
        ngrams = load_ngrams(path / NGRAMS, vocab_size, n_words)
    except NgramError as error:
        raise BundleError(f"model bundle {path}: {error}") from None
    if folder is not None:
        write_ngrams(folder, ngrams, n_words)
    return ngrams


def quantize_rows(table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows with one float32 scale each (symmetric, per row)."""
    table = np.asarray(table, dtype=np.float32)
    scales = np.abs(table).max(axis=1) / 127.0
    scales[scales == 0] = 1.0
    quantized = np.clip(np.rint(table / scales[:, None]), -127, 127).astype(np.int8)
    return quantized, scales.astype(np.float32)


def write_manifest(path: Path, manifest: dict[str, Any]) -> None:
    """Fill in `files` (sha256 and size of every other file in `path`) and write the manifest."""
    manifest = dict(manifest, format=FORMAT_NAME, format_version=FORMAT_VERSION)
    manifest["files"] = {  # dotfiles (.DS_Store, temporary files) are not the bundle's
        child.name: {"sha256": sha256_of(child), "bytes": child.stat().st_size}
        for child in sorted(path.iterdir())
        if child.is_file() and child.name != MANIFEST and not child.name.startswith(".")
    }
    text = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False) + "\n"
    (path / MANIFEST).write_text(text, encoding="utf-8")


def install_directory(staging: Path, out: Path) -> None:
    """Put the finished folder `staging` at `out` (a sibling), replacing the bundle there: a
    reader sees the old bundle or the new one, never a mix."""
    if not out.exists():
        staging.rename(out)
        return
    retired = out.with_name(f".{out.name}.old")
    shutil.rmtree(retired, ignore_errors=True)
    out.rename(retired)
    staging.rename(out)
    shutil.rmtree(retired, ignore_errors=True)


def link_or_copy(source: Path, target: Path) -> None:
    """A hard link (bundle files are replaced, never changed in place), else a copy."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
