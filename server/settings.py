"""The server's settings: a tree of dataclasses with a default for every field.

Read from `initializationOptions` and `workspace/didChangeConfiguration`, either under a
"nextword" key or flat, with camelCase or snake_case keys:

    {"nextword": {"maxItems": 8, "languages": ["markdown"], "ranking": {"prior": 0.05}}}

`parse_settings` never raises: a value of the wrong type or out of range is reported in the
returned problems (one line each, naming the setting) and replaced by its default.
"""

from __future__ import annotations

import dataclasses
import math
import re
import types as pytypes
import typing
from dataclasses import dataclass, field
from typing import Any

DEFAULT_LANGUAGES = (
    "plaintext",
    "markdown",
    "latex",
    "restructuredtext",
    "git-commit",
    "asciidoc",
)


@dataclass
class RankingWeights:
    similarity: float = 1.0
    """Weight of the network's score for a word (a log-probability up to a constant)."""
    prior: float = 0.0
    """Weight of the word's log corpus frequency, beyond what the network gives it."""
    document: float = 0.0
    """Bonus for a word written near the cursor."""
    candidates: int = 64
    """How many best-scoring words the search returns (words written nearby join them)."""


@dataclass
class NgramSettings:
    enabled: bool = True
    """Use the bundle's word counts when it has them (`ngrams.npz`)."""
    weight: float = 0.7
    """lambda in (1 - lambda) * p_network + lambda * p_ngram (0..1); 1: the counts' own backoff
    alone decides how much the network says."""
    discount: float = 0.75
    """D, subtracted from every kept count (0 <= D < 1)."""
    candidates: int = 16
    """How many of the words the counts like best join the network's candidates."""


@dataclass
class ContextLimits:
    lookback_lines: int = 200
    """Lines of the paragraph before the cursor read back at most for the context."""
    lookback_chars: int = 4096
    """Characters read back at most for the context (a longer line is cut on a grid)."""
    window_lines_before: int = 40
    """Lines above the cursor whose words count as written nearby."""
    window_lines_after: int = 10
    """Lines below the cursor whose words count as written nearby."""


@dataclass
class MemorySettings:
    enabled: bool = True
    """Complete with the document's own words, found by context (the continuous cache)."""
    max_pairs: int = 2000
    """Most (prediction, word) pairs kept for one document: the words before the cursor."""
    max_lines: int = 400
    """Lines before the cursor the memory reads back at most."""
    theta: float = 10.0
    """Sharpness: how much more a pair in a similar context counts than one in another."""
    weight: float = 0.3
    """Mixing weight lambda: p = (1 - lambda) * p_model + lambda * p_cache."""
    temperature: float = 1.0
    """Turns ranking scores into p_model = softmax(score / temperature) for the mixing (the
    scores are log-probabilities up to a constant, so 1 is the model's own distribution)."""
    same_previous: float = 5.0
    """Factor for a pair whose word followed the same token as the cursor's word does. The
    network reads every unknown word alike, so this is what tells "Zorblat _" from "Quenwick _"."""
    min_norm: float = 0.0
    """The cache's mass is divided by its total or by this, whichever is larger (0: always by
    the total, as in Grave et al.). 1 is the weight of one pair in an identical context."""
    half_weight_pairs: float = 100.0
    """The cache gets weight * n / (n + this) when it holds n pairs: a few words are weak
    evidence, and a 3-word document must not make its own words the likeliest next ones."""
    workspace: bool = False
    """Also use the words of the other open documents (off: documents never share words)."""
    persist: bool = False
    """Keep what was learned between sessions, per workspace, in the user's data directory."""


@dataclass
class LearningSettings:
    enabled: bool = True
    """Complete with what was learned from the user's own writing (`nextword learn`, and the
    sentences typed): their words, names and phrases (personal/)."""
    typing: bool = True
    """Learn the finished sentences typed in any served document, kept in the user's data
    directory (local only). Read from the editor's user-level settings only: a workspace
    cannot turn it on."""
    weight: float = 0.5
    """lambda in (1 - lambda) * p_model + lambda * p_personal, where p_personal is the user's
    phrase counts with the model as their lowest order (a context the user never wrote leaves
    p_personal = p_model)."""
    discount: float = 0.75
    """D, subtracted from every count of the user's phrases (0 <= D < 1)."""
    unigram: float = 0.1
    """Share of the user's word frequencies in the lowest order, beside the model's."""


