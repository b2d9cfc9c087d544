"""Readers and writers for outside file formats (pure: they take text and return values)."""
