"""What the server's memory and start are made of: no float32 copy of the target table, no faiss,
state cache bounds that count what entries cost, corpus counts decoded once and memory-mapped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
from conftest import default_bundle_present

from nextword.server.engine.states import StateCache
from nextword.server.model.bundle import DEFAULT_BUNDLE, BundleError, load_bundle
from nextword.server.model.ngrams import FILE_NAME as NGRAMS
from nextword.server.model.ngrams import NgramTable
from nextword.server.model.predictor import CachedStep

needs_default_bundle = pytest.mark.skipif(not default_bundle_present(), reason="no default bundle")

FLOAT32_TABLE_BYTES = 32_000 * 384 * 4

LOAD_AND_TRACE = """
import json, sys, tracemalloc
tracemalloc.start()
from nextword.server.engine.engine import load_engine
from nextword.server.engine.documents import DocumentState
engine = load_engine()
document = DocumentState.open("mem://a", "The President of the Uni")
words = [c.text for c in engine.complete(document, 0, 24)]
current, peak = tracemalloc.get_traced_memory()
print(json.dumps({"current": current, "peak": peak, "faiss": "faiss" in sys.modules,
                  "words": words}))
"""


@needs_default_bundle
def test_loading_the_default_bundle_copies_no_table_to_float32(tmp_path: Path) -> None:
    environment = {**os.environ, "XDG_CACHE_HOME": str(tmp_path)}
    runs = []
    for _ in range(2):  # the first start decodes the counts, the second maps them
        completed = subprocess.run(
            [sys.executable, "-c", LOAD_AND_TRACE], capture_output=True, text=True,
            timeout=300, env=environment,
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr[-2000:]
        runs.append(json.loads(completed.stdout))
    first, traced = runs
    assert "United" in traced["words"] and traced["words"] == first["words"]
    assert not traced["faiss"]
    # numpy's and Python's allocations are traced (onnxruntime's are not): the transposed int8
    # table is a file mapping, the counts too once decoded (17 MB as arrays); a float32 copy of
    # the 32k x 384 table, even for a moment, would add 49 MB.
    assert traced["current"] < 25 << 20
    assert traced["peak"] < FLOAT32_TABLE_BYTES


def test_the_state_cache_counts_what_its_entries_cost() -> None:
    cache = StateCache(1 << 40, 1 << 40)
    states = cache.new_document()
    prefix = tuple(range(1000, 1030))
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for number in range(5000):
            key = prefix[: number % 30 + 1] + (number,)
            step = CachedStep(np.zeros((1, 1, 512), np.float32), np.zeros((1, 384), np.float32))
            states.put(key, step)
        used = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert abs(cache.nbytes - used) < 0.1 * used
    assert states.nbytes == cache.nbytes


def evidence_of(table: NgramTable, contexts: list[tuple[int, ...]]) -> list[tuple]:
    found = []
    for context in contexts:
        evidence = table.evidence(context, 0, 32_000, 0.75)
        found.append((evidence.ids.tolist(), evidence.explicit.tolist(), evidence.network_share))
    return found


def is_mapped(array: np.ndarray) -> bool:
    while array is not None and not isinstance(array, np.memmap):
        array = array.base
    return array is not None


@needs_default_bundle
def test_counts_are_decoded_once_then_read_mapped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    decoded = load_bundle().ngrams
    assert decoded is not None and not is_mapped(decoded.levels[0].next_ids)
    folders = list((tmp_path / "nextword" / "ngrams").iterdir())
    assert len(folders) == 1
    mapped = load_bundle().ngrams
    assert mapped is not None
    assert all(is_mapped(array) for level in mapped.levels for array in vars(level).values())
    rng = np.random.default_rng(0)
    contexts = [tuple(int(i) for i in rng.integers(0, 32_000, 3)) for _ in range(200)]
    contexts += [(9_000, 30_000, 28_000), (30_000,), (28_000, 30_000)]
    assert evidence_of(mapped, contexts) == evidence_of(decoded, contexts)
    # A damaged folder is passed over: the counts are decoded again.
    (folders[0] / "1_offsets.npy").write_bytes(b"\x93NUMPY broken")
    again = load_bundle().ngrams
    assert again is not None and not is_mapped(again.levels[0].next_ids)
    assert evidence_of(again, contexts) == evidence_of(decoded, contexts)


@needs_default_bundle
def test_a_changed_counts_file_is_refused_though_its_decoding_is_cached(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    for child in DEFAULT_BUNDLE.iterdir():
        os.link(child, bundle / child.name)
    assert load_bundle(bundle).ngrams is not None  # decoded and cached
    data = bytearray((bundle / NGRAMS).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (bundle / NGRAMS).unlink()  # a new file: the default bundle's stays as it is
    (bundle / NGRAMS).write_bytes(bytes(data))
    with pytest.raises(BundleError, match="ngrams.npz does not match its sha256"):
        load_bundle(bundle)
