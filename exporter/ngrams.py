"""Count word n-grams of the training corpus into a bundle (`ngrams.npz`), pruned to a size.

    nextword ngrams --bundle DIR --corpus PATH... [--order 3|4] [--max-mb 7] [--min-count 1]

The corpus, its paragraph mode and its dev split must be the ones the bundle was trained on
(the defaults repeat the exporter's; files are read through the token cache, so the corpus is
not tokenized again): the counts come from the training paragraphs only, cut into the
network's sequences (`data.make_chunks`: a <p> or <cont> marker, then up to max_context_tokens
tokens), so a context here is exactly the last ids of the server's `Engine.context_key`. Of all
the n-grams seen at least --min-count times, those whose loss would change the predictions most
are kept until the file reaches --max-mb (`ngram_pruning`); the mass of the others goes to the
network through the backoff (see `nextword.server.model.ngrams`). The bundle's manifest gains an
"ngrams" section and the file's hash. Needs numpy only, not torch.
"""

from __future__ import annotations

import argparse
import shutil
import stat
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from nextword.exporter.corpus import DEV_EVERY, default_cache_dir
from nextword.exporter.data import make_chunks, provisional_to_vocab, tokenize_corpus
from nextword.exporter.ngram_pruning import (
    Say,
    count_costs,
    count_order,
    fit_to_size,
    link_tails,
    raise_tails,
    ranks,
    relative_entropy_costs,
)
from nextword.server.model.bundle import (
    MANIFEST,
    Bundle,
    BundleError,
    install_directory,
    link_or_copy,
    load_bundle,
    write_manifest,
)
from nextword.server.model.ngrams import FILE_NAME, LEVELS, NgramError, load_ngrams
from nextword.server.model.vocab import Vocabulary
from nextword.server.settings import NgramSettings

Pruning = Literal["entropy", "count"]

SEPARATOR = -1


def sequences(chunks_tokens: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
              first: np.ndarray) -> np.ndarray:  # fmt: skip
    """All chunks as [first, tokens...] in one int64 array, SEPARATOR between chunks."""
    if len(starts) and not np.array_equal(starts[1:], np.cumsum(lengths[:-1], dtype=np.int64)):
        raise ValueError("chunks are not laid out one after another")
    total = int(lengths.sum()) + 2 * len(starts)
    flat = np.full(total, SEPARATOR, dtype=np.int64)
    # chunk i occupies [position_i, position_i + 1 + length_i), then one separator
    positions = np.concatenate([[0], np.cumsum(lengths.astype(np.int64) + 2)[:-1]])
    flat[positions] = first
    token_positions = np.repeat(positions + 1 - starts, lengths) + np.arange(int(lengths.sum()))
    flat[token_positions] = chunks_tokens
    return flat


def count_ngrams(
    paragraphs: list[np.ndarray],
    vocab: Vocabulary,
    max_context_tokens: int,
    min_count: int = 1,
    order: int = 3,
    max_bytes: int | None = None,
    pruning: Pruning = "entropy",
    say: Say = lambda line: None,
) -> dict[str, np.ndarray]:
    """Every array of `ngrams.npz` for the training paragraphs (vocabulary ids): the n-grams up
    to `order` seen at least `min_count` times, the best of them (by `pruning`) that fit in
    `max_bytes` (all when None)."""
    if not 3 <= order <= len(LEVELS) + 1:
        raise ValueError(f"n-grams of order {order}: 3 or 4 are supported")
    vocab_size, n_words = len(vocab), vocab.n_words
    chunks = make_chunks(paragraphs, vocab, max_context_tokens)
    flat = sequences(chunks.tokens, chunks.starts, chunks.lengths, chunks.first)
    orders = []
    for length in range(1, order):
        began = time.perf_counter()
        orders.append(count_order(flat, length, vocab_size, n_words))
        counted = orders[-1]
        say(f"{length + 1}-grams: {len(counted.words):,} after {len(counted.contexts):,} "
            f"contexts ({time.perf_counter() - began:.1f} s)")  # fmt: skip
    link_tails(orders, vocab_size)
    if pruning == "entropy":
        costs = relative_entropy_costs(orders, n_words, NgramSettings().discount)
    else:
        costs = count_costs(orders)
    places = ranks(raise_tails(orders, costs))
    everything = sum(len(place) for place in places)
    for counted, place in zip(orders, places):
        place[counted.counts < min_count] = everything  # never kept
    return fit_to_size(orders, places, max_bytes, vocab_size, n_words, say)


def dev_every_of(manifest: dict) -> int | None:
    """The bundle's dev split (every Nth paragraph held out: N), as its training recorded it."""
    dev_every = manifest.get("training", {}).get("dev_every")
    return dev_every if isinstance(dev_every, int) else None


@dataclass
class CountOptions:
    """What `nextword ngrams` keeps (see `count_ngrams`)."""

    order: int = 3
    max_mb: float | None = 7.0
    min_count: int = 1
    pruning: Pruning = "entropy"


