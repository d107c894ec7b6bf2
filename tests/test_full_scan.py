"""The int8 searches (full_scan.py, search.py) return exactly the float32 search's words."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import default_bundle_present

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.model.full_scan import GRAPH_PATH, FullScan, release_pages, transposed_table
from nextword.server.model.predictor import session_options

pytestmark = pytest.mark.skipif(not default_bundle_present(), reason="no default bundle")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return load_engine()


def exact_top(rows: np.ndarray, query: np.ndarray, k: int, lo: int = 0, hi: int = -1) -> np.ndarray:
    """The k best of rows [lo, hi) (float32 [n, dim + 2]) by a float32 product, ties by id."""
    hi = len(rows) if hi < 0 else hi
    scores = rows[lo:hi] @ query
    return lo + np.lexsort((np.arange(len(scores)), -scores))[:k]


@pytest.fixture(scope="module")
def float_rows(engine: Engine) -> np.ndarray:
    return engine.search.rows()


def realistic_queries(engine: Engine, count: int, seed: int) -> list[np.ndarray]:
    """Queries as the server makes them: the network's outputs after random word sequences."""
    rng = np.random.default_rng(seed)
    words = engine.vocab.folded[: engine.vocab.n_words]
    document = DocumentState.open("mem://q", "")
    queries = []
    for _ in range(count):
        tokens = [words[i] for i in rng.integers(0, len(words), rng.integers(1, 12))]
        prediction = engine.prediction(document, engine.context_key(tokens))
        queries.append(engine.search.query(prediction, engine.settings.ranking)[0])
    return queries


def test_the_graph_file_is_what_the_exporter_writes() -> None:
    pytest.importorskip("onnx")
    from nextword.exporter.full_scan_graph import graph_bytes

    assert GRAPH_PATH.read_bytes() == graph_bytes()


def test_same_words_and_scores_as_the_exact_float_search(
    engine: Engine, float_rows: np.ndarray
) -> None:
    scan = engine.search.full_scan
    assert scan is not None
    queries = realistic_queries(engine, 60, seed=1)
    rng = np.random.default_rng(2)
    queries += [rng.standard_normal(scan.dim + 2).astype(np.float32) * s for s in (0.1, 1, 5)]
    for query in queries:
        for k in (1, 64, 300):
            scores, ids = scan.search(query, k)
            expected = exact_top(float_rows, query, k)
            assert ids.tolist() == expected.tolist()
            assert np.allclose(scores, float_rows[expected] @ query, rtol=0, atol=1e-4)


def test_a_range_gives_the_exact_words_of_that_range(
    engine: Engine, float_rows: np.ndarray
) -> None:
    """Both ways a prefix's range is searched: from a kept scan's approximations, and every row
    of the range scored (no scan kept for the query)."""
    search, scan = engine.search, engine.search.full_scan
    assert scan is not None
    vocab = engine.vocab
    ranges = [vocab.prefix_range(prefix) for prefix in ("s", "c", "th", "pre", "q", "zz")]
    ranges += [(0, 300), (100, 357), (scan.n - 5000, scan.n), (31, 32)]
    for kept in (True, False):
        for query in realistic_queries(engine, 8, seed=4):
            if kept:
                scan.approximate(query)
            assert (scan.kept(query) is not None) == kept
            runs = scan.runs
            for lo, hi in ranges:
                for k in (1, 64, 300):
                    scores, ids = search.search_range(query, k, lo, hi)
                    expected = exact_top(float_rows, query, k, lo, hi)
                    assert ids.tolist() == expected.tolist()
                    assert np.allclose(scores, float_rows[expected] @ query, atol=1e-4)
            assert scan.runs == runs  # no range ran the scan
            scan._approximations.clear()


def test_a_short_shortlist_falls_back_and_stays_exact(engine: Engine) -> None:
    # With no room beyond k the bound check fails, so the wider rescoring path must run.
    full = engine.search.full_scan
    assert full is not None
    scan = FullScan(full.rows, session_options(), shortlist=1)
    lo, hi = engine.vocab.prefix_range("s")
    rows = engine.search.rows()
    for query in realistic_queries(engine, 10, seed=3):
        scores, ids = scan.search(query, 8)
        assert ids.tolist() == exact_top(rows, query, 8).tolist()
        found = scan.search_kept(query, 8, lo, hi)
        assert found is not None and found[1].tolist() == exact_top(rows, query, 8, lo, hi).tolist()
    assert scan.fallbacks > 0


def scan_and_exact_completions(engine: Engine, text: str) -> tuple[list, list]:
    """Completions at the end of `text` with the int8 scan, then scoring every row instead."""
    with_scan = engine.complete(DocumentState.open("mem://scan", text), 0, len(text))
    scan, engine.search.full_scan = engine.search.full_scan, None
    try:
        without = engine.complete(DocumentState.open("mem://exact", text), 0, len(text))
    finally:
        engine.search.full_scan = scan
    return with_scan, without


def test_completions_after_a_space_equal_those_of_scoring_every_row(engine: Engine) -> None:
    text = "The committee met on Tuesday and the members agreed that the plan was "
    with_scan, without = scan_and_exact_completions(engine, text)
    assert [c.text for c in with_scan] == [c.text for c in without]
    # The corpus counts' mixing divides by the partition, which the scan estimates from its int8
    # scores (off by ~0.002 here) and the float path computes exactly; the search itself is exact.
    assert np.allclose([c.score for c in with_scan], [c.score for c in without], atol=1e-2)
    engine.settings.ngrams.enabled = False
    try:
        with_scan, without = scan_and_exact_completions(engine, text)
    finally:
        engine.settings.ngrams.enabled = True
    assert [c.text for c in with_scan] == [c.text for c in without]
    assert np.allclose([c.score for c in with_scan], [c.score for c in without], atol=1e-4)


def test_the_scans_table_is_a_file_mapping_onnxruntime_can_leave_on_disk() -> None:
    codes = np.random.default_rng(0).integers(-127, 128, (300, 7)).astype(np.int8)
    table = transposed_table(codes)
    assert isinstance(table, np.memmap)  # its pages can leave the resident set
    assert table.flags.c_contiguous and np.array_equal(table, codes.T)
    release_pages(table)
    assert np.array_equal(table, codes.T)  # read back from the file
