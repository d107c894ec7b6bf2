"""Learning from files, folders and a repository's commit messages (`nextword learn`), and
forgetting (`nextword forget`): the sources' tables, and the combined table the server reads.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

from nextword.server.personal.store import (
    COMBINED,
    SourceInfo,
    learned_files,
    read_table,
    save_table,
    source_file,
    sources,
)
from nextword.server.personal.table import PersonalTable, build_table, decay_for, merge
from nextword.server.text.prose import prose_files, prose_paragraphs
from nextword.server.text.tokenizer import Token

Progress = Callable[[int, int], None]
"""Called with (bytes read, bytes in all)."""
GIT_PREFIX = "git:"
_TRAILER = re.compile(r"^[A-Za-z][A-Za-z-]*: .*$|^\(cherry picked from .*\)$")
MESSAGE_END = "\x00"


class SourceError(ValueError):
    """A source that cannot be learned (the reason, for the user)."""


def file_paragraphs(paths: list[Path], progress: Progress | None = None) -> Iterator[list[Token]]:
    """The prose paragraphs of the files (folders walked for prose files), in order."""
    files = list(prose_files(paths))
    total = sum(path.stat().st_size for path in files)
    done = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # unreadable: skipped, as a folder's unreadable files are
        yield from prose_paragraphs(text, path.suffix.lower())
        done += path.stat().st_size
        if progress is not None:
            progress(done, total)


def commit_messages(repository: Path) -> list[str]:
    """The repository's commit messages (no merges), oldest first, trailers left out."""
    try:
        output = subprocess.run(
            ["git", "-C", str(repository), "log", "--no-merges", "--reverse", "--format=%B%x00"],
            capture_output=True,
            text=True,
            errors="replace",
            check=True,
        ).stdout
    except FileNotFoundError:
        raise SourceError("git is not installed") from None
    except subprocess.CalledProcessError as error:
        raise SourceError(
            f"{repository}: {error.stderr.strip() or 'not a git repository'}"
        ) from None
    messages = []
    for message in output.split(MESSAGE_END):
        lines = [line for line in message.strip().splitlines() if not _TRAILER.match(line)]
        if lines:
            messages.append("\n".join(lines))
    return messages


def git_paragraphs(repository: Path, progress: Progress | None = None) -> Iterator[list[Token]]:
    messages = commit_messages(repository)
    for done, message in enumerate(messages, 1):
        yield from prose_paragraphs(message)
        if progress is not None:
            progress(done, len(messages))


def source_name(path: Path, git: bool = False) -> str:
    resolved = str(path.expanduser().resolve())
    return GIT_PREFIX + resolved if git else resolved


def learn_source(
    folder: Path,
    bundle_id: str,
    name: str,
    paragraphs: Iterator[list[Token]],
    base: Path | None = None,
) -> PersonalTable:
    """Count the source's paragraphs into its own file (replacing what it taught before),
    then rebuild the combined table."""
    table = build_table(paragraphs)
    save_table(source_file(folder, name), table, bundle_id, name, base)
    combine(folder, bundle_id, base)
    return table


def combine(folder: Path, bundle_id: str, base: Path | None = None) -> PersonalTable | None:
    """Write the combined table of every source (older sources' counts decayed by the words
    learned after them); remove it when no source is left. The table written."""
    found = sorted(sources(folder, bundle_id), key=lambda info: info.path.stat().st_mtime)
    path = folder / COMBINED
    if not found:
        path.unlink(missing_ok=True)
        return None
    tables = [read_table(info.path, bundle_id)[0] for info in found]
    words_after = [
        sum(table.words for table in tables[index + 1 :]) for index in range(len(tables))
    ]
    combined = merge(tables, [decay_for(words) for words in words_after])
    save_table(path, combined, bundle_id, "combined", base)
    return combined


def forget_source(folder: Path, bundle_id: str, name: str, base: Path | None = None) -> bool:
    """Delete one source's counts and rebuild the combined table. True if it was learned."""
    path = source_file(folder, name)
    if not path.is_file():
        return False
    path.unlink()
    combine(folder, bundle_id, base)
    return True


def forget_everything(base: Path | None = None) -> list[Path]:
    """Delete every learned file, for every bundle; the files removed."""
    removed = []
    for path in learned_files(base):
        if path.is_file():
            path.unlink()
            removed.append(path)
    return removed


def status_lines(folder: Path, bundle_id: str) -> list[str]:
    """What is learned for the bundle, for `nextword learn --status`."""
    found: list[SourceInfo] = sources(folder, bundle_id)
    lines = [f"learned for this model bundle, in {folder}:"]
    for info in found:
        lines.append(f"  {info.source}: {info.words:,} words, {info.bytes / 1e6:.1f} MB")
    typed = sorted((folder / "typed").glob("*.npz"))
    typed_words = 0
    for path in typed:
        try:
            typed_words += int(read_table(path, bundle_id)[0].words)
        except Exception:  # noqa: BLE001 - the server sets such a file aside when it meets it
            continue
    lines.append(f"  typed in {len(typed)} workspace(s): {typed_words:,} words (decayed)")
    combined = folder / COMBINED
    size = sum(path.stat().st_size for path in folder.rglob("*.npz")) if folder.is_dir() else 0
    if not found and not typed:
        lines.append("  nothing yet: run `nextword learn PATH...` or type with nextword")
    lines.append(
        f"  {len(found)} source(s); on disk {size / 1e6:.1f} MB"
        + (f" (combined file {combined.stat().st_size / 1e6:.1f} MB)" if combined.is_file() else "")
    )
    return lines
