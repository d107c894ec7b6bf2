"""The engine's side of the stored memory (memory/persist.py): what the language server calls.

Off unless `memory.persist` is on.
"""

from __future__ import annotations

import logging

from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine
from nextword.server.memory.persist import (
    MAX_PERSISTED_PAIRS,
    delete_stored,
    load_block,
    merge_blocks,
    save_block,
    workspace_file,
)
from nextword.server.model import bundle

log = logging.getLogger(__name__)


def bundle_identity(engine: Engine) -> str:
    """What a stored memory must have been learned with: the sha256 of the bundle's manifest."""
    return bundle.bundle_identity(engine.bundle.path)


def attach(engine: Engine, workspace_uri: str | None) -> None:
    """Load the workspace's stored memory into the engine when `memory.persist` is on (and drop
    it from the engine when off); a no-op when already attached to that workspace."""
    workspace = engine.shared
    if not engine.settings.memory.persist or not workspace_uri:
        workspace.persisted, workspace.store = None, None
        return
    path = workspace_file(workspace_uri)
    if workspace.store != path:
        dim = engine.bundle.output_dim
        workspace.persisted = load_block(path, bundle_identity(engine), dim)
        workspace.store = path
        log.info("memory persistence on: %s", path)


def store_learned(
    engine: Engine, document: DocumentState, workspace_uri: str | None = None
) -> bool:
    """Merge what the memory learned from the document into the workspace's store and write it
    (only with `memory.persist` on and a workspace attached). True when written."""
    workspace = engine.shared
    memory = document.caches.memory
    if not engine.settings.memory.persist or workspace.store is None or memory is None:
        return False
    if not len(memory):
        return False
    learned = memory.combined()
    workspace.persisted = merge_blocks(workspace.persisted, learned, MAX_PERSISTED_PAIRS)
    try:
        save_block(
            workspace.store,
            workspace.persisted,
            bundle=bundle_identity(engine),
            workspace_uri=workspace_uri or "",
        )
    except (OSError, ValueError) as error:  # ValueError: the path leads out of the data dir
        log.warning("cannot store the memory in %s: %s", workspace.store, error)
        return False
    return True


def forget_stored(engine: Engine | None, workspace_uri: str | None, everything: bool) -> int:
    """The `nextword.forget` command: delete the stored memory (this workspace's, or every
    workspace's) and what the engine loaded from it. The number of files removed."""
    if engine is not None:
        engine.shared.persisted = None
    if not everything and not workspace_uri:
        return 0
    return len(delete_stored(None if everything else workspace_uri))
