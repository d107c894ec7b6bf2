"""`nextword serve`: the language server (pygls, stdio).

The handlers are thin: they convert through convert.py and call the engine (engine/), which
knows nothing of the LSP. Open documents live in `NextwordServer.documents` as `DocumentState`s
with their own line lists (text/document.py): the protocol below does NOT mirror them into
pygls' `ls.workspace`, whose text store re-joins the whole document on every edit.

Custom requests: `nextword/ping` answers at once, without work; `nextword/stats` returns the
engine's counters. The server tells the client whether it can complete with a
`nextword/status` notification ({"state": "ready" | "no-model" | "error", "message": ...})
once initialized and whenever the model is (re)loaded, on a thread (lsp/loading.py).

Work for the next keystroke done between keystrokes: lsp/ahead.py. Learning from what is
typed: lsp/learning.py.
"""

from __future__ import annotations

import asyncio
import gc
import logging
import sys
import threading
from collections.abc import Generator
from pathlib import Path
from typing import Any, BinaryIO

from lsprotocol import types
from pygls.exceptions import JsonRpcException
from pygls.io_ import StdoutWriter, run_async
from pygls.lsp.server import LanguageServer
from pygls.protocol import lsp_method

from nextword.server.engine import stored
from nextword.server.engine.documents import DocumentState
from nextword.server.engine.engine import Engine, bundle_choice
from nextword.server.engine.heap import release_free_memory
from nextword.server.lsp.ahead import WorkAhead
from nextword.server.lsp.convert import (
    apply_change,
    completion_items,
    inline_completion_list,
    position_from_client,
)
from nextword.server.lsp.inline import ghost_text
from nextword.server.lsp.learning import Learning, forget_learned
from nextword.server.lsp.loading import ModelLoad, keep_for_good
from nextword.server.lsp.transport import (
    MAX_DOCUMENT_CHARS,
    AnsweringProtocol,
    AsyncProtocolInput,
)
from nextword.server.settings import Settings, parse_settings

log = logging.getLogger(__name__)

PING = "nextword/ping"
STATS = "nextword/stats"
STATUS = "nextword/status"


class NextwordProtocol(AnsweringProtocol):
    """Leaves document text to the server's own store (see the module docstring)."""

    def _user_handler(self, method: str, params: Any) -> Generator[Any, Any, None]:
        if (handler := self.fm.features.get(method)) is not None:
            yield handler, (params,), None

    @lsp_method(types.TEXT_DOCUMENT_DID_OPEN)
    def lsp_text_document__did_open(self, params: types.DidOpenTextDocumentParams):
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_OPEN, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CHANGE)
    def lsp_text_document__did_change(self, params: types.DidChangeTextDocumentParams):
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CHANGE, params)

    @lsp_method(types.TEXT_DOCUMENT_DID_CLOSE)
    def lsp_text_document__did_close(self, params: types.DidCloseTextDocumentParams):
        yield from self._user_handler(types.TEXT_DOCUMENT_DID_CLOSE, params)


