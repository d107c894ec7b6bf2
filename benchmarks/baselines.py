"""The simple completers editors ship, as typing sessions for `nextword.server.commands.evaluate`.

- `BufferWordsSession`: the words already in the document that start with the typed prefix,
  nearest (most recently typed) first: what Vim's Ctrl-N/Ctrl-P and VS Code's word-based
  suggestions offer.
- `UnigramSession`: the most frequent training-corpus words that start with the typed prefix,
  whatever the context.
"""

from __future__ import annotations

import json
from collections import Counter, OrderedDict
from functools import lru_cache
from pathlib import Path

from nextword.server.text.tokenizer import fold, folded_prefix_range, iter_tokens, word_prefix_at


class GrowingText:
    """Text typed at its end, split into finished words and the partly typed word at the end."""

    def __init__(self) -> None:
        self.text = ""
        self._scanned_to = 0

    def append(self, text: str) -> list[str]:
        """Add text; return the folded words it finished (a word touching the end may go on)."""
        self.text += text
        finished: list[str] = []
        for token in iter_tokens(self.text, self._scanned_to):
            if token.end >= len(self.text):
                break
            if token.kind == "word":
                finished.append(token.folded)
            self._scanned_to = token.end
        return finished

    @property
    def prefix(self) -> str:
        line_start = self.text.rfind("\n") + 1
        line = self.text[line_start:]
        return fold(word_prefix_at(line, len(line))[1])


class BufferWordsSession:
    def __init__(self) -> None:
        self.document = GrowingText()
        self.recent: OrderedDict[str, None] = OrderedDict()

    def type_text(self, text: str) -> None:
        for word in self.document.append(text):
            self.recent[word] = None
            self.recent.move_to_end(word)

    def suggest(self, limit: int) -> list[str]:
        prefix = self.document.prefix
        found: list[str] = []
        for word in reversed(self.recent):
            if word.startswith(prefix) and word != prefix:
                found.append(word)
                if len(found) == limit:
                    break
        return found

    def close(self) -> None:
        pass


class UnigramModel:
    """Word counts; the top words for a prefix come from one sorted id range."""

    def __init__(self, counts: dict[str, int]) -> None:
        self.words = sorted(counts)
        self.counts = [counts[w] for w in self.words]
        self.top = lru_cache(maxsize=1 << 16)(self._top)

    def _top(self, prefix: str, limit: int) -> tuple[str, ...]:
        lo, hi = folded_prefix_range(self.words, prefix)
        ranked = sorted(range(lo, hi), key=lambda i: -self.counts[i])[:limit]
        return tuple(self.words[i] for i in ranked)

    @classmethod
    def from_text(cls, path: Path, cache: Path | None = None) -> UnigramModel:
        if cache and cache.exists():
            return cls(json.loads(cache.read_text(encoding="utf-8")))
        counts: Counter[str] = Counter()
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                counts.update(t.folded for t in iter_tokens(line) if t.kind == "word")
        if cache:
            cache.write_text(json.dumps(dict(counts)), encoding="utf-8")
        return cls(dict(counts))


class UnigramSession:
    def __init__(self, model: UnigramModel) -> None:
        self.model = model
        self.document = GrowingText()

    def type_text(self, text: str) -> None:
        self.document.append(text)

    def suggest(self, limit: int) -> list[str]:
        prefix = self.document.prefix
        return [w for w in self.model.top(prefix, limit + 1) if w != prefix][:limit]

    def close(self) -> None:
        pass
