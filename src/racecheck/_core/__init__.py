"""The kernel: one execution at a time, baton passing, patching, instrumentation."""
