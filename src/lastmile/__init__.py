"""lastmile: self-hostable last-mile delivery planning and operations."""

__version__ = "0.1.0"
