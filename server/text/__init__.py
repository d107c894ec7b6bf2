"""Document text without LSP types: lines, the tokenizer, the context-window rule, the cursor."""
