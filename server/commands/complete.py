"""`nextword complete "TEXT"`: print the completions for the end of TEXT, one per line with its
score, through the same engine path as the language server, with what `nextword learn` learned.

A partly typed word at the end is completed ("gover" -> only words starting with gover). A
trailing space asks for the next word. When TEXT ends with a whole vocabulary word ("The
President of the United", "Ladies and"), the next words after it come first, marked "next"
(what the editor offers once the space is typed), then the longer words it begins ("Andrew").
"""

from __future__ import annotations

import argparse
import sys

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, load_engine
from nextword.server.engine.prepared import Completion
from nextword.server.model.bundle import BundleError
from nextword.server.personal.layer import PersonalLayer
from nextword.server.settings import Settings
from nextword.server.text.cursor import suppressed
from nextword.server.text.document import split_lines
from nextword.server.text.tokenizer import fold, word_prefix_at


def complete_end(engine: Engine, text: str) -> list[Completion]:
    document = DocumentState.open("mem://complete", text)
    last = len(split_lines(text)) - 1
    return engine.complete(document, last, len(document.text.content(last)))


def completions_for(text: str, top: int, bundle: str | None) -> list[tuple[Completion, str]]:
    """(completion, "word" or "next") pairs for the end of text, with what `nextword learn`
    learned (as the server completes outside any workspace)."""
    engine = load_engine(bundle, Settings(max_items=top))
    if engine.settings.learning.enabled:
        layer = PersonalLayer.loaded(engine.vocab, engine.bundle.path)
        for warning in layer.warnings:
            print(f"nextword complete: {warning}", file=sys.stderr)
        engine.personal = layer
    found = [(completion, "word") for completion in complete_end(engine, text)]
    _, last_word = word_prefix_at(text, len(text))
    if last_word and 0 <= engine.vocab.index.get(fold(last_word), -1) < engine.vocab.n_words:
        found = [(completion, "next") for completion in complete_end(engine, text + " ")] + found
    return found


def why_none(text: str) -> str:
    """Why the end of `text` gets no completion, in a few words."""
    document = DocumentState.open("mem://complete", text)
    last = len(document.text) - 1
    reason = suppressed(document.text, last, len(document.text.content(last)))
    if reason is not None:
        return reason.value
    return "no vocabulary or document word starts with what is typed"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="nextword complete", description=__doc__)
    parser.add_argument("text", help="the text before the cursor ('-' reads it from stdin)")
    parser.add_argument("--top", type=int, default=10, help="how many completions (default 10)")
    parser.add_argument("--bundle", help="bundle directory (default: the bundled default model)")
    args = parser.parse_args(argv)
    if args.top < 1:
        parser.error("--top must be at least 1")
    text = sys.stdin.read() if args.text == "-" else args.text
    try:
        completions = completions_for(text, args.top, args.bundle)
    except BundleError as error:
        print(f"nextword complete: {error}", file=sys.stderr)
        return 1
    if not completions:
        print(f"(no completions here: {why_none(text)})", file=sys.stderr)
    for completion, kind in completions:
        print(f"{completion.text}\t{completion.score:.3f}" + ("\tnext" if kind == "next" else ""))
    return 0