@dataclass
class InlineSettings:
    max_words: int = 4
    """Most words in one suggestion (the rest of the current word counts as one)."""
    min_probability: float = 0.7
    """Shown at a word start when the first word's probability is at least this."""
    min_probability_typed: float = 0.7
    """Shown after letters of a word when its rest's probability is at least this."""
    min_phrase_probability: float = 0.1
    """Words go on while the probability of the whole phrase stays at least this."""
    budget_ms: float = 4.0
    """No word after the first is started once the rollout has worked this long. Between two
    words the server answers what came meanwhile, and an edit ends the rollout."""


@dataclass
class Settings:
    bundle: str = ""
    """Model bundle directory; empty: the default bundle shipped with nextword."""
    max_items: int = 6
    """Most completions offered at once."""
    min_score: float | None = None
    """Drop completions scoring below this; None keeps them all."""
    languages: list[str] = field(default_factory=lambda: list(DEFAULT_LANGUAGES))
    """LSP language ids of the documents completed."""
    cache: bool = True
    """Keep recurrent states between requests (off: recompute the context every time)."""
    cache_megabytes: int = 8
    """All documents' cached states together (~4.5 KB a state: 8 MB hold ~1,850 states)."""
    document_cache_megabytes: int = 6
    """One document's cached states at most."""
    cached_documents: int = 4
    """Documents that keep their caches (states, memory); older ones are rebuilt when used."""
    prepare_next_word: bool = True
    """While the user pauses, compute the completion a space typed there will get (one
    recurrent step, a search of the whole vocabulary, the memory's blocks), so the keystroke
    after the space is answered at once."""
    ranking: RankingWeights = field(default_factory=RankingWeights)
    """How the words matching the typed prefix are scored (engine/ranking.py)."""
    ngrams: NgramSettings = field(default_factory=NgramSettings)
    """The bundle's corpus word counts, layered over the network (model/ngrams.py)."""
    context: ContextLimits = field(default_factory=ContextLimits)
    """How much text around the cursor is read (text/cursor.py)."""
    memory: MemorySettings = field(default_factory=MemorySettings)
    """The document cache of its own words (memory/)."""
    learning: LearningSettings = field(default_factory=LearningSettings)
    """Learning from the user's own writing (personal/): `nextword learn`, and as they type."""
    inline_suggestions: bool = True
    """Answer textDocument/inlineCompletion (the clients decide whether to ask)."""
    inline: InlineSettings = field(default_factory=InlineSettings)
    """Ghost text (engine/inline.py)."""


BOUNDS: dict[str, tuple[float, float]] = {
    # setting (dotted path of snake_case field names) -> (minimum, maximum), both inclusive
    "max_items": (1, 100),
    "min_score": (-1e6, 1e6),
    "cache_megabytes": (1, 16384),
    "document_cache_megabytes": (1, 16384),
    "cached_documents": (1, 1000),
    "ranking.similarity": (-1000, 1000),
    "ranking.prior": (-1000, 1000),
    "ranking.document": (-1000, 1000),
    "ranking.candidates": (1, 1024),
    "ngrams.weight": (0, 1),
    "ngrams.discount": (0, 0.999),  # a whole count subtracted would leave nothing
    "ngrams.candidates": (1, 256),
    # The context and the memory's window are read on the first completion in a paragraph: at
    # 1e9 a 2 MB paragraph took 32 s, during which the one-threaded server answered nothing.
    "context.lookback_lines": (1, 2000),
    "context.lookback_chars": (64, 65536),
    "context.window_lines_before": (0, 1000),
    "context.window_lines_after": (0, 1000),
    "memory.max_pairs": (1, 5000),  # each pair costs a recurrent step when first read
    "memory.max_lines": (1, 2000),
    "memory.theta": (0, 1000),
    "memory.weight": (0, 0.999),  # 1 would leave the model no share: a word the cache lacks
    # would score -inf
    "memory.temperature": (0.001, 1000),
    "memory.same_previous": (0, 1000),
    "memory.min_norm": (0, 1e6),
    "memory.half_weight_pairs": (0, 1e6),
    "learning.weight": (0, 0.999),  # 1 would leave the model no share
    "learning.discount": (0, 0.999),
    "learning.unigram": (0, 1),
    "inline.max_words": (1, 32),
    "inline.min_probability": (0, 1),
    "inline.min_probability_typed": (0, 1),
    "inline.min_phrase_probability": (0, 1),
    "inline.budget_ms": (0, 1000),
}


