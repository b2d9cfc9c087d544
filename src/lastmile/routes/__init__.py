"""Routes and their stops: the running day's one truth (planned, dispatched, driven)."""
