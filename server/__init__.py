"""nextword's language server and runtime (no torch): tokenizer, bundle reader, engine, LSP."""

import os
import sys

# onnxruntime (1.31, 1.32 here) on Linux and macOS sends telemetry unless this is set before it is
# imported: a DNS lookup and an upload to mobile.events.data.microsoft.com, and a device id and an
# event cache written under ~/.cache/Microsoft. Its disable_telemetry_events() called after the
# import does not stop that (checked with strace), so a process that imported onnxruntime first
# without the variable has telemetry on: the engine then refuses to run (engine.load_engine).
ONNXRUNTIME_TELEMETRY_ON = (
    "onnxruntime" in sys.modules and os.environ.get("ORT_DISABLE_TELEMETRY") != "1"
)
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
