"""Prose paragraphs out of the formats that held-out sources come in, cleaned like the training
corpus (its README's rules): no code, no URLs, no markup; a sentence that held an inline code span
or a URL is dropped as a whole rather than left broken ("Run to compile").
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser

CODE_MARK = "\x00"
"""Stands in for an inline code span until the sentence holding it is dropped."""

_URL = re.compile(r"https?://|www\.|\S+@\S+\.\w")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])")
_CODE_LIKE = re.compile(r"[{}|\\`<>]|==|->|::|\w\(\)|\w\.\w+\(|\$\w")


def drop_marked_sentences(text: str) -> str:
    """The paragraph without its sentences that hold code (CODE_MARK) or a URL."""
    kept = [
        sentence
        for sentence in _SENTENCE.split(" ".join(text.split()))
        if CODE_MARK not in sentence and not _URL.search(sentence)
    ]
    return " ".join(kept).strip()


def is_prose(paragraph: str, min_words: int = 4) -> bool:
    """Enough words, mostly letters, no code-like tokens, starts like a sentence."""
    words = paragraph.split()
    if len(words) < min_words or _CODE_LIKE.search(paragraph):
        return False
    characters = paragraph.replace(" ", "")
    letters = sum(c.isalpha() for c in characters)
    if letters < 0.72 * len(characters) or any(len(w) > 30 for w in words):
        return False
    return paragraph[0].isupper() or paragraph[0].isdigit() or paragraph[0] in "\"'("


# Markdown --------------------------------------------------------------------------------------

_FENCE = re.compile(r"^\s*(```|~~~)")
_MD_INLINE_CODE = re.compile(r"`[^`]*`")
_MD_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|!\[[^\]]*\]\[[^\]]*\]")
_MD_LINK = re.compile(r"\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])")
_MD_EMPHASIS = re.compile(r"(\*\*|__|\*|_)(?=\S)(.+?)(?<=\S)\1")
_HTML_TAG = re.compile(r"<[^>]+>")
_LIST_OR_QUOTE = re.compile(r"^\s*(?:[-*+]|\d+[.)]|>)\s+")


def markdown_paragraphs(text: str) -> Iterator[str]:
    """Prose paragraphs of a Markdown file: code blocks, tables, headings, HTML, images and
    link definitions removed; links keep their text; each list item is its own paragraph."""
    block: list[str] = []
    in_fence = False

    def flush() -> Iterator[str]:
        if block:
            yield clean_markdown_inline(" ".join(block))
            block.clear()

    for line in text.splitlines():
        if _FENCE.match(line):
            in_fence = not in_fence
            yield from flush()
            continue
        stripped = line.strip()
        if in_fence or not stripped or line.startswith(("    ", "\t")):
            yield from flush()
            continue
        if stripped.startswith(("#", "|", "<", "[", "---", "===")) or stripped.endswith("|"):
            yield from flush()
            continue
        if _LIST_OR_QUOTE.match(line):
            yield from flush()
            stripped = _LIST_OR_QUOTE.sub("", line).strip()
        block.append(stripped)
    yield from flush()


def clean_markdown_inline(text: str) -> str:
    text = _MD_INLINE_CODE.sub(CODE_MARK, text)
    text = _MD_IMAGE.sub("", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _MD_EMPHASIS.sub(r"\2", text)
    return drop_marked_sentences(text)


# HTML ------------------------------------------------------------------------------------------

_HTML_CODE = frozenset({"code", "tt", "kbd", "samp", "var"})
_HTML_SKIPPED = frozenset({"pre", "script", "style", "table", "nav", "head", "dt", "sup"})
_HTML_CODE_CLASSES = frozenset(
    {"command", "filename", "literal", "replaceable", "option", "package", "computeroutput",
     "userinput", "varname", "function", "constant", "parameter", "systemitem"}
)  # fmt: skip
_HTML_HIDDEN_CLASSES = frozenset({"indexterm", "footnote", "title", "headerlink"})


class _ParagraphParser(HTMLParser):
    """Text of paragraph elements (<p>, <li>, <div class="para">); an inline code element
    becomes CODE_MARK; pre, tables, navigation and index terms are dropped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.paragraphs: list[str] = []
        self._parts: list[str] | None = None
        self._paragraph_tag = ""
        self._paragraph_depth = 0
        self._skip_tag = ""
        self._skip_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip_depth:
            self._skip_depth += tag == self._skip_tag
            return
        classes = set((dict(attrs).get("class") or "").split())
        code = tag in _HTML_CODE or bool(classes & _HTML_CODE_CLASSES)
        if code or tag in _HTML_SKIPPED or classes & _HTML_HIDDEN_CLASSES:
            self._skip_tag, self._skip_depth = tag, 1
            if code and self._parts is not None:
                self._parts.append(CODE_MARK)
        elif tag in ("p", "li") or (tag == "div" and "para" in classes):
            self.flush()
            self._parts, self._paragraph_tag, self._paragraph_depth = [], tag, 0
        elif tag == self._paragraph_tag:
            self._paragraph_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if self._skip_depth:
            self._skip_depth -= tag == self._skip_tag
        elif tag == self._paragraph_tag and self._paragraph_depth:
            self._paragraph_depth -= 1
        elif tag == self._paragraph_tag or tag in ("ul", "ol", "body"):
            self.flush()

    def handle_data(self, data: str) -> None:
        if self._parts is not None and not self._skip_depth:
            self._parts.append(data)

    def flush(self) -> None:
        if self._parts:
            self.paragraphs.append(drop_marked_sentences("".join(self._parts)))
        self._parts, self._paragraph_tag = None, ""


