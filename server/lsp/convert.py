"""All conversion between the LSP and the engine: positions, edits, completion items, ghost text.

Columns in the engine are code point indices into a line; the client counts in the units it
negotiated (UTF-16 for VS Code, UTF-8 or UTF-16 for Neovim), converted here through pygls'
position codec.
"""

from __future__ import annotations

from lsprotocol import types
from pygls.workspace.position_codec import PositionCodec, Utf8, Utf16

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.inline import InlineSuggestion
from nextword.server.engine.prepared import Completion
from nextword.server.engine.ranking import keep_typed
from nextword.server.text.document import DocumentText


def column_of(codec: PositionCodec, content: str, character: int) -> int:
    """Client units -> code point column, clamped to the line's end."""
    if character <= 0:
        return 0
    if content.isascii():  # one unit per character in every encoding
        return min(character, len(content))
    encoding = _client_encoding(codec)
    if encoding is None:
        return min(character, len(content))
    name, width = encoding
    # pygls' codec loops over the line in Python (seconds for a 1 MB line); encoding is C speed.
    data = content.encode(name, "surrogatepass")
    cut = character * width
    if cut >= len(data):
        return len(content)
    # A position inside a character counts as after it, as in pygls' codec.
    if width == 1:
        while cut < len(data) and data[cut] & 0xC0 == 0x80:
            cut += 1
    elif 0xD800 <= int.from_bytes(data[cut - 2 : cut], "little") < 0xDC00:
        cut += 2 if 0xDC00 <= int.from_bytes(data[cut : cut + 2], "little") < 0xE000 else 0
    return len(data[:cut].decode(name, "surrogatepass"))


def character_of(codec: PositionCodec, content: str, column: int) -> int:
    """Code point column -> client units."""
    encoding = None if content.isascii() else _client_encoding(codec)
    if encoding is None:
        return min(max(column, 0), len(content))
    name, width = encoding
    return len(content[:column].encode(name, "surrogatepass")) // width


def _client_encoding(codec: PositionCodec) -> tuple[str, int] | None:
    """(Python codec, bytes per unit) for UTF-8 and UTF-16 positions; None for UTF-32."""
    if isinstance(codec.impl, Utf16):
        return "utf-16-le", 2
    if isinstance(codec.impl, Utf8):
        return "utf-8", 1
    return None


def position_from_client(
    text: DocumentText, position: types.Position, codec: PositionCodec
) -> tuple[int, int]:
    """An LSP position -> (line, code point column), clamped to the text."""
    if position.line >= len(text):
        return text.clamp(position.line, 0)
    return position.line, column_of(codec, text.content(position.line), position.character)


def apply_change(
    document: DocumentState, change: types.TextDocumentContentChangeEvent, codec: PositionCodec
) -> None:
    """Apply one LSP content change (incremental, or the whole text)."""
    if not isinstance(change, types.TextDocumentContentChangePartial):
        document.text = DocumentText.from_text(change.text)
        return
    document.edit(
        position_from_client(document.text, change.range.start, codec),
        position_from_client(document.text, change.range.end, codec),
        change.text,
    )


def edit_range(
    text: DocumentText, line: int, start: int, end: int, codec: PositionCodec
) -> types.Range:
    """The LSP range of line[start:end] (code point columns)."""
    content = text.content(line)
    return types.Range(
        types.Position(line, character_of(codec, content, start)),
        types.Position(line, character_of(codec, content, end)),
    )


def filter_text(text: str, typed: str) -> str:
    """A filter text that starts with exactly what was typed, as editors filter by prefix."""
    return keep_typed(text, typed) or typed + text


def completion_items(
    text: DocumentText, completions: list[Completion], codec: PositionCodec
) -> list[types.CompletionItem]:
    """One item per completion, replacing the typed part of the word, in rank order."""
    items = []
    for rank, completion in enumerate(completions):
        typed = text.content(completion.line)[completion.word_start : completion.column]
        span = edit_range(text, completion.line, completion.word_start, completion.column, codec)
        items.append(
            types.CompletionItem(
                label=completion.text,
                kind=types.CompletionItemKind.Text,
                detail=f"{completion.score:.2f}",
                sort_text=f"{rank:04d}",
                filter_text=filter_text(completion.text, typed),
                text_edit=types.TextEdit(span, completion.text),
            )
        )
    return items


def inline_completion_list(
    text: DocumentText, suggestion: InlineSuggestion, codec: PositionCodec
) -> types.InlineCompletionList:
    """The LSP answer: one item replacing the typed part of the word (client units)."""
    span = edit_range(text, suggestion.line, suggestion.word_start, suggestion.column, codec)
    item = types.InlineCompletionItem(insert_text=suggestion.text, range=span)
    return types.InlineCompletionList(items=[item])
