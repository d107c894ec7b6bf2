"""KSR of server settings variants on tuning texts that no held-out text shares.

    python benchmarks/tune_settings.py --texts classic '[{}, {"memory": {"weight": 0.2}}]'
    python benchmarks/tune_settings.py --texts technical '[{"ranking": {"document": 0.5}}]'

Each variant is a JSON object of `ranking`, `memory` and `ngrams` fields that replace the
defaults; every text is typed as one document through the in-process engine, with the document
cache on.

- `classic`: the exporter's dev split, one document per corpus file, not in the held-out
  `corpus-dev` text (the texts `adaptation.py tune` uses, 600 words per file).
- `technical`: five pages of the Python library reference from Debian's `python3.11-doc`
  (json, pathlib, logging, argparse, sqlite3; about 600 words each). The held-out `python-docs`
  text comes from the tutorial, HOWTOs and FAQ, so the two share no paragraph.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import heldout  # noqa: E402
from adaptation import ksr, tuning_texts  # noqa: E402

from nextword.server.commands.sessions import eval_settings  # noqa: E402
from nextword.server.engine.engine import Engine, load_engine  # noqa: E402

LIBRARY = Path("/usr/share/doc/python3.11/html/_sources/library")
TECHNICAL_PAGES = ("json", "pathlib", "logging", "argparse", "sqlite3")


def technical_texts(cache: Path, words_per_page: int = 600) -> list[Path]:
    out = cache / "tune-technical"
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in TECHNICAL_PAGES:
        kept, words = [], 0
        for prose in heldout.rst_prose(LIBRARY / f"{name}.rst.txt"):
            if words > words_per_page:
                break
            kept.append(heldout.to_ascii(prose))
            words += len(prose.split())
        path = out / f"{name}.txt"
        path.write_text("\n\n".join(kept) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


def engine_with(bundle: str | None, change: dict) -> Engine:
    settings = eval_settings(True)
    settings.ranking = replace(settings.ranking, **change.get("ranking", {}))
    settings.memory = replace(settings.memory, **change.get("memory", {}))
    settings.ngrams = replace(settings.ngrams, **change.get("ngrams", {}))
    return load_engine(bundle, settings)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("variants", help="JSON list of setting changes, e.g. '[{}]'")
    parser.add_argument("--texts", choices=("classic", "technical"), default="classic")
    parser.add_argument("--bundle", help="bundle directory (default: the bundled default model)")
    parser.add_argument("--cache", type=Path, default=heldout.DEFAULT_CACHE)
    args = parser.parse_args(argv)
    if args.texts == "technical":
        texts = technical_texts(args.cache)
    else:
        texts = tuning_texts(heldout.HeldoutConfig(cache=args.cache), 600)
    print("| variant | KSR@6 % | KSR@1 % |\n|---|---|---|")
    for change in json.loads(args.variants):
        figures = ksr(engine_with(args.bundle, change), "tune", texts)["ksr"]
        print(f"| `{json.dumps(change)}` | {figures[6]:.2f} | {figures[1]:.2f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
