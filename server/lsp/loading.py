"""Loading the model on a thread of its own, so the server answers `initialize` at once.

`nextword serve` starts loading the bundle it will most likely use (the command line's, else the
default) before it imports the protocol libraries, which take ~0.5 s of their own (lsprotocol
builds hundreds of classes at import): the two overlap. The server keeps that load when the
client's settings name the same bundle and starts another otherwise. The first request that
needs the model waits for it (`ModelLoad.wait`); a load that fails leaves the server without a
model, saying why, as a failed load always did.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from nextword.server.engine.engine import Engine, bundle_choice, load_engine
from nextword.server.engine.heap import release_free_memory
from nextword.server.model.bundle import BundleError
from nextword.server.settings import Settings

log = logging.getLogger(__name__)

LOAD_WAIT_SECONDS = 120.0
"""How long a request waits for a load before it is answered without the model (the load goes
on; the next request waits again). The default bundle loads in well under a second."""


class Outcome(NamedTuple):
    """What a load gave the server."""

    engine: Engine | None
    status: str
    """What `nextword/status` says: "ready", "no-model" (the bundle cannot be used) or "error"
    (loading it failed otherwise)."""
    error: str | None
    """Why there is no engine, for the user."""


class ModelLoad:
    """`load_engine(path, settings)` running on a daemon thread."""

    def __init__(self, path: Path | str | None, settings: Settings) -> None:
        self.path = path
        self.engine: Engine | None = None
        self.error: Exception | None = None
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._then: list[Callable[[], None]] = []
        threading.Thread(
            target=self._run, args=(settings,), name="nextword-load", daemon=True
        ).start()

    @classmethod
    def early(cls, bundle_override: str | None) -> ModelLoad:
        """The load of the bundle a server started with `bundle_override` uses unless the
        client's settings name another."""
        settings = Settings()
        return cls(bundle_choice(bundle_override, settings), settings)

    def _run(self, settings: Settings) -> None:
        try:
            self.engine = load_engine(self.path, settings)
        except Exception as error:  # handed to whoever waits, who reports it
            self.error = error
        finally:
            with self._lock:
                self._done.set()
                then, self._then = self._then, []
            for callback in then:
                callback()

    def when_done(self, callback: Callable[[], None]) -> None:
        """Call `callback` (on the loading thread, or at once if done) when the load ends."""
        with self._lock:
            if not self._done.is_set():
                self._then.append(callback)
                return
        callback()

    def on_loop_when_done(
        self, loop: asyncio.AbstractEventLoop, callback: Callable[[ModelLoad], None]
    ) -> None:
        """`callback(self)` on the event loop `loop` once the load ends (dropped if the loop has
        closed by then: the server is exiting)."""

        def call_soon() -> None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(callback, self)

        self.when_done(call_soon)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float = LOAD_WAIT_SECONDS) -> Engine | None:
        """The engine once loaded; raises what the load raised; None if it is not done within
        `timeout` seconds."""
        if not self._done.wait(timeout):
            log.warning("the model is still loading after %.0f s", timeout)
            return None
        if self.error is not None:
            raise self.error
        return self.engine

    def outcome(self, timeout: float = LOAD_WAIT_SECONDS) -> Outcome | None:
        """The engine or why there is none, once loaded (`wait`); failures are logged."""
        try:
            engine = self.wait(timeout)
        except BundleError as error:
            log.error("cannot complete: %s", error)
            return Outcome(None, "no-model", str(error))
        except Exception as error:  # the server goes on, and says why it cannot complete
            log.error("loading the model failed", exc_info=error)
            return Outcome(None, "error", f"loading the model failed: {error}")
        return None if engine is None else Outcome(engine, "ready", None)


def keep_for_good() -> None:
    """After a model is loaded: everything allocated so far lives as long as the server, so it
    is moved out of the collector's reach (a full collection does not walk it mid-keystroke),
    and what loading used only for a while goes back to the system."""
    gc.collect()
    gc.freeze()
    release_free_memory()
