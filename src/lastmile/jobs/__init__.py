"""Background jobs: an explicit registry, run in-process (embedded) or by procrastinate workers."""
