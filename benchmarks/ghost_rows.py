"""The ghost text rows of `run_all.py` (section `ghost`): each held-out kind typed through the
in-process engine with the default settings, asking for ghost text at every word start and after
every typed letter (server/commands/ghost.py: the accounting and the three users).
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path

from nextword.server.commands.ghost import GHOST_HEADER, GhostSummary, evaluate_ghost, ghost_row
from nextword.server.commands.sessions import engine_session_factory
from nextword.server.settings import Settings

log = logging.getLogger("benchmarks")

SUGGESTIONS = 6
MIN_GHOST_KSR = 10.0
MIN_FIRST_RIGHT = 50.0
"""The issue's bar for every kind (#18): ghost text alone saves this much with this precision."""


def run_ghost(bundle: Path, texts: dict[str, Path]) -> dict:
    """{"rows": one summary per kind, "settings": the inline settings used}."""
    factory = engine_session_factory(str(bundle), True, SUGGESTIONS)
    rows = []
    for kind, path in texts.items():
        summary, _ = evaluate_ghost(kind, [path], factory, SUGGESTIONS)
        log.info("ghost text on %s: %s", kind, ghost_row(summary))
        rows.append(asdict(summary))
    return {"rows": rows, "settings": asdict(Settings().inline), "suggestions": SUGGESTIONS}


def meets_bar(row: dict) -> bool:
    return (
        row["ghost_ksr"] >= MIN_GHOST_KSR
        and row["first_right_percent"] >= MIN_FIRST_RIGHT
        and row["both_ksr"] > row["list_ksr"]
    )


def ghost_lines(ghost: dict) -> list[str]:
    """The results page's section."""
    if not ghost or not ghost.get("rows"):
        return []
    header = ["text", *GHOST_HEADER[1:], "bar met"]
    lines = [
        "## Ghost text (inline completion) on held-out text",
        "",
        "Each text typed as one document through the engine; at every word start and after every "
        "typed letter the ghost text is asked for. The user accepts its leading words that match "
        "the text, one key per word (Accept Next Word) or one key for all (Tab), with the list's "
        f"accounting (the space after an accepted word is free). `list`: the {ghost['suggestions']}"
        " suggestions alone; `ghost`: the ghost text alone; `list + ghost`: both (the ghost text "
        "when its first word is right, else the list). `shown`/`first word right`: where the "
        'ghost-only user asks ("in a word": after a letter). Bar (#18): ghost KSR >= '
        f"{MIN_GHOST_KSR:g}%, first word right >= {MIN_FIRST_RIGHT:g}%, list + ghost above the "
        f"list. Settings: {ghost['settings']}.",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for row in ghost["rows"]:
        cells = [*ghost_row(GhostSummary(**row)), "yes" if meets_bar(row) else "**no**"]
        lines.append("| " + " | ".join(cells) + " |")
    return [*lines, ""]
