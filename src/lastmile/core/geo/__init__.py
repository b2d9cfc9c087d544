"""Geometry on the sphere and (later) the offline address index."""

from lastmile.core.geo.distance import EARTH_RADIUS_M, haversine_m, haversine_matrix_m

__all__ = ["EARTH_RADIUS_M", "haversine_m", "haversine_matrix_m"]
