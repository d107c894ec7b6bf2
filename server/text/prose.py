"""The prose of the user's writing, read the way the server reads a document: what lies in
Markdown code fences (the same rule as `DocumentText.in_code_fence`), inline code and URLs or
addresses (the same rule as `cursor.suppressed`) is left out, and so are reStructuredText
literal blocks and LaTeX commands and comments.

Learning (personal/) reads files and typed sentences through here, so it never learns what
the server would not complete in.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from nextword.server.text.cursor import is_address
from nextword.server.text.document import Fence, after_fence, is_fence_line, split_lines
from nextword.server.text.tokenizer import SENTENCE_END, Token, iter_tokens

PROSE_SUFFIXES = frozenset(
    {".md", ".markdown", ".txt", ".text", ".rst", ".tex", ".adoc", ".asciidoc", ""}
)
"""File suffixes read as prose ("": a file without one, such as README or a commit message)."""
_INLINE_CODE = re.compile(r"`[^`\n]*`")
_LATEX_COMMAND = re.compile(r"\\[A-Za-z@]+\*?|[{}$]")
_LATEX_COMMENT = re.compile(r"(?<!\\)%.*")
_SPACES = re.compile(r"\S+")


def _prose_pieces(line: str) -> list[str]:
    """The line's pieces between inline code spans and URLs or addresses."""
    pieces: list[str] = []
    for part in _INLINE_CODE.split(line):
        current: list[str] = []
        for chunk in _SPACES.findall(part):
            if is_address(chunk):
                pieces.append(" ".join(current))
                current = []
            else:
                current.append(chunk)
        pieces.append(" ".join(current))
    return pieces


def prose_lines(text: str, suffix: str = "") -> Iterator[str]:
    """The prose of `text`, line by line; where something is left out (a code block, inline
    code, a URL), a blank line instead, so no phrase is learned across it."""
    fence: Fence | None = None
    literal = False  # inside an indented reStructuredText literal block (after "::")
    for line in split_lines(text):
        if is_fence_line(line):
            fence = after_fence(fence, line)
            yield ""
            continue
        if fence is not None:
            continue
        if suffix == ".rst":
            if literal and (not line.strip() or line[:1].isspace()):
                continue
            literal = line.rstrip().endswith("::")
        if suffix == ".tex":
            line = _LATEX_COMMAND.sub(" ", _LATEX_COMMENT.sub("", line))
        for index, piece in enumerate(_prose_pieces(line)):
            if index:
                yield ""
            yield piece


def prose_paragraphs(text: str, suffix: str = "") -> Iterator[list[Token]]:
    """The tokens of each prose paragraph of `text`."""
    paragraph: list[Token] = []
    for line in prose_lines(text, suffix):
        if not line.strip():
            if paragraph:
                yield paragraph
            paragraph = []
            continue
        paragraph += iter_tokens(line)
    if paragraph:
        yield paragraph


def finished_sentences(tokens: list[Token]) -> tuple[list[Token], list[Token]]:
    """(the tokens of the paragraph's finished sentences, those of the unfinished rest): a
    sentence is finished by . ! or ? followed by another token."""
    end = 0
    for index, token in enumerate(tokens[:-1]):
        if token.kind == "punct" and token.text in SENTENCE_END:
            end = index + 1
    return tokens[:end], tokens[end:]


def is_prose_file(path: Path) -> bool:
    return path.suffix.lower() in PROSE_SUFFIXES and not path.name.startswith(".")


def prose_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The prose files among `paths`, folders walked (hidden ones skipped), sorted."""
    for path in paths:
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                hidden = any(part.startswith(".") for part in child.relative_to(path).parts)
                if child.is_file() and not hidden and is_prose_file(child):
                    yield child
        elif path.is_file():
            yield path
