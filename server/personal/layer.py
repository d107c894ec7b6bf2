"""The personal layer the engine ranks with: what `nextword learn` learned (the combined file,
re-read when it changes) and the sentences typed in this workspace (stored, and this
session's), for one model bundle (store.py).
"""

from __future__ import annotations

import dataclasses
import logging
from collections import OrderedDict
from pathlib import Path

import numpy as np

from nextword.server.model.bundle import bundle_identity
from nextword.server.model.vocab import Vocabulary
from nextword.server.personal.mixing import PersonalEvidence, TableContext, candidates_of
from nextword.server.personal.store import (
    COMBINED,
    bundle_folder,
    load_table,
    save_table,
    typed_file,
)
from nextword.server.personal.table import PersonalTable, build_table, decay_for, merge, prune
from nextword.server.settings import LearningSettings
from nextword.server.text.tokenizer import PARAGRAPH_SYMBOL, Token, fold, folded_prefix_range

log = logging.getLogger(__name__)

MAX_TYPED_NGRAMS = 300_000
"""Most n-grams kept from typing per workspace (~4 MB)."""
TYPED_WORDS_BEFORE_SAVE = 20_000
"""This session's typed words are stored once this many wait (else at the periodic save)."""
KEPT_EVIDENCES = 32


def vocab_map(table: PersonalTable, vocab: Vocabulary) -> np.ndarray:
    """The table's id of each vocabulary word (-1: none)."""
    mapping = np.full(vocab.n_words, -1, np.int64)
    index = vocab.index
    for pid, token in enumerate(table.tokens):
        vid = index.get(token)
        if vid is not None and vid < vocab.n_words:
            mapping[vid] = pid
    return mapping


def cursor_context(tokens: tuple[str, ...]) -> tuple[tuple[str], tuple[str, str]]:
    """The last token and the last two before the word (paragraph symbols before the first)."""
    last = (PARAGRAPH_SYMBOL, PARAGRAPH_SYMBOL, *tokens[-2:])[-2:]
    return (last[1],), (last[0], last[1])


