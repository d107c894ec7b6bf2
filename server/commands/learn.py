"""`nextword learn`: learn the user's words and phrases from their files, folders and commit
messages (personal/); `--status` says what is learned.

A running server re-reads what was learned by itself (it checks the combined file's time at
every document opened and every few seconds).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from nextword.server.commands.progress import progress_bar
from nextword.server.model.bundle import bundle_identity
from nextword.server.personal.learn import (
    SourceError,
    file_paragraphs,
    git_paragraphs,
    learn_source,
    source_name,
    status_lines,
)
from nextword.server.personal.store import bundle_folder


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nextword learn",
        description="Learn your words and phrases from your writing: files and folders (.md, "
        ".txt, .rst, .tex, .adoc, plain text; code blocks skipped) and commit messages.",
    )
    parser.add_argument("paths", nargs="*", type=Path, metavar="PATH")
    parser.add_argument("--git", action="append", type=Path, default=[], metavar="REPO",
                        help="learn a repository's commit messages (repeatable)")  # fmt: skip
    parser.add_argument("--status", action="store_true", help="say what is learned, and stop")
    parser.add_argument("--bundle", help="the model bundle it is for (default: the default)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(argv: list[str]) -> int:
    args = build_parser().parse_args(argv)
    bundle_id = bundle_identity(args.bundle)
    if not bundle_id:
        print(f"nextword learn: no model bundle at {args.bundle}", file=sys.stderr)
        return 2
    folder = bundle_folder(bundle_id)
    if args.status:
        print("\n".join(status_lines(folder, bundle_id)))
        return 0
    missing = [str(path) for path in args.paths if not path.exists()]
    if missing or not (args.paths or args.git):
        problem = f"no such file or folder: {', '.join(missing)}" if missing else "nothing to learn"
        print(f"nextword learn: {problem} (nextword learn PATH... | --git REPO)", file=sys.stderr)
        return 2
    started = time.monotonic()
    jobs = [(source_name(path), path, False) for path in args.paths]
    jobs += [(source_name(repo, git=True), repo, True) for repo in args.git]
    for name, path, git in jobs:
        show = progress_bar(f"learning {path}", not args.quiet, "bytes" if not git else "commits")
        try:
            read = git_paragraphs(path, show) if git else file_paragraphs([path], show)
            table = learn_source(folder, bundle_id, name, read)
        except SourceError as error:
            print(f"nextword learn: {error}", file=sys.stderr)
            return 1
        print(f"learned {int(table.words):,} words, {len(table):,} phrases from {name}")
    print(f"done in {time.monotonic() - started:.1f} s; a running server picks it up by itself")
    return 0
