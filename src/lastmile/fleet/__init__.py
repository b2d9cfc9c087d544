"""Depots, vehicles and drivers."""
