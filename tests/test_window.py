"""The context-window rule (text/window.py): every view of it agrees with `window_start`."""

from __future__ import annotations

import pytest
from conftest import TINY_BUNDLE

from nextword.exporter.export import replay_symbols
from nextword.server.engine.engine import load_engine
from nextword.server.text.tokenizer import CONTINUE_SYMBOL, PARAGRAPH_SYMBOL
from nextword.server.text.window import (
    context_symbols,
    extend_key,
    window_start,
    window_starts,
)


@pytest.mark.parametrize("max_tokens", [1, 3, 7])
def test_the_views_of_the_rule_agree(max_tokens: int) -> None:
    tokens = [f"w{i}" for i in range(3 * max_tokens + 2)]
    assert list(window_starts(len(tokens), max_tokens)) == [
        p for p in range(len(tokens)) if window_start(p, max_tokens) == p
    ]
    for n in range(len(tokens)):
        start = window_start(n, max_tokens)
        expected = [PARAGRAPH_SYMBOL if start == 0 else CONTINUE_SYMBOL, *tokens[start:n]]
        assert context_symbols(tokens[:n], max_tokens) == expected
    # What the exporter checks parity on: the ids the server feeds, token by token.
    ids = list(range(100, 100 + len(tokens)))
    resets = [position for position, (reset, _) in enumerate(replay_symbols(ids, max_tokens, 1, 2))
              if reset]  # fmt: skip
    assert len(resets) == len(window_starts(len(tokens), max_tokens))


def test_a_cut_look_back_starts_after_the_continue_marker() -> None:
    assert context_symbols(["a", "b"], 4, truncated=True) == [CONTINUE_SYMBOL, "a", "b"]
    assert context_symbols(["a", "b"], 4) == [PARAGRAPH_SYMBOL, "a", "b"]


def test_the_window_must_hold_a_token() -> None:
    with pytest.raises(ValueError):
        window_start(3, 0)


def test_extending_a_key_matches_the_context_key() -> None:
    engine = load_engine(TINY_BUNDLE)
    tokens = ["the", "people", ",", "of"] * engine.bundle.max_context_tokens
    continue_id = engine.vocab.id_of(CONTINUE_SYMBOL)
    for n in range(len(tokens) - 1):
        key = engine.context_key(tokens[:n])
        token_id = engine.vocab.id_of(tokens[n])
        extended = extend_key(key, token_id, engine.bundle.max_context_tokens, continue_id)
        assert extended == engine.context_key(tokens[: n + 1])