def html_paragraphs(text: str) -> list[str]:
    parser = _ParagraphParser()
    parser.feed(text)
    parser.close()
    parser.flush()
    return parser.paragraphs


# reStructuredText ----------------------------------------------------------------------------

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


def rst_prose(text: str) -> Iterator[str]:
    """A reStructuredText source's prose paragraphs: markup removed, code-like ones left out."""
    for paragraph in rst_paragraphs(text):
        prose = clean_rst_inline(paragraph)
        letters = sum(c.isalpha() or c.isspace() for c in prose)
        if prose and letters / len(prose) > 0.9:
            yield prose


# Commit subjects in a pbr ChangeLog (`git log` written into OpenStack sdists) ----------------

_CHANGELOG_ITEM = re.compile(r"^\* (.+)$", re.M)
_SUBJECT_PREFIX = re.compile(r"^(?:\[[^\]]+\]\s*|[\w./-]+:\s+)+")
_ROUTINE_COMMIT = re.compile(
    r"^(?:merge|revert|bump|release|update (?:master|url|tox|\.gitreview)|updated from global"
    r"|imported translations|add release note|reno)\b|\bstable/|\bunmaintained/",
    re.I,
)


def changelog_subjects(text: str) -> Iterator[str]:
    """The commit subjects of a pbr ChangeLog, without area prefixes or routine commits."""
    for match in _CHANGELOG_ITEM.finditer(text):
        subject = _SUBJECT_PREFIX.sub("", match.group(1).strip())
        if subject and not _ROUTINE_COMMIT.search(subject):
            yield subject[0].upper() + subject[1:]


# The Jargon File as a dictd database ----------------------------------------------------------

_CROSS_REFERENCE = re.compile(r"\{\s*([^{}]*?)\s*\}")
_ETYMOLOGY = re.compile(r"^(?:\d+\.\s+)?\[[^\]]*\]\s*|^\d+\.\s+")


def jargon_paragraphs(text: str) -> Iterator[str]:
    """Definition paragraphs of the Jargon File (dict-jargon): indented blocks, cross-reference
    braces, sense numbers and leading [etymology] removed."""
    for block in re.split(r"\n\s*\n", text):
        lines = block.splitlines()
        if not lines or not all(line.startswith("    ") for line in lines if line.strip()):
            continue
        paragraph = _CROSS_REFERENCE.sub(r"\1", " ".join(line.strip() for line in lines))
        yield drop_marked_sentences(_ETYMOLOGY.sub("", paragraph))