class PersonalLayer:
    def __init__(
        self, vocab: Vocabulary, bundle_id: str, workspace: str = "", base: Path | None = None
    ) -> None:
        self.vocab = vocab
        self.bundle_id = bundle_id
        self.base = base
        self.folder = bundle_folder(bundle_id, base)
        self.workspace = workspace
        self.tables: dict[str, tuple[PersonalTable, np.ndarray]] = {}
        """"combined", "typed" (stored), "session" -> (table, its vocabulary map)."""
        self.combined_stamp: tuple[int, int] | None = None
        self.session: list[list[Token]] = []
        self.session_words = 0
        self.evidences: OrderedDict[tuple, PersonalEvidence] = OrderedDict()
        self.contexts: OrderedDict[tuple, list[TableContext]] = OrderedDict()
        self.warnings: list[str] = []
        """Files set aside, for the user (the server shows each once)."""

    @classmethod
    def loaded(
        cls, vocab: Vocabulary, bundle_path: Path, workspace: str = "", base: Path | None = None
    ) -> PersonalLayer:
        """The layer for the bundle at `bundle_path` (its identity ties the files), read now."""
        layer = cls(vocab, bundle_identity(bundle_path), workspace, base)
        layer.load()
        return layer

    # -- what is loaded ----------------------------------------------------------------------

    def _set(self, name: str, table: PersonalTable | None) -> None:
        self.evidences.clear()
        self.contexts.clear()
        if table is None or not len(table.tokens):
            self.tables.pop(name, None)
        else:
            self.tables[name] = (table, vocab_map(table, self.vocab))

    def _load(self, path: Path) -> PersonalTable | None:
        table, warning = load_table(path, self.bundle_id)
        if warning:
            self.warnings.append(warning)
        return table

    def load(self) -> None:
        """Read the combined file (if it changed) and this workspace's typed file."""
        self.refresh()
        self._set("typed", self._load(self.typed_path))

    @property
    def typed_path(self) -> Path:
        return typed_file(self.folder, self.workspace)

    def refresh(self) -> bool:
        """Re-read the combined file when it changed on disk (a cheap stat). True if it did."""
        path = self.folder / COMBINED
        try:
            status = path.stat()
            stamp: tuple[int, int] | None = (status.st_mtime_ns, status.st_size)
        except OSError:
            stamp = None
        if stamp == self.combined_stamp:
            return False
        self.combined_stamp = stamp
        self._set("combined", self._load(path) if stamp is not None else None)
        log.info("learned words: %s", self.describe())
        return True

    def describe(self) -> str:
        parts = [f"{name} {int(table.words):,} words" for name, (table, _) in self.tables.items()]
        return ", ".join(parts) or "none"

    @property
    def nbytes(self) -> int:
        return sum(table.nbytes + mapping.nbytes for table, mapping in self.tables.values())

    # -- learning as the user types ---------------------------------------------------------

    def learn_typed(self, sentences: list[list[Token]]) -> None:
        """Count sentences typed in a document (stored at the next `save_typed`)."""
        if not sentences:
            return
        self.session += sentences
        self.session_words += sum(token.kind == "word" for s in sentences for token in s)
        self._set("session", build_table(self.session))
        if self.session_words >= TYPED_WORDS_BEFORE_SAVE:
            self.save_typed()

    def save_typed(self) -> bool:
        """Merge this session's typed sentences into the workspace's typed file. True if
        written."""
        if not self.session:
            return False
        session = build_table(self.session)
        stored = self.tables.get("typed")
        tables = [session] if stored is None else [stored[0], session]
        decays = [1.0] if stored is None else [decay_for(session.words), 1.0]
        merged = prune(merge(tables, decays), MAX_TYPED_NGRAMS)
        try:
            save_table(self.typed_path, merged, self.bundle_id, self.workspace, self.base)
        except (OSError, ValueError) as error:  # ValueError: the path leads out of the data dir
            log.warning("cannot store the typed words in %s: %s", self.typed_path, error)
            return False
        self.session, self.session_words = [], 0
        self._set("session", None)
        self._set("typed", merged)
        return True

    def forget(self) -> None:
        """Drop everything loaded and this session's sentences (the files are deleted by
        the caller)."""
        self.session, self.session_words = [], 0
        for name in list(self.tables):
            self._set(name, None)
        self.combined_stamp = None

    # -- at the cursor -----------------------------------------------------------------------

    def evidence(
        self, tokens: tuple[str, ...], prefix: str, settings: LearningSettings
    ) -> PersonalEvidence | None:
        """What the user's counts say after `tokens` (folded, the paragraph before the word)
        for words starting with `prefix`; None when nothing is learned or learning is off."""
        if not self.tables or not settings.enabled or settings.weight <= 0:
            return None
        one, two = cursor_context(tokens)
        typed = fold(prefix)
        key = (two, typed)
        evidence = self.evidences.get(key)
        if evidence is None:
            views = self.views(one, two)
            candidates: dict[str, str] = {}
            for view in views:
                table = view.table
                lo, hi = folded_prefix_range(table.tokens, typed)
                for pid in candidates_of(view, lo, hi):
                    candidates.setdefault(table.tokens[pid], table.written[pid])
            evidence = self.evidences[key] = PersonalEvidence(candidates, views, settings)
            if len(self.evidences) > KEPT_EVIDENCES:
                self.evidences.popitem(last=False)
        else:
            self.evidences.move_to_end(key)
        if evidence.settings is not settings:
            evidence = dataclasses.replace(evidence, settings=settings)
        return evidence

    def views(self, one: tuple[str], two: tuple[str, str]) -> list[TableContext]:
        """Each table's view of a context (kept for the last few contexts: typing a word asks
        for the same one at every letter)."""
        views = self.contexts.get(two)
        if views is None:
            views = [
                TableContext(table, mapping, (table.context_id(one), table.context_id(two)))
                for table, mapping in self.tables.values()
            ]
            self.contexts[two] = views
            if len(self.contexts) > KEPT_EVIDENCES:
                self.contexts.popitem(last=False)
        else:
            self.contexts.move_to_end(two)
        return views
