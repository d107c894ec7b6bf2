"""The keystroke cost of a word (Presage's `presage_simulator` accounting), for `nextword eval`
and the exporter's dev figures alike.

Without prediction a word costs its letters plus one space. With prediction the user types
letters until the word is offered, then one key selects it and the space comes free; a word
never offered costs all its letters plus the space. KSR = 1 - cost / (letters + spaces).
"""

from __future__ import annotations

from collections.abc import Iterable


def keystrokes(offered_after: Iterable[bool], letters: int) -> int:
    """Keys to enter a word of `letters` letters and its space; `offered_after[k]`: whether the
    word is offered once k letters are typed (read lazily, up to the first offer)."""
    for typed, offered in enumerate(offered_after):
        if offered:
            return typed + 1
    return letters + 1


def accepted_keystrokes(typed: int, words: int, whole: bool) -> int:
    """Keys to enter `words` words (and their spaces) offered as ghost text once `typed` letters
    of the first are typed: those letters, then one key per word ("accept next word"), or one
    key for all of them when they are the whole suggestion ("accept")."""
    return typed + (1 if whole else words)
