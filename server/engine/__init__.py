"""The completion engine: context in, ranked words out; state caches, preparation, ghost text."""