class NextwordServer(LanguageServer):
    def __init__(self, bundle_override: str | None = None) -> None:
        from importlib.metadata import version

        super().__init__("nextword", version("nextword"), protocol_cls=NextwordProtocol)
        self.settings = Settings()
        self.bundle_override = bundle_override
        self.loaded: Engine | None = None  # `engine` waits for a load in progress
        self.loading: ModelLoad | None = None
        self.bundle_error: str | None = None
        self.status = "no-model"
        """What `nextword/status` says: "ready", "no-model" (the bundle cannot be used) or
        "error" (loading it failed otherwise)."""
        self.documents: dict[str, DocumentState] = {}
        self.learning = Learning(self.documents)
        self.pending_messages: list[tuple[types.MessageType, str]] = []
        self.initialized = False
        self.ahead = WorkAhead(self.documents, lambda: self.engine)
        self.refused_documents: set[str] = set()
        """Open documents over MAX_DOCUMENT_CHARS: nothing is served for them."""
        self.told_of_malformed_input = False

    def serve_stdio(self, stdin: BinaryIO, stdout: BinaryIO) -> None:
        """pygls' `start_io`, but stdin is read on the event loop (`AsyncProtocolInput`)."""
        self._stop_event = threading.Event()
        self.protocol.set_writer(StdoutWriter(stdout))
        try:
            asyncio.run(
                run_async(
                    stop_event=self._stop_event,
                    reader=AsyncProtocolInput(
                        stdin,
                        on_undecodable=self.protocol.reject_undecodable,  # type: ignore[attr-defined]
                    ),
                    protocol=self.protocol,
                    logger=log,
                    error_handler=self.report_server_error,
                )
            )
        except BrokenPipeError:
            log.error("the client closed the connection; shutting down")
        except (KeyboardInterrupt, SystemExit):
            pass
        finally:
            self.shutdown()

    def report_server_error(self, error: Exception, source: Any) -> None:
        """A message the loop could not read (JsonRpcException) is logged (with its traceback,
        by the loop) and the user told once; other errors are reported as pygls does."""
        if source is not JsonRpcException:
            super().report_server_error(error, source)
            return
        log.warning("ignored a malformed message from the client: %.300s", error)
        if not self.told_of_malformed_input:
            self.told_of_malformed_input = True
            self.notify(
                types.MessageType.Warning,
                "nextword: the editor sent a malformed message; ignored (details in the log)",
            )

    # -- plain functions the handlers call ------------------------------------------------------

    def refuse_document(self, uri: str, characters: int) -> None:
        """Serve nothing for a document over the size limit; say so once."""
        document = self.documents.pop(uri, None)
        if document is not None and self.loaded is not None:
            self.loaded.drop_caches(document)
        if uri in self.refused_documents:
            return
        self.refused_documents.add(uri)
        message = (
            f"nextword: {uri} is too large to complete in ({characters:,} characters; "
            f"the limit is {MAX_DOCUMENT_CHARS:,})"
        )
        log.warning("%s", message)
        self.notify(types.MessageType.Warning, message)

    def bundle_path(self) -> Path | str | None:
        return bundle_choice(self.bundle_override, self.settings)

    @property
    def engine(self) -> Engine | None:
        """The engine; while its bundle is loading, once the load is done (waiting for it)."""
        if self.loading is not None:
            self.finish_loading()
        return self.loaded

    def load_model(self) -> None:
        """Start loading the bundle into an engine on a thread (loading.py), or keep the load
        of the same bundle already started; `finish_loading` takes its result."""
        if self.loaded is not None:
            self.loaded.speculation.close()
        self.loaded, self.bundle_error, self.status = None, None, "error"
        if self.loading is None or self.loading.path != self.bundle_path():
            self.loading = ModelLoad(self.bundle_path(), self.settings)
        self.loading.on_loop_when_done(asyncio.get_running_loop(), self.loaded_now)

    def loaded_now(self, loading: ModelLoad) -> None:
        """On the event loop once `loading` is done: take its result if it is still wanted."""
        if self.loading is loading:
            self.finish_loading()

    def finish_loading(self) -> None:
        """Wait for the load in progress and take the engine, or remember why there is none."""
        gc.unfreeze()  # a previous model becomes collectable
        outcome = None if self.loading is None else self.loading.outcome()
        if outcome is None:
            return  # still loading: this request goes without, the next one waits again
        self.loading, (self.loaded, self.status, self.bundle_error) = None, outcome
        if self.loaded is not None:
            self.loaded.configure(self.settings)
            keep_for_good()
        else:
            self.notify(types.MessageType.Error, f"nextword cannot complete: {self.bundle_error}")
        attach_memory_store(self)
        if self.initialized:
            self.send_status()

    def send_status(self) -> None:
        """`nextword/status`: whether the server can complete, for the editor's status bar."""
        engine = self.loaded
        message = f"model {engine.bundle.path}" if engine is not None else self.bundle_error or ""
        self.protocol.notify(STATUS, {"state": self.status, "message": message})

    def apply_settings(self, options: Any) -> None:
        previous_bundle = self.bundle_path()
        self.settings, problems = parse_settings(options, self.settings)
        for problem in problems:
            log.warning("%s", problem)
            self.notify(types.MessageType.Warning, f"nextword: {problem}")
        if self.loaded is not None and self.bundle_path() == previous_bundle:
            self.loaded.configure(self.settings)
        elif self.initialized:
            self.load_model()  # keeps a load of the same bundle in progress

    def notify(self, kind: types.MessageType, message: str) -> None:
        """window/showMessage, held back until the client has seen the initialize result."""
        if not self.initialized:
            self.pending_messages.append((kind, message))
            return
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def serves(self, document: DocumentState) -> bool:
        return document.language_id in self.settings.languages


