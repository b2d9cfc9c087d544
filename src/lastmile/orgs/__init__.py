"""Organisations (tenants) and who belongs to them."""
