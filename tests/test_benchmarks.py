"""The benchmarks: the quick run end to end (what CI runs), and the pieces it is made of."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import baselines  # noqa: E402
import heldout  # noqa: E402
import presage_eval  # noqa: E402
import prose  # noqa: E402
import training_text  # noqa: E402

from nextword.exporter.corpus import DEV_EVERY  # noqa: E402
from nextword.exporter.data import tokenize_corpus  # noqa: E402
from nextword.server.text.tokenizer import tokenize  # noqa: E402


@pytest.mark.slow
def test_quick_run_writes_every_table_and_plot(tmp_path: Path) -> None:
    out = tmp_path / "results"
    completed = subprocess.run(
        [sys.executable, str(BENCHMARKS / "run_all.py"), "--quick", "--out", str(out),
         "--cache", str(tmp_path / "cache"), "--previous", "HEAD"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert completed.returncode == 0, completed.stderr[-3000:]
    markdown = (out / "results.md").read_text(encoding="utf-8")
    for heading in ("## Keystroke savings", "## Ghost text", "## Speed", "## Training cost"):
        assert heading in markdown
    for png in ("ksr.png", "prefix_hits.png", "growth.png", "training.png"):
        assert (out / png).stat().st_size > 5000
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    systems = {row["system"] for row in results["quality"]}
    assert {
        "buffer words",
        "unigram + prefix",
        "nextword",
        "nextword, no document cache",
    } <= systems
    assert any("softmax" in system for system in systems)
    assert "previous default (old corpus)" in systems  # HEAD's default bundle, not the tiny one
    assert "The issue's figures" in markdown and "| kind | words | paragraphs |" in markdown
    assert all(about["paragraphs_in_corpus"] >= 0 for about in results["texts"].values())
    assert any("Presage" in system for system in systems) == presage_eval.available()
    for row in results["quality"]:
        assert 0 <= row["ksr"]["6"] <= 100 and row["words"] > 0
    ghost = results["ghost"]["rows"]
    assert [row["system"] for row in ghost] == list(results["texts"])
    for row in ghost:
        assert 0 <= row["ghost_ksr"] <= row["both_ksr"] <= 100 and row["words"] > 0
        assert row["both_ksr"] >= row["list_ksr"]
    assert results["latency"]["inline"]["inline_p99"] > 0
    assert "With ghost text" in markdown
    assert [p["words"] for p in results["growth"]] == [1_000, 10_000]
    assert results["memory"]["rss_mb"] > 0 and results["cold_start"]["median_s"] > 0
    assert {r["output"] for r in results["training"]["rows"]} == {"continuous", "softmax"}


@pytest.mark.parametrize("mode", ["auto", "lines", "blank-lines"])
def test_corpus_split_is_the_exporters_dev_split(tmp_path: Path, mode: str) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    # a.txt is hard-wrapped (blank lines between paragraphs), b.txt has one paragraph per line.
    (corpus / "a.txt").write_text(
        "".join(f"Line number {i} of a.\n" + ("\n" if i % 3 == 2 else "") for i in range(90))
    )
    (corpus / "b.txt").write_text("".join(f"Paragraph {i} in b.\n" for i in range(30)))
    split = list(training_text.iter_split([corpus], mode))
    train = [p for _, held_out, p in split if not held_out]
    dev = heldout.corpus_dev([corpus], mode)
    exporter = tokenize_corpus([corpus], DEV_EVERY, mode)  # type: ignore[arg-type]
    held = [p for paragraphs in dev.values() for p in paragraphs]
    assert len(train) == exporter.summary.train_paragraphs
    assert len(held) == exporter.summary.dev_paragraphs > 0
    assert not set(held) & set(train)
    if mode == "auto":  # a.txt: 30 paragraphs of 3 lines; the 20th starts at line 57
        assert held[0].startswith("Line number 57 of a.\nLine number 58")
        assert held[1].startswith("Paragraph 9 in b.")  # paragraph 40 overall


def test_to_ascii_keeps_words_and_drops_the_rest() -> None:
    assert heldout.to_ascii("\u201cCaf\u00e9\u201d \u2014 na\u00efve\u2019s \u4e2d") == (
        '"Cafe" -- naive\'s '
    )


def test_rst_paragraphs_drop_code_directives_and_markup() -> None:
    source = """Title
=====

Some *prose* with :func:`len` and ``code``::

    x = 1

.. note::

   A note.

More prose here.
"""
    paragraphs = [prose.clean_rst_inline(p) for p in prose.rst_paragraphs(source)]
    assert paragraphs == ["Some prose with len and code:", "More prose here."]


def test_clip_paragraph_cuts_at_a_sentence_end() -> None:
    text = "One two three. Four five six seven. Eight nine."
    assert heldout.clip_paragraph(text, 5) == "One two three."
    assert heldout.clip_paragraph(text, 50) == text


def test_buffer_words_offer_the_nearest_matching_word_first() -> None:
    session = baselines.BufferWordsSession()
    session.type_text("the house and the horse and the ho")
    assert session.suggest(6) == ["horse", "house"]
    session.type_text("rse ")
    assert session.suggest(2) == ["horse", "the"]


def test_unigram_offers_frequent_words_for_the_prefix() -> None:
    model = baselines.UnigramModel({"the": 10, "then": 3, "there": 5, "a": 7})
    session = baselines.UnigramSession(model)
    session.type_text("Th")
    assert session.suggest(6) == ["the", "there", "then"]
    session.type_text("e")
    assert session.suggest(6) == ["there", "then"]  # the typed word itself is no completion


@pytest.mark.skipif(not Path("/etc/presage.xml").is_file(), reason="presage is not installed")
def test_presage_config_points_at_our_databases(tmp_path: Path) -> None:
    config = presage_eval.write_config(tmp_path / "db.sqlite", 3, tmp_path / "user").read_text()
    assert f"<DBFILENAME>{tmp_path / 'db.sqlite'}</DBFILENAME>" in config
    assert f"<DBFILENAME>{tmp_path / 'user' / 'lm.db'}</DBFILENAME>" in config
    assert "<SUGGESTIONS>3</SUGGESTIONS>" in config
    assert "<ONLINE_LEARNING>yes</ONLINE_LEARNING>" in config


def test_presage_trace_parsing() -> None:
    output = "===> cat\n   > \nthe\ncat\n===> cat\n   > c\ncat\n\n" + "=" * 28 + "\nki : 1\n"
    trace = presage_eval.parse_trace(output)
    assert trace == [("cat", "", ["the", "cat"]), ("cat", "c", ["cat"])]
    assert presage_eval.next_word_recall(trace) == (0.0, 100.0, 1)


@pytest.mark.skipif(not shutil.which("text2ngram"), reason="presage is not installed")
def test_presage_learns_from_the_training_text(tmp_path: Path) -> None:
    training = tmp_path / "train.txt"
    training.write_text("the zebra quoth loudly\n" * 50, encoding="ascii")
    database = presage_eval.build_database(training, tmp_path / "db.sqlite")
    text = tmp_path / "text.txt"
    text.write_text("the zebra quoth loudly\n", encoding="ascii")
    run = presage_eval.run_simulator(text, database, 6)
    assert run.kn == sum(len(t.text) + 1 for t in tokenize("the zebra quoth loudly")) + 1
    assert run.ksr > 50