server = NextwordServer()


@server.feature(types.INITIALIZE)
def initialize(ls: NextwordServer, params: types.InitializeParams) -> None:
    ls.apply_settings(params.initialization_options)
    ls.load_model()  # attaches the memory store once loaded (`finish_loading`)


@server.feature(types.INITIALIZED)
def initialized(ls: NextwordServer, params: types.InitializedParams) -> None:
    ls.initialized = True
    ls.learning.start()
    pending, ls.pending_messages = ls.pending_messages, []
    for kind, message in pending:
        ls.notify(kind, message)
    if ls.loading is None:  # else it is sent once the model is loaded
        ls.send_status()


@server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
def did_change_configuration(ls: NextwordServer, params: types.DidChangeConfigurationParams):
    ls.apply_settings(params.settings)
    attach_memory_store(ls)


@server.feature(types.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: NextwordServer, params: types.DidOpenTextDocumentParams) -> None:
    item = params.text_document
    ls.refused_documents.discard(item.uri)
    if len(item.text) > MAX_DOCUMENT_CHARS:
        ls.refuse_document(item.uri, len(item.text))
        return
    ls.documents[item.uri] = DocumentState.open(item.uri, item.text, item.language_id, item.version)
    ls.learning.tick(0.0)  # a cheap stat: re-reads what `nextword learn` wrote since


@server.feature(types.TEXT_DOCUMENT_DID_CHANGE)
def did_change(ls: NextwordServer, params: types.DidChangeTextDocumentParams) -> None:
    uri = params.text_document.uri
    document = ls.documents.get(uri)
    if document is None:
        if uri not in ls.refused_documents:
            log.warning("didChange for a document that is not open: %s", uri)
        return
    ls.ahead.cancel()  # the user is not pausing
    largest = max((len(change.text) for change in params.content_changes), default=0)
    if largest > MAX_DOCUMENT_CHARS:  # a paste or a whole new text: the result is too large
        ls.refuse_document(uri, largest)
        return
    codec = ls.workspace.position_codec
    for change in params.content_changes:
        apply_change(document, change, codec)
        if ls.serves(document) and (edit := document.text.last_edit) is not None:
            ls.learning.edited(document, edit[0], edit[0] + edit[2] - 1)
    document.version = params.text_document.version


@server.feature(types.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: NextwordServer, params: types.DidCloseTextDocumentParams) -> None:
    ls.refused_documents.discard(params.text_document.uri)
    document = ls.documents.pop(params.text_document.uri, None)
    if document is not None and ls.engine is not None:
        stored.store_learned(ls.engine, document, ls.workspace.root_uri)  # memory.persist on
        ls.learning.closed(document)
        ls.engine.drop_caches(document)
        release_free_memory()


