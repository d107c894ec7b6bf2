"""The context-window rule: where the network's context starts, shared by training and serving.

The network reads a paragraph in windows of `max_tokens` tokens. The first window's input starts
with the paragraph marker, every later one's with the continue marker, and a window's state
does not depend on anything before it. So bringing the state up to any position costs at most
`max_tokens` recurrent steps. The exporter cuts its training sequences with `window_starts`, the
server reads contexts with `context_symbols` and extends them with `extend_key`: all three are
`window_start`.
"""

from __future__ import annotations

from nextword.server.text.tokenizer import CONTINUE_SYMBOL, PARAGRAPH_SYMBOL

Key = tuple[int, ...]
"""A context as the network reads it: a window's marker id, then the token ids since."""


def window_start(position: int, max_tokens: int) -> int:
    """The paragraph position where the window that reads the token at `position` starts."""
    if max_tokens <= 0:
        raise ValueError("max_tokens must be positive")
    return position - position % max_tokens


def window_starts(length: int, max_tokens: int) -> range:
    """The positions p of a paragraph of `length` tokens where a window starts
    (window_start(p, max_tokens) == p)."""
    window_start(0, max_tokens)  # the same check of max_tokens
    return range(0, length, max_tokens)


def context_symbols(
    folded_tokens: list[str], max_tokens: int, truncated: bool = False
) -> list[str]:
    """The network's input for the tokens of one paragraph before the cursor: the marker of the
    window the next token is read in, then that window's tokens so far.

    `truncated`: the tokens do not start at the paragraph's start (the look-back was cut), so
    their first window is read after the continue marker too.
    """
    start = window_start(len(folded_tokens), max_tokens)
    marker = PARAGRAPH_SYMBOL if start == 0 and not truncated else CONTINUE_SYMBOL
    return [marker, *folded_tokens[start:]]


def extend_key(key: Key, token_id: int, max_tokens: int, continue_id: int) -> Key:
    """The context after one more token: `key` (a window's marker and its tokens) with the
    token added, or a new window's continue marker where the next token starts one."""
    read = len(key)  # the window's tokens once this one is read
    if window_start(read, max_tokens) == read:
        return (continue_id,)
    return (*key, token_id)
