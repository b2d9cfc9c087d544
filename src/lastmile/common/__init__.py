"""Code shared by two or more domains."""