@server.feature(types.TEXT_DOCUMENT_COMPLETION, types.CompletionOptions(trigger_characters=[" "]))
def completion(
    ls: NextwordServer, params: types.CompletionParams
) -> types.CompletionList | list[types.CompletionItem]:
    document = ls.documents.get(params.text_document.uri)
    if ls.engine is None or document is None or not ls.serves(document):
        return []
    codec = ls.workspace.position_codec
    line, column = position_from_client(document.text, params.position, codec)
    completions = ls.engine.complete(document, line, column)
    log.debug("completion %s %d:%d -> %d items", document.uri, line, column, len(completions))
    if ls.settings.prepare_next_word:
        ls.ahead.schedule(document, line, column)
    return types.CompletionList(
        is_incomplete=True, items=completion_items(document.text, completions, codec)
    )


@server.feature(PING)
def ping(ls: NextwordServer, params: Any) -> dict[str, Any]:
    return {}


@server.feature(STATS)
def stats(ls: NextwordServer, params: Any) -> dict[str, Any]:
    if ls.engine is None:
        return {"loaded": False, "error": ls.bundle_error}
    engine = ls.engine
    return {
        "loaded": True,
        "recurrentSteps": engine.stats.recurrent_steps,
        "cacheHits": engine.stats.cache_hits,
        "speculationsUsed": engine.stats.speculations_used,
        "completions": engine.stats.completions,
        "cachedStates": len(engine.cache),
        "cachedBytes": engine.cache.nbytes,
        "documents": len(ls.documents),
    }


# -- ghost text (engine/inline.py) and the stored memory (engine/stored.py) ----------

FORGET = "nextword.forget"


def attach_memory_store(ls: NextwordServer) -> None:
    """The stored workspace memory (memory.persist) and what was learned (personal/)."""
    if ls.engine is not None:
        stored.attach(ls.engine, ls.workspace.root_uri)
    warn = lambda message: ls.notify(types.MessageType.Warning, message)  # noqa: E731
    ls.learning.attach(ls.engine, ls.workspace.root_uri or "", warn)


@server.feature(types.TEXT_DOCUMENT_INLINE_COMPLETION, types.InlineCompletionOptions())
async def inline_completion(
    ls: NextwordServer, params: types.InlineCompletionParams
) -> types.InlineCompletionList | None:
    document = ls.documents.get(params.text_document.uri)
    engine = ls.engine
    if engine is None or document is None or not ls.serves(document):
        return None
    if not ls.settings.inline_suggestions:
        return None
    codec = ls.workspace.position_codec
    line, column = position_from_client(document.text, params.position, codec)

    def current() -> bool:
        return ls.loaded is engine and ls.documents.get(document.uri) is document

    suggestion = await ghost_text(engine, document, line, column, current)
    log.debug("inline %s %d:%d -> %r", document.uri, line, column, suggestion)
    return None if suggestion is None else inline_completion_list(document.text, suggestion, codec)


@server.command(FORGET)
def forget_command(ls: NextwordServer, *args: Any) -> dict[str, Any]:
    """Delete the stored memory: this workspace's, or every workspace's with argument "all"."""
    everything = "all" in args
    removed = stored.forget_stored(ls.engine, ls.workspace.root_uri, everything)
    removed += forget_learned(ls.learning, ls.workspace.root_uri, everything)
    log.info("%s: removed %d stored memory file(s)", FORGET, removed)
    return {"removed": removed}


@server.feature(types.SHUTDOWN)
def shutdown(ls: NextwordServer, params: Any = None) -> None:
    if ls.engine is not None:
        for document in ls.documents.values():
            stored.store_learned(ls.engine, document, ls.workspace.root_uri)
    ls.learning.shutdown()


def serve(
    bundle: str | None, log_problem: str | None, stdout: BinaryIO, early: ModelLoad | None = None
) -> int:
    """Serve over stdin and `stdout` until the client exits; the exit code the LSP asks for.
    `log_problem`: why the log file cannot be used, told to the user once initialized."""
    if log_problem is not None:
        log.warning("%s", log_problem)
        server.notify(types.MessageType.Warning, f"nextword: {log_problem}")
    server.bundle_override = bundle
    server.loading = early
    server.serve_stdio(sys.stdin.buffer, stdout)
    return 0 if server.protocol.was_shut_down else 1  # type: ignore[attr-defined]
