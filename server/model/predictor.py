"""The recurrent network, one step at a time (the bundle's predictor.onnx).

The state is an explicit input and output, so the engine can resume from any cached state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnxruntime as ort

from nextword.server.model.bundle import Bundle, BundleError
from nextword.server.text.window import Key


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3
    # The arena keeps ~10 MB per session for buffers a one-row step reuses from the heap.
    options.enable_cpu_mem_arena = False
    return options


@dataclass(slots=True)
class CachedStep:
    state: np.ndarray
    """The packed recurrent state after the key's last token."""
    output: np.ndarray
    """The network's output there: the prediction for the next token."""
    log_total: tuple[tuple[float, float], float] | None = None
    """The log of the output's partition over all words, with the ranking weights it is for
    ((similarity, prior), value); filled when first needed (`WordSearch.log_total`)."""

    @property
    def nbytes(self) -> int:
        """Its arrays' bytes (the state cache adds what the entry's objects cost)."""
        return int(self.state.nbytes + self.output.nbytes)


@dataclass
class Prediction:
    """The network's output after a context, as the search reads it."""

    scores: np.ndarray
    """Continuous: the network's output vector, float32 [1, dim] (its norm is the confidence
    when the bundle has a word bias). Softmax: log-probabilities over the vocabulary, [vocab]."""
    steps: int = 0
    """Recurrent steps run to get it (0: it was cached)."""
    key: Key = ()
    """The context it follows (the network's input ids)."""
    step: CachedStep | None = None
    """Its entry in the document's state cache, if cached (holds its log partition)."""

    @property
    def direction(self) -> np.ndarray:
        """Continuous: the output at unit length, float32 [1, dim] (the memory's key)."""
        norm = float(np.linalg.norm(self.scores))
        return (self.scores / max(norm, 1e-12)).astype(np.float32)


def predictor_mismatch(session: ort.InferenceSession, bundle: Bundle) -> str | None:
    """Why the predictor's inputs do not fit the bundle's shapes, if they do not."""
    shapes = {item.name: item.shape for item in session.get_inputs()}
    wanted = {"input": [1, bundle.input_embeddings.shape[1]], "state": list(bundle.state_shape)}
    for name, shape in wanted.items():
        got = shapes.get(name)
        fits = got is not None and len(got) == len(shape)
        if not fits or any(isinstance(g, int) and g != w for g, w in zip(got, shape)):
            return f"predictor.onnx input {name!r} is {got}, the manifest says {shape}"
    return None


class Network:
    """predictor.onnx in onnxruntime, on one thread."""

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        try:
            self.session = ort.InferenceSession(
                str(bundle.predictor_path), session_options(), providers=["CPUExecutionProvider"]
            )
        except Exception as error:  # onnxruntime raises its own exception types
            raise BundleError(
                f"model bundle {bundle.path}: predictor.onnx cannot be loaded ({error})"
            ) from None
        mismatch = predictor_mismatch(self.session, bundle)
        if mismatch is not None:
            raise BundleError(f"model bundle {bundle.path}: {mismatch}")
        self.zero_state = np.zeros(bundle.state_shape, dtype=np.float32)
        self.continuous = bundle.output_codes is not None

    def step(self, token_id: int, state: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One recurrent step: (output as `Prediction.scores` holds it, new state)."""
        vector = self.bundle.input_embeddings[token_id : token_id + 1].astype(np.float32)
        output, new_state = self.session.run(None, {"input": vector, "state": state})
        return self._as_scores(output), new_state

    def _as_scores(self, output: np.ndarray) -> np.ndarray:
        if self.continuous:
            return np.ascontiguousarray(output, dtype=np.float32)
        logits = output[0].astype(np.float64)
        return (logits - log_sum_exp(logits)).astype(np.float32)


def log_sum_exp(values: np.ndarray) -> float:
    top = float(values.max())
    return top + float(np.log(np.exp(values - top).sum(dtype=np.float64)))
