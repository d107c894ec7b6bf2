"""`nextword eval`: its command line. The typing simulation and the list's figures are in
evaluate.py, the ghost text's (`--ghost`) in ghost.py."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from nextword.server.commands.evaluate import (
    evaluate_files,
    format_prefix_table,
    format_table,
    summary_to_json,
)
from nextword.server.commands.ghost import report_ghost


def parse_suggestions(value: str) -> list[int]:
    try:
        numbers = sorted({int(part) for part in value.split(",") if part.strip()})
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {value!r}") from None
    if not numbers or numbers[0] < 1:
        raise argparse.ArgumentTypeError("suggestion counts must be positive")
    return numbers


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nextword eval",
        description="Simulate typing files and report keystroke savings (Presage's accounting).",
    )
    parser.add_argument("--text", nargs="+", required=True, type=Path, metavar="FILE")
    parser.add_argument("--suggestions", type=parse_suggestions, default=[1, 3, 6])
    parser.add_argument("--bundle", help="bundle directory (default: the bundled default model)")
    parser.add_argument("--lsp", action="store_true", help="drive `nextword serve` over stdio")
    parser.add_argument(
        "--no-cache",
        action="store_true",
        help="turn the document cache off (the bonus for words written nearby, and the memory)",
    )
    parser.add_argument(
        "--no-ngrams",
        action="store_true",
        help="leave out the bundle's corpus word counts (the network alone)",
    )
    parser.add_argument(
        "--learn",
        nargs="+",
        type=Path,
        default=[],
        metavar="FILE",
        help="learn these files first (`nextword learn`, into a fresh data directory)",
    )
    parser.add_argument(
        "--ghost",
        action="store_true",
        help="also ask for ghost text at every prefix and report what it saves (commands/ghost.py)",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object, no table")
    parser.add_argument("--name", help="system name in the report (default: nextword)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    missing = [str(p) for p in args.text + args.learn if not p.exists()]
    if missing:
        print(f"nextword eval: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    from nextword.server.commands.sessions import (
        engine_session_factory,
        learned_data_home,
        lsp_session_factory,
    )
    from nextword.server.model.bundle import BundleError

    mode = "lsp" if args.lsp else "engine"
    off = [label for label, flag in (("no cache", args.no_cache), ("no ngrams", args.no_ngrams),
                                     ("learned", bool(args.learn))) if flag]  # fmt: skip
    name = args.name or f"nextword ({', '.join([mode, *off])})"
    try:
        factory = (lsp_session_factory if args.lsp else engine_session_factory)(
            args.bundle,
            not args.no_cache,
            max(args.suggestions),
            not args.no_ngrams,
            learned_data_home(args.bundle, args.learn),
        )
    except BundleError as error:
        print(f"nextword eval: {error}", file=sys.stderr)
        return 1
    if args.ghost:
        return report_ghost(name, args.text, factory, max(args.suggestions), args.json)
    summary = evaluate_files(name, args.text, factory, args.suggestions, not args.quiet)
    if args.json:
        print(json.dumps(summary_to_json(summary), indent=2))
        return 0
    print(format_table([summary]))
    print()
    print(format_prefix_table(summary))
    print()
    print(
        f"{summary.requests} completion requests in {summary.seconds:.1f} s; latency ms "
        f"mean {summary.latency_ms['mean']:.2f} p95 {summary.latency_ms['p95']:.2f} "
        f"p99 {summary.latency_ms['p99']:.2f} ({mode})"
    )
    return 0
