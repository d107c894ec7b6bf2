"""`nextword forget`: delete what nextword stored from the user's writing: the words learned
(`nextword learn` and typing, personal/) and the workspace memory (memory.persist)."""

from __future__ import annotations

import argparse
from pathlib import Path

from nextword.server.memory.persist import data_dir, delete_stored
from nextword.server.model.bundle import bundle_identity
from nextword.server.personal.learn import forget_everything, forget_source, source_name
from nextword.server.personal.store import bundle_folder, forget_typed


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="nextword forget",
        description="Delete what nextword learned from your writing and stored.",
    )
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--all", action="store_true", help="everything, for every workspace")
    which.add_argument(
        "--workspace", help="a workspace's memory and typed sentences (a path or a file:// URI)"
    )
    which.add_argument("--source", type=Path, help="what `nextword learn PATH` learned")
    which.add_argument("--git", type=Path, help="what `nextword learn --git REPO` learned")
    parser.add_argument("--bundle", help="the model bundle of --source/--git (default: default)")
    args = parser.parse_args(argv)
    if args.source or args.git:
        bundle_id = bundle_identity(args.bundle)
        name = source_name(args.source or args.git, git=args.git is not None)
        found = forget_source(bundle_folder(bundle_id), bundle_id, name)
        print(f"nextword forget: {'removed' if found else 'nothing learned from'} {name}")
        return 0 if found else 1
    if args.all:
        removed = delete_stored(None) + forget_everything()
    else:
        removed = delete_stored(args.workspace) + forget_typed(args.workspace)
    print(f"nextword forget: removed {len(removed)} file(s) from {data_dir()}")
    return 0
