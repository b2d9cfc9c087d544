"""Online shops we take orders from and report fulfilments to."""