def add_ngrams(
    bundle_dir: Path,
    corpus: list[str],
    options: CountOptions,
    dev_every: int | None,
    paragraphs: str | None,
    cache_dir: Path | None,
    command: str = "",
) -> dict:
    """Count, write `ngrams.npz` into the bundle, rewrite its manifest; return the section."""
    bundle = load_bundle(bundle_dir)
    manifest = dict(bundle.manifest)
    recorded = manifest.get("corpus", {})
    dev_every = dev_every if dev_every is not None else (dev_every_of(manifest) or DEV_EVERY)
    mode = paragraphs or recorded.get("paragraph_mode", "auto")
    began = time.perf_counter()
    say(f"reading {', '.join(corpus)} (every {dev_every}th paragraph held out)")
    tokenized = tokenize_corpus(corpus, dev_every, mode, (), cache_dir, quiet=False)  # type: ignore[arg-type]
    if recorded.get("files") and sorted(recorded["files"]) != sorted(tokenized.summary.files):
        say(f"warning: the bundle was trained on {recorded['files']}, "
            f"counting {tokenized.summary.files}")  # fmt: skip
    lookup = provisional_to_vocab(tokenized, bundle.vocab)
    train = [lookup[paragraph] for paragraph in tokenized.train]
    max_bytes = None if options.max_mb is None else int(options.max_mb * 1e6)
    arrays = count_ngrams(train, bundle.vocab, bundle.max_context_tokens, options.min_count,
                          options.order, max_bytes, options.pruning, say)  # fmt: skip
    section: dict = {
        "file": FILE_NAME,
        "orders": list(range(2, options.order + 1)),
        **asdict(options),
        "corpus_files": tokenized.summary.files,
        "train_paragraphs": len(train),
        "dev_split": f"every {dev_every}th paragraph held out",
        "dev_every": dev_every,
        "paragraph_mode": mode,
    }
    for name in LEVELS[: options.order - 1]:
        section[f"{name}_contexts"] = int(len(arrays[f"{name}_context"]))
        section[f"{name}s"] = int(len(arrays[f"{name}_next"]))
    section |= {"seconds": round(time.perf_counter() - began, 1), "command": command}
    manifest["ngrams"] = section
    write_bundle_with(bundle, arrays, manifest)
    return section


def write_bundle_with(bundle: Bundle, arrays: dict[str, np.ndarray], manifest: dict) -> None:
    """Replace the bundle by a copy (hard links) with `ngrams.npz` and the new manifest, made
    beside it and checked first: a failure or a kill leaves the bundle as it was."""
    out = bundle.path.resolve()
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        for child in out.iterdir():
            kept = child.name not in (MANIFEST, FILE_NAME) and not child.name.startswith(".")
            if kept and child.is_file():
                link_or_copy(child, staging / child.name)
        np.savez_compressed(staging / FILE_NAME, **arrays)
        load_ngrams(staging / FILE_NAME, len(bundle.vocab), bundle.vocab.n_words)
        write_manifest(staging, manifest)
        load_bundle(staging)  # the server's reader must accept the result
        staging.chmod(stat.S_IMODE(out.stat().st_mode))
        install_directory(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    defaults = CountOptions()
    parser = argparse.ArgumentParser(prog="nextword ngrams", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True, type=Path, help="bundle directory to extend")
    parser.add_argument("--corpus", required=True, nargs="+", help="the bundle's training corpus")
    parser.add_argument(
        "--order", type=int, choices=(3, 4), default=defaults.order,
        help=f"longest n-gram counted (default {defaults.order})",
    )  # fmt: skip
    parser.add_argument(
        "--max-mb", type=float, default=defaults.max_mb,
        help=f"largest {FILE_NAME} to write, in MB; 0: no limit (default {defaults.max_mb})",
    )  # fmt: skip
    parser.add_argument(
        "--pruning", choices=("entropy", "count"), default=defaults.pruning,
        help="which n-grams --max-mb keeps first: those whose loss changes the predictions "
        "most (relative entropy), or the most frequent (default entropy)",
    )  # fmt: skip
    parser.add_argument(
        "--min-count", type=int, default=defaults.min_count,
        help=f"drop n-grams seen fewer times, whatever the size (default {defaults.min_count})",
    )  # fmt: skip
    parser.add_argument(
        "--dev-every", type=int, default=None,
        help="held-out paragraph interval (default: the bundle's manifest, else 20)",
    )  # fmt: skip
    parser.add_argument(
        "--paragraphs", choices=("auto", "lines", "blank-lines"), default=None,
        help="paragraph mode (default: the bundle's manifest)",
    )  # fmt: skip
    parser.add_argument(
        "--token-cache", default=str(default_cache_dir()),
        help="folder caching each corpus file's token ids ('' for none)",
    )  # fmt: skip
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.min_count < 1:
        parser.error("--min-count must be at least 1")
    if args.max_mb < 0:
        parser.error("--max-mb must be positive, or 0 for no limit")
    options = CountOptions(args.order, args.max_mb or None, args.min_count, args.pruning)
    try:
        section = add_ngrams(
            args.bundle,
            args.corpus,
            options,
            args.dev_every,
            args.paragraphs,
            Path(args.token_cache) if args.token_cache else None,
            command="nextword ngrams " + " ".join(argv),
        )
    except (BundleError, NgramError, OSError, ValueError) as error:
        print(f"nextword ngrams: {error}", file=sys.stderr)
        return 1
    size = (args.bundle / FILE_NAME).stat().st_size
    kept = ", ".join(
        f"{section[f'{name}s']:,} {name}s after {section[f'{name}_contexts']:,} contexts"
        for name in LEVELS[: options.order - 1]
    )
    print(
        f"wrote {args.bundle / FILE_NAME} ({size / 1e6:.2f} MB): {kept}, in {section['seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
