"""One module per CLI verb; each exposes a function taking typed arguments and returning an exit code."""
