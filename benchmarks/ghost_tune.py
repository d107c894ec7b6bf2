"""Ghost text's confidence thresholds, tuned on dev text that no held-out text shares.

    NEXTWORD_SHARED=/work/shared python benchmarks/ghost_tune.py [--words 500]

Dev text: the exporter's dev split (every 20th paragraph), one document per file of both corpora:
the old corpus's paragraphs not in the held-out `corpus-dev` text (adaptation.py's tuning texts)
and the modern corpus's. Each is typed once through the in-process engine with the rollout
unthresholded (every prefix asked, `max_words` words, no time budget); every threshold setting
is then read off those records (commands/ghost.py), so the table compares them on identical
rollouts. Writes `.benchmarks/ghost-tune.json` and prints the trade-off as a Markdown table; the
records are kept in `.benchmarks/ghost-tune-records.pickle` (`--reuse` reads them back, for
another grid without typing again).
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import pickle
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from adaptation import OUT, tuning_texts  # noqa: E402
from heldout import DEFAULT_CACHE, HeldoutConfig, clip_paragraph, corpus_dev, to_ascii  # noqa: E402

from nextword.server.commands.ghost import (  # noqa: E402
    GhostFile,
    evaluate_ghost,  # noqa: E402
    summarize_ghost,
)
from nextword.server.commands.sessions import EngineSession, eval_settings  # noqa: E402
from nextword.server.engine.engine import Engine, load_engine  # noqa: E402
from nextword.server.engine.inline import (  # noqa: E402
    GhostWord,
    confident,
    inline_cursor,
    kept_words,
    rollout,
)
from nextword.server.settings import InlineSettings  # noqa: E402

SUGGESTIONS = 6
FIRST = (0.5, 0.6, 0.7, 0.8, 0.9)
TYPED = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
PHRASE = (0.05, 0.1, 0.2, 0.3, 0.4, 0.5)


class TraceSession(EngineSession):
    """The engine's ghost text with every word the rollout would reach, thresholds left out."""

    max_words = InlineSettings().max_words

    def ghost(self) -> list[GhostWord]:
        cursor = inline_cursor(self.document, self.line, self.column, self.engine)
        if cursor is None:
            return []
        return list(rollout(self.engine, self.document, cursor, keep_all, self.max_words))


def keep_all(kept: list[GhostWord], word: GhostWord, typed: bool) -> bool:
    return True


def modern_texts(config: HeldoutConfig, words_per_file: int) -> list[Path]:
    """One document per modern corpus file: its first dev paragraphs, `words_per_file` words."""
    out = config.cache / f"ghost-tune-modern-{words_per_file}"
    out.mkdir(parents=True, exist_ok=True)
    dev = corpus_dev(config.corpora, config.paragraphs)
    paths = []
    for name, paragraphs in dev.items():
        if not name.endswith(".gz"):
            continue
        chosen, total = [], 0
        for raw in paragraphs:
            paragraph = clip_paragraph(" ".join(to_ascii(raw).split()), 150)
            if len(paragraph.split()) < 6:
                continue
            chosen.append(paragraph)
            total += len(paragraph.split())
            if total >= words_per_file:
                break
        path = out / f"{name.split('.')[0]}.txt"
        path.write_text("\n\n".join(chosen) + "\n", encoding="ascii")
        paths.append(path)
    return paths


def cut_for(settings: InlineSettings):
    keep = confident(settings)
    return lambda words, typed: kept_words(words, keep, typed, settings.max_words)


def grid(files: list[GhostFile]) -> list[dict]:
    rows = []
    for first, typed, phrase in itertools.product(FIRST, TYPED, PHRASE):
        settings = dataclasses.replace(
            InlineSettings(),
            min_probability=first,
            min_probability_typed=typed,
            min_phrase_probability=phrase,
        )
        summary = summarize_ghost("dev", files, SUGGESTIONS, cut_for(settings))
        rows.append(
            {"first": first, "typed": typed, "phrase": phrase, **dataclasses.asdict(summary)}
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundle", help="bundle directory (default: the bundled default model)")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    parser.add_argument("--words", type=int, default=500, help="words per corpus file")
    parser.add_argument("--max-files", type=int, default=0, help="at most this many (0: all)")
    parser.add_argument("--reuse", action="store_true", help="the records of the last run")
    args = parser.parse_args(argv)
    config = HeldoutConfig(cache=args.cache)
    paths = tuning_texts(config, args.words) + modern_texts(config, args.words)
    if args.max_files:
        paths = paths[:: max(1, len(paths) // args.max_files)][: args.max_files]
    engine: Engine = load_engine(args.bundle, eval_settings(True, SUGGESTIONS))
    counter = itertools.count()

    def open_session() -> TraceSession:
        return TraceSession(engine, f"eval://ghost-tune-{next(counter)}")

    records = OUT / "ghost-tune-records.pickle"
    if args.reuse and records.is_file():
        files = pickle.loads(records.read_bytes())
    else:
        _, files = evaluate_ghost("dev", paths, open_session, SUGGESTIONS, every_prefix=True)
        OUT.mkdir(exist_ok=True)
        records.write_bytes(pickle.dumps(files))
    rows = grid(files)
    OUT.mkdir(exist_ok=True)
    (OUT / "ghost-tune.json").write_text(json.dumps(rows, indent=2))
    print("| first | typed | phrase | ghost KSR % | both KSR % | shown % | right % | words |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(
            f"| {row['first']} | {row['typed']} | {row['phrase']} | {row['ghost_ksr']:.2f} | "
            f"{row['both_ksr']:.2f} | {row['shown_percent']:.1f} | "
            f"{row['first_right_percent']:.1f} | {row['mean_words']:.2f} |"
        )
    print(f"list alone: KSR@{SUGGESTIONS} {rows[0]['list_ksr']:.2f}; {rows[0]['words']} words")
    return 0


if __name__ == "__main__":
    sys.exit(main())
