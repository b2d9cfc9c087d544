"""Geocoders behind one Protocol: the built-in offline index (default) and Nominatim.

>>> from lastmile.integrations.geocode import NominatimGeocoder, builtin_geocoder
"""

from lastmile.integrations.geocode.base import (
    Geocoder,
    GeocoderError,
    GeocoderUnavailable,
    builtin_geocoder,
)
from lastmile.integrations.geocode.nominatim import NominatimGeocoder, RateLimiter

__all__ = [
    "Geocoder",
    "GeocoderError",
    "GeocoderUnavailable",
    "NominatimGeocoder",
    "RateLimiter",
    "builtin_geocoder",
]
