"""Web assets and server-side rendering (pages, the self-contained plan map)."""
