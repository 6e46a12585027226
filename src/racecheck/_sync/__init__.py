"""The shims managed threads get instead of the real primitives (thin facades)."""
