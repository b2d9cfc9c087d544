"""Adapters to systems lastmile does not own, one folder per kind, each behind a Protocol.

The built-in, offline implementation is always the default; an adapter here is opt-in.
"""
