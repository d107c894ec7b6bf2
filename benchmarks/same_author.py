"""Same-author text for the learning benchmark: an author's earlier writing, learned first
(`nextword learn`, and Presage's own learning), and their later writing, typed.

The texts are Debian changelog entries signed by one maintainer, the bullet items they wrote
(sections credited to someone else left out), oldest first; the last `--typed-words` words are
the later writing, everything before it the earlier. Neither source is in the training corpora
(../shared/corpus*: no Debian changelogs) nor in the benchmark's other held-out texts.

- `binutils` (the benchmark): Matthias Klose's entries in Debian `binutils-common`.
- `openssh` (for tuning the learning settings, never reported as a result): Colin Watson's
  entries in Debian `openssh-client`.

    python benchmarks/same_author.py [--cache DIR] [--out DIR] [--typed-words 2000]
"""

from __future__ import annotations

import argparse
import gzip
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import fetch
from heldout import to_ascii

AUTHORS = {
    "binutils": ("binutils-common", "2.40-2", "Matthias Klose"),
    "openssh": ("openssh-client", "1:9.2p1-2+deb12u10", "Colin Watson"),
}
"""kind -> (Debian package, version, the maintainer whose entries are taken)."""
BENCHMARK, TUNING = "binutils", "openssh"
DEFAULT_CACHE = Path.home() / ".cache" / "nextword-bench"
_SIGNATURE = re.compile(r"^ -- (?P<name>[^<]+?)\s*<")
_SECTION = re.compile(r"^\s+\[ (?P<name>.+) \]\s*$")
_ITEM = re.compile(r"^\s+[*+-] (?P<text>.*)$")
_ONLY_IDS = re.compile(r"^(CVE-\d+-\d+[,; ]*)+$")


@dataclass(frozen=True)
class SameAuthor:
    earlier: list[str]
    later: list[str]
    origin: str
    author: str


def entries(changelog: str) -> list[tuple[str, list[str]]]:
    """(signer, lines) of every entry, newest first as the file has them."""
    found, lines = [], []
    for line in changelog.splitlines():
        signature = _SIGNATURE.match(line)
        if signature:
            found.append((signature.group("name"), lines))
            lines = []
        elif line.startswith(" "):
            lines.append(line)
    return found


def items_by(changelog: str, author: str) -> list[str]:
    """The bullet items `author` wrote, oldest first, one paragraph each (wrapped lines
    joined)."""
    items: list[str] = []
    for signer, lines in reversed(entries(changelog)):
        credited, current = signer, []
        entry_items: list[list[str]] = []
        for line in lines:
            if section := _SECTION.match(line):
                credited = section.group("name")
                continue
            if credited != author:
                continue
            if item := _ITEM.match(line):
                current = [item.group("text").strip()]
                entry_items.append(current)
            elif current and line.strip():
                current.append(line.strip())
        for parts in entry_items:
            text = " ".join(parts)
            if text and not _ONLY_IDS.match(text):
                items.append(to_ascii(text))
    return items


def split_by_words(items: list[str], typed_words: int) -> tuple[list[str], list[str]]:
    """(earlier, later): the later items hold about the last `typed_words` words."""
    count = 0
    for index in range(len(items) - 1, -1, -1):
        count += len(items[index].split())
        if count >= typed_words:
            return items[:index], items[index:]
    return [], items


def same_author(kind: str, cache: Path, typed_words: int) -> SameAuthor:
    package, version, author = AUTHORS[kind]
    unpacked = fetch.debian(package, version, cache)
    path = unpacked.root / "root" / "usr" / "share" / "doc" / package / "changelog.Debian.gz"
    changelog = gzip.decompress(path.read_bytes()).decode("utf-8", "replace")
    earlier, later = split_by_words(items_by(changelog, author), typed_words)
    return SameAuthor(earlier, later, f"{unpacked.origin}, changelog.Debian.gz", author)


def write(kind: str, texts: SameAuthor, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    earlier, later = out / f"{kind}-earlier.txt", out / f"{kind}-later.txt"
    earlier.write_text("\n\n".join(texts.earlier) + "\n", encoding="utf-8")
    later.write_text("\n\n".join(texts.later) + "\n", encoding="utf-8")
    return earlier, later


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--out", type=Path, default=DEFAULT_CACHE / "same-author")
    parser.add_argument("--typed-words", type=int, default=2000)
    args = parser.parse_args(argv)
    for kind in AUTHORS:
        texts = same_author(kind, args.cache, args.typed_words)
        earlier, later = write(kind, texts, args.out)
        words = [sum(len(item.split()) for item in part) for part in (texts.earlier, texts.later)]
        print(f"{kind}: {texts.author} in {texts.origin}: earlier {words[0]:,} words "
              f"({earlier}), later {words[1]:,} words ({later})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
