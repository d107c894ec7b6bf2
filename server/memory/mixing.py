"""The document cache's distribution over the words matching the prefix, and its mixing with the
model's (Grave et al., ICLR 2017).

    cache(w) = sum over stored pairs (v_i, w) of exp(theta * (cos(p, v_i) - 1)) * f_i

where p is the prediction at the cursor and f_i is `same_previous` when the stored word followed
the same token as the cursor's word does, else 1 (the network reads every unknown word as the
same symbol, so without it a name's second word could not be told from what follows it).
Normalised over the words matching the prefix, this p_cache is mixed with the model's
distribution over the same words: (1 - weight) * p_model + weight * p_cache (`mixed_scores`).
"""

from __future__ import annotations

import bisect

import numpy as np

from nextword.server.memory.blocks import MemoryBlock
from nextword.server.settings import MemorySettings
from nextword.server.text.tokenizer import fold

MOST_WORDS = 64
"""The cache offers at most this many words per request (the likeliest), like the search."""


def combine_mass(
    blocks: list[MemoryBlock],
    query: np.ndarray,
    typed: str,
    previous: str,
    settings: MemorySettings,
) -> dict[str, tuple[float, str]]:
    """{word: (probability, as written)}: the cache distribution over the words matching the
    prefix, over all the blocks (the MOST_WORDS likeliest; a word's spelling from the first block
    that has it).

    The largest block's masses stay a numpy array, and only its best MOST_WORDS (ties included)
    become Python objects: with a full window and nothing typed that block holds hundreds of
    distinct words, and a dict of them all cost ~1 ms per keystroke after a space."""
    parts = [(block, *block.masses(query, typed, previous, settings)) for block in blocks]
    parts = [part for part in parts if len(part[2])]
    if not parts:
        return {}
    base_index = max(range(len(parts)), key=lambda i: (len(parts[i][2]), -i))
    base, base_lo, base_sums = parts[base_index]
    base_sums = base_sums.copy()
    base_hi = base_lo + len(base_sums)
    spelled: dict[int, str] = {}  # base offset -> spelling from a block before the base
    others: dict[str, list] = {}  # word in no base row -> [mass, spelling]
    for index, (block, lo, sums) in enumerate(parts):
        if index == base_index:
            continue
        for offset, value in enumerate(sums.tolist()):
            word, written = block.words[lo + offset], block.written[lo + offset]
            row = bisect.bisect_left(base.words, word, base_lo, base_hi)
            if row < base_hi and base.words[row] == word:
                base_sums[row - base_lo] += value
                if index < base_index:
                    spelled.setdefault(row - base_lo, written)
            elif word in others:
                others[word][0] += value
            else:
                others[word] = [value, written]
    norm = float(base_sums.sum()) + sum(mass for mass, _ in others.values())
    if norm <= 0.0:
        return {}
    # Words met only in unlike contexts get little mass; divided by at least `min_norm` (1: one
    # pair's full weight) they stay unlikely instead of sharing all of the cache's probability,
    # which in a short document made every earlier word a strong candidate.
    norm = max(norm, settings.min_norm)
    pairs = sum(len(block) for block in blocks)
    norm *= (pairs + settings.half_weight_pairs) / max(pairs, 1)
    if len(base_sums) > MOST_WORDS:
        threshold = np.partition(base_sums, -MOST_WORDS)[-MOST_WORDS]
        rows = np.flatnonzero(base_sums >= threshold).tolist()
    else:
        rows = list(range(len(base_sums)))
    candidates = [
        (float(base_sums[row]), base.words[base_lo + row],
         spelled.get(row, base.written[base_lo + row]))
        for row in rows
    ]  # fmt: skip
    candidates += [(mass, word, written) for word, (mass, written) in others.items()]
    candidates.sort(key=lambda item: (-item[0], item[1]))
    return {word: (mass / norm, written) for mass, word, written in candidates[:MOST_WORDS]}


def memory_bonuses(
    blocks: list[MemoryBlock],
    query: np.ndarray,
    prefix: str,
    previous: str,
    settings: MemorySettings,
) -> dict[str, tuple[float, str]]:
    """{folded word: (cache probability, as written)} for the words matching the typed prefix;
    `previous`: the folded token before the word."""
    if not blocks:
        return {}
    vector = np.asarray(query, dtype=np.float32).reshape(-1)
    return combine_mass(blocks, vector, fold(prefix), previous, settings)


def mixed_scores(
    scores: np.ndarray, from_cache: np.ndarray, settings: MemorySettings
) -> np.ndarray:
    """Grave et al.'s interpolation, restricted to the words matching the prefix: the
    candidates' ranking scores (float64) and their cache probabilities (0 for a word the memory
    does not know) -> the mixed scores.

    The ranking scores become a distribution p_model = softmax(score / temperature) over the
    candidates; the mixture (1 - weight) * p_model + weight * p_cache is mapped back to the
    score scale, so a word the memory does not know keeps its score (shifted by the same constant
    for every candidate: temperature * log(1 - weight)).
    """
    temperature, weight = settings.temperature, settings.weight
    top = float(scores.max())
    model = np.exp((scores - top) / temperature)
    total = float(model.sum())
    mixed = (1.0 - weight) * model / total + weight * from_cache
    with np.errstate(divide="ignore"):
        return temperature * np.log(mixed) + top + temperature * np.log(total)
