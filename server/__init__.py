"""nextword's language server and runtime (no torch): tokenizer, bundle reader, engine, LSP."""
