"""Corpus reading: gzip files and folders, kinds, the dev split across files, the token cache."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pytest

from nextword.exporter import corpus as corpus_module
from nextword.exporter.corpus import corpus_files, parse_kind_rules, tokenize_file
from nextword.exporter.data import prepare_training_data, tokenize_corpus

LINES = [f"Paragraph number {n} says the repository config is async." for n in range(1, 31)]


def write_corpus(folder: Path) -> None:
    folder.mkdir()
    (folder / "a-commits.txt").write_text("\n".join(LINES[:10]) + "\n", encoding="utf-8")
    with gzip.open(folder / "b-docs.txt.gz", "wt", encoding="utf-8") as stream:
        stream.write("\n".join(LINES[10:]) + "\n")
    (folder / "notes.md").write_text("not a corpus file\n", encoding="utf-8")


def test_folders_give_txt_and_gz_files_with_kinds(tmp_path: Path) -> None:
    write_corpus(tmp_path / "modern")
    files = corpus_files([tmp_path / "modern"], ["commits=*-commits.txt*"])
    assert [(f.path.name, f.kind) for f in files] == [
        ("a-commits.txt", "commits"),
        ("b-docs.txt.gz", "modern"),
    ]
    with pytest.raises(ValueError, match="NAME=GLOB"):
        parse_kind_rules(["commits"])


def test_gzip_text_is_read_and_dev_is_numbered_across_files(tmp_path: Path) -> None:
    write_corpus(tmp_path / "modern")
    corpus = tokenize_corpus([tmp_path / "modern"], dev_every=7, kind_rules=["commits=a-*"])
    assert corpus.summary.paragraphs == 30
    assert corpus.summary.dev_paragraphs == 4  # paragraphs 7, 14, 21, 28 of 30
    assert corpus.dev_kinds == ["commits", "modern", "modern", "modern"]
    numbers = [corpus.symbols[p[2]] for p in corpus.dev]
    assert numbers == ["<num>"] * 4
    assert corpus.summary.words_by_kind == {"commits": 80, "modern": 160}


def test_token_cache_is_used_and_follows_the_file(tmp_path: Path, monkeypatch) -> None:
    write_corpus(tmp_path / "modern")
    cache = tmp_path / "cache"
    path = tmp_path / "modern" / "b-docs.txt.gz"
    first = tokenize_file(path, "auto", cache)
    assert len(list(cache.glob("*.npz"))) == 1
    calls = []
    real = corpus_module.tokenize_text
    monkeypatch.setattr(corpus_module, "tokenize_text", lambda *a: calls.append(1) or real(*a))
    again = tokenize_file(path, "auto", cache)
    assert not calls
    for name, value in vars(first).items():
        if isinstance(value, np.ndarray):
            assert np.array_equal(value, getattr(again, name)), name
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write("Changed text entirely.\n")
    os.utime(path, ns=(1, 1))
    changed = tokenize_file(path, "auto", cache)
    assert calls and changed.n_paragraphs == 1


def test_a_damaged_cache_file_is_tokenized_again(tmp_path: Path) -> None:
    write_corpus(tmp_path / "modern")
    cache = tmp_path / "cache"
    path = tmp_path / "modern" / "a-commits.txt"
    fresh = tokenize_file(path, "auto", cache)
    (cached,) = cache.glob("*.npz")
    cached.write_bytes(b"not a zip")
    again = tokenize_file(path, "auto", cache)
    assert np.array_equal(again.tokens, fresh.tokens)


def test_cached_corpus_equals_uncached(tmp_path: Path) -> None:
    write_corpus(tmp_path / "modern")
    options = dict(paths=[str(tmp_path / "modern")], max_context_tokens=8, dev_every=5)
    plain = prepare_training_data(**options)
    cached = prepare_training_data(**options, cache_dir=tmp_path / "cache")
    again = prepare_training_data(**options, cache_dir=tmp_path / "cache")
    for data in (cached, again):
        assert data.vocab.folded == plain.vocab.folded
        assert np.array_equal(data.train.tokens, plain.train.tokens)
        assert np.array_equal(data.dev.tokens, plain.dev.tokens)
    assert set(plain.dev_by_kind) == {"modern"}
    assert plain.dev_by_kind["modern"].chunks.n_tokens == plain.dev.n_tokens
