"""Writes `server/full_scan.onnx`, the graph behind the server's int8 whole-vocabulary search.

    python -m nextword.exporter.full_scan_graph [--out server/full_scan.onnx]

The graph is the same for every bundle: its two initializers are placeholders that the server
replaces with the bundle's int8 target table and per-word terms when it loads the bundle
(`SessionOptions.add_initializer`), so onnxruntime can pre-pack the table once. The server has
no `onnx` dependency, hence a generated file; `tests/test_full_scan.py` checks it is current.

    q      float [1, dim]   the query's table part
    w      float [1, 2]     the query's weights of the two extra columns
    k      int64 [1]        how many best words to return
    codes  int8  [dim, n]   (initializer) the table, transposed, as stored in the bundle
    extra  float [2, n]     (initializer) the two extra columns: word bias, log frequency
    scale  float [n]        (initializer) each row's scale: row = codes * scale

    approx = scale * (quantised(q) . codes) + w . extra      [1, n]
    values, ids = TopK(approx, k);  step = quantisation step of q
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

GRAPH_PATH = Path(__file__).resolve().parent.parent / "server" / "full_scan.onnx"
OPSET = 17
IR_VERSION = 8  # every onnxruntime the server accepts (>= 1.18) reads it


def build_graph() -> onnx.ModelProto:
    nodes = [
        helper.make_node("DynamicQuantizeLinear", ["q"], ["q_codes", "step", "zero_point"]),
        helper.make_node("MatMulInteger", ["q_codes", "codes", "zero_point"], ["dots"]),
        helper.make_node("Cast", ["dots"], ["dots_float"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["dots_float", "step"], ["unscaled"]),
        helper.make_node("Mul", ["unscaled", "scale"], ["similarity"]),
        helper.make_node("MatMul", ["w", "extra"], ["extras"]),
        helper.make_node("Add", ["similarity", "extras"], ["approx"]),
        helper.make_node("TopK", ["approx", "k"], ["values", "ids"]),
    ]
    inputs = [
        helper.make_tensor_value_info("q", TensorProto.FLOAT, [1, "dim"]),
        helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 2]),
        helper.make_tensor_value_info("k", TensorProto.INT64, [1]),
    ]
    outputs = [
        helper.make_tensor_value_info("values", TensorProto.FLOAT, [1, "k"]),
        helper.make_tensor_value_info("ids", TensorProto.INT64, [1, "k"]),
        helper.make_tensor_value_info("approx", TensorProto.FLOAT, [1, "n"]),
        helper.make_tensor_value_info("step", TensorProto.FLOAT, []),
    ]
    placeholders = [
        numpy_helper.from_array(np.zeros((1, 1), dtype=np.int8), "codes"),
        numpy_helper.from_array(np.zeros((2, 1), dtype=np.float32), "extra"),
        numpy_helper.from_array(np.zeros(1, dtype=np.float32), "scale"),
    ]
    graph = helper.make_graph(nodes, "nextword_full_scan", inputs, outputs, placeholders)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="nextword"
    )
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    return model


def graph_bytes() -> bytes:
    return build_graph().SerializeToString(deterministic=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=GRAPH_PATH, help="where to write the graph")
    args = parser.parse_args(argv)
    args.out.write_bytes(graph_bytes())
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
