"""Count word bigrams and trigrams of the training corpus into a bundle (`ngrams.npz`).

    nextword ngrams --bundle DIR --corpus PATH... [--min-count 2]

The corpus, its paragraph mode and its dev split must be the ones the bundle was trained on
(the defaults repeat the exporter's): the counts come from the training paragraphs only, cut
into the network's sequences (`data.make_chunks`: a <p> or <cont> marker, then up to
max_context_tokens tokens), so a context here is exactly the last two ids of the server's
`Engine.context_key`. Continuations seen fewer than --min-count times are dropped (their mass
goes to the network through the backoff, see `nextword.server.model.ngrams`). The bundle's manifest
gains an "ngrams" section and the file's hash. Needs numpy only, not torch.
"""

from __future__ import annotations

import argparse
import shutil
import stat
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from nextword.exporter.data import make_chunks, provisional_to_vocab, tokenize_corpus
from nextword.server.model.bundle import (
    MANIFEST,
    Bundle,
    BundleError,
    install_directory,
    link_or_copy,
    load_bundle,
    write_manifest,
)
from nextword.server.model.ngrams import FILE_NAME, NgramError, load_ngrams
from nextword.server.model.vocab import Vocabulary

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


def count_level(
    contexts: np.ndarray, following: np.ndarray, n_words: int, min_count: int
) -> dict[str, np.ndarray]:
    """The arrays of one order (see nextword.server.model.ngrams) from parallel context and
    next-word arrays."""
    is_word = following < n_words
    contexts, following = contexts[is_word], following[is_word]
    context_keys, totals = np.unique(contexts, return_counts=True)
    pairs, counts = np.unique(contexts * n_words + following, return_counts=True)
    keep = counts >= min_count
    pairs, counts = pairs[keep], counts[keep]
    pair_context, pair_next = pairs // n_words, pairs % n_words
    kept_contexts, first_index = np.unique(pair_context, return_index=True)
    offsets = np.concatenate([first_index, [len(pairs)]])
    totals = totals[np.searchsorted(context_keys, kept_contexts)]
    id_type = np.uint16 if n_words <= 1 << 16 else np.uint32
    return {
        "context": kept_contexts.astype(np.uint32),
        "total": totals.astype(np.uint32),
        "offsets": offsets.astype(np.uint32),
        "next": pair_next.astype(id_type),
        "count": np.minimum(counts, 65535).astype(np.uint16),
    }


def count_ngrams(paragraphs: list[np.ndarray], vocab: Vocabulary, max_context_tokens: int,
                 min_count: int) -> dict[str, np.ndarray]:  # fmt: skip
    """Every array of `ngrams.npz` for the training paragraphs (vocabulary ids)."""
    vocab_size, n_words = len(vocab), vocab.n_words
    if vocab_size * vocab_size >= 1 << 32:
        raise ValueError(f"a {vocab_size}-word vocabulary is too large for uint32 trigram keys")
    chunks = make_chunks(paragraphs, vocab, max_context_tokens)
    flat = sequences(chunks.tokens, chunks.starts, chunks.lengths, chunks.first)
    arrays: dict[str, np.ndarray] = {"vocab_size": np.asarray([vocab_size], dtype=np.int64)}
    b, c = flat[:-1], flat[1:]
    ok = (b >= 0) & (c >= 0)
    for name, values in count_level(b[ok], c[ok], n_words, min_count).items():
        arrays[f"bigram_{name}"] = values
    a, b, c = flat[:-2], flat[1:-1], flat[2:]
    ok = (a >= 0) & (b >= 0) & (c >= 0)
    for name, values in count_level(a[ok] * vocab_size + b[ok], c[ok], n_words, min_count).items():
        arrays[f"trigram_{name}"] = values
    return arrays


def dev_every_of(manifest: dict) -> int | None:
    """The bundle's dev split (every Nth paragraph held out: N), as its training recorded it."""
    dev_every = manifest.get("training", {}).get("dev_every")
    return dev_every if isinstance(dev_every, int) else None


def add_ngrams(bundle_dir: Path, corpus: list[str], min_count: int, dev_every: int | None,
               paragraphs: str | None, command: str = "") -> dict:  # fmt: skip
    """Count, write `ngrams.npz` into the bundle, rewrite its manifest; return the section."""
    bundle = load_bundle(bundle_dir)
    manifest = dict(bundle.manifest)
    recorded = manifest.get("corpus", {})
    dev_every = dev_every if dev_every is not None else (dev_every_of(manifest) or 20)
    mode = paragraphs or recorded.get("paragraph_mode", "auto")
    began = time.perf_counter()
    print(f"tokenizing {', '.join(corpus)} (every {dev_every}th paragraph held out)")
    tokenized = tokenize_corpus(corpus, dev_every, mode)  # type: ignore[arg-type]
    if recorded.get("files") and sorted(recorded["files"]) != sorted(tokenized.summary.files):
        print(
            f"warning: the bundle was trained on {recorded['files']}, "
            f"counting {tokenized.summary.files}",
            file=sys.stderr,
        )
    lookup = provisional_to_vocab(tokenized, bundle.vocab)
    train = [lookup[paragraph] for paragraph in tokenized.train]
    arrays = count_ngrams(train, bundle.vocab, bundle.max_context_tokens, min_count)
    section = {
        "file": FILE_NAME,
        "orders": [2, 3],
        "min_count": min_count,
        "corpus_files": tokenized.summary.files,
        "train_paragraphs": len(train),
        "dev_split": f"every {dev_every}th paragraph held out",
        "dev_every": dev_every,
        "paragraph_mode": mode,
        "bigram_contexts": int(len(arrays["bigram_context"])),
        "bigrams": int(len(arrays["bigram_next"])),
        "trigram_contexts": int(len(arrays["trigram_context"])),
        "trigrams": int(len(arrays["trigram_next"])),
        "seconds": round(time.perf_counter() - began, 1),
        "command": command,
    }
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="nextword ngrams", description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", required=True, type=Path, help="bundle directory to extend")
    parser.add_argument("--corpus", required=True, nargs="+", help="the bundle's training corpus")
    parser.add_argument(
        "--min-count", type=int, default=2,
        help="drop continuations seen fewer times (default 2)",
    )  # fmt: skip
    parser.add_argument(
        "--dev-every", type=int, default=None,
        help="held-out paragraph interval (default: the bundle's manifest, else 20)",
    )  # fmt: skip
    parser.add_argument(
        "--paragraphs", choices=("auto", "lines", "blank-lines"), default=None,
        help="paragraph mode (default: the bundle's manifest)",
    )  # fmt: skip
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    if args.min_count < 1:
        parser.error("--min-count must be at least 1")
    try:
        section = add_ngrams(
            args.bundle,
            args.corpus,
            args.min_count,
            args.dev_every,
            args.paragraphs,
            command="nextword ngrams " + " ".join(argv),
        )
    except (BundleError, NgramError, OSError, ValueError) as error:
        print(f"nextword ngrams: {error}", file=sys.stderr)
        return 1
    size = (args.bundle / FILE_NAME).stat().st_size
    print(
        f"wrote {args.bundle / FILE_NAME} ({size / 1e6:.1f} MB): {section['bigrams']:,} bigrams "
        f"after {section['bigram_contexts']:,} contexts, {section['trigrams']:,} trigrams after "
        f"{section['trigram_contexts']:,} contexts, in {section['seconds']} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
