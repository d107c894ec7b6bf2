"""The language server: handlers, LSP <-> engine conversion, transport hardening, a client."""