def snake_case(key: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"_\1", key).lower()


def camel_case(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _check_value(value: Any, annotation: Any) -> tuple[bool, Any]:
    """(ok, converted value) for a JSON value and a field's type."""
    if annotation is bool:
        return isinstance(value, bool), value
    if annotation is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if annotation is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok and math.isfinite(value), float(value) if ok else value
    if annotation is str:
        return isinstance(value, str), value
    origin = typing.get_origin(annotation)
    if origin is list:
        (item_type,) = typing.get_args(annotation)
        if not isinstance(value, list):
            return False, value
        checked = [_check_value(item, item_type) for item in value]
        return all(ok for ok, _ in checked), [item for _, item in checked]
    if origin in (typing.Union, pytypes.UnionType):
        if value is None and type(None) in typing.get_args(annotation):
            return True, None
        for option in typing.get_args(annotation):
            if option is not type(None):
                ok, converted = _check_value(value, option)
                if ok:
                    return True, converted
        return False, value
    return False, value


def _describe(annotation: Any) -> str:
    return {bool: "true or false", int: "an integer", float: "a number", str: "a string"}.get(
        annotation, str(annotation).replace("typing.", "")
    )


def _merge(instance: Any, raw: dict[str, Any], path: str, problems: list[str], strict: bool) -> Any:
    hints = typing.get_type_hints(type(instance))
    by_name = {f.name: f for f in dataclasses.fields(instance)}
    changes: dict[str, Any] = {}
    for key, value in raw.items():
        name = snake_case(key)
        setting = f"{path}{camel_case(name)}"
        if name not in by_name:
            if strict:  # flat options may hold other tools' settings
                problems.append(f"unknown setting nextword.{path}{key}")
            continue
        annotation = hints[name]
        current = getattr(instance, name)
        if dataclasses.is_dataclass(current):
            if isinstance(value, dict):
                changes[name] = _merge(current, value, f"{setting}.", problems, True)
            else:
                problems.append(f"setting nextword.{setting} must be an object; using defaults")
            continue
        ok, converted = _check_value(value, annotation)
        bounds = BOUNDS.get(".".join(snake_case(part) for part in setting.split(".")))
        if ok and bounds is not None and converted is not None:
            ok = bounds[0] <= converted <= bounds[1]
        if not ok:
            expected = _describe(annotation)
            if bounds is not None:
                expected += f" from {bounds[0]:g} to {bounds[1]:g}"
            problems.append(
                f"setting nextword.{setting} = {value!r} is invalid (expected {expected}); "
                f"using the default {getattr(type(instance)(), name)!r}"
            )
            continue
        changes[name] = converted
    return dataclasses.replace(instance, **changes)


def section(options: Any) -> tuple[dict[str, Any] | None, bool]:
    """The nextword part of the options, and whether it sat under a "nextword" key."""
    if not isinstance(options, dict):
        return None, False
    inner = options.get("nextword")
    if isinstance(inner, dict):
        return inner, True
    return (options, False) if "nextword" not in options else (None, True)


def parse_settings(options: Any, base: Settings | None = None) -> tuple[Settings, list[str]]:
    """Settings from JSON-like options (over `base`, else the defaults), and the problems seen."""
    problems: list[str] = []
    raw, nested = section(options)
    settings = Settings() if base is None else base
    if raw is None:
        if nested or (options is not None and not isinstance(options, dict)):
            problems.append("nextword settings must be a JSON object; ignoring them")
        return settings, problems
    return _merge(settings, raw, "", problems, nested), problems
