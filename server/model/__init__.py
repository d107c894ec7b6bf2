"""The model bundle and what reads it: vocabulary, corpus counts, the ONNX step, the search."""
