"""nextword's language server and runtime (no torch): tokenizer, bundle reader, engine, LSP."""

import os

# onnxruntime (1.31 here) on Linux and macOS sends telemetry unless this is set before it
# starts: a DNS lookup and an upload to mobile.events.data.microsoft.com, and a device id and an
# event cache written under ~/.cache/Microsoft. nextword never touches the network: force it off.
os.environ["ORT_DISABLE_TELEMETRY"] = "1"
