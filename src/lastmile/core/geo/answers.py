"""What the geocoders answer: a :class:`Verdict` on an input address, the map's address and
location when one fits, the candidates when several do. The offline geocoder
(:mod:`lastmile.core.geo.geocoder`) and the online adapters (``integrations/geocode``) all answer
in these types, so the import preview and the CLI treat every geocoder alike."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from lastmile.core.geo.normalize import ParsedAddress
from lastmile.core.model import Location


class Verdict(StrEnum):
    """What the geocoder can say about an address; see the module docstring."""

    EXACT = "exact"
    CORRECTED = "corrected"
    AMBIGUOUS = "ambiguous"
    NOT_FOUND = "not_found"
    OUTSIDE_AREA = "outside_area"

    @property
    def resolved(self) -> bool:
        """Whether the answer has one location that may be used without review."""
        return self in (Verdict.EXACT, Verdict.CORRECTED)


@dataclass(frozen=True)
class Address:
    """A postal address as the map writes it."""

    street: str
    housenumber: str | None = None
    postcode: str | None = None
    city: str | None = None

    def format(self) -> str:
        """``"Landstrasse 19, 9490 Vaduz"`` (missing parts left out)."""
        first = f"{self.street} {self.housenumber}" if self.housenumber else self.street
        town = " ".join(p for p in (self.postcode, self.city) if p)
        return f"{first}, {town}" if town else first

    def __str__(self) -> str:
        return self.format()


@dataclass(frozen=True)
class Candidate:
    """One possible answer with its score (0..1) and, for approximations, a note."""

    address: Address
    location: Location
    score: float
    note: str = ""


@dataclass(frozen=True)
class GeocodeResult:
    """The verdict on one input address."""

    input: str
    verdict: Verdict
    address: Address | None = None
    location: Location | None = None
    confidence: float = 0.0
    candidates: tuple[Candidate, ...] = ()
    changes: tuple[str, ...] = ()
    """What was changed to reach ``address``: ``"street 'Landstr.' -> 'Landstrasse'"``."""
    flags: tuple[str, ...] = ()
    """Extra findings: ``pin_mismatch``, ``pin_outside_area``, ``unit_removed``."""
    pin_distance_m: float | None = None
    """Distance from the given pin to ``location`` (metres), when both exist."""
    reason: str = ""
    """One sentence for a person: why this verdict."""
    parsed: ParsedAddress | None = field(default=None, compare=False, repr=False)

    @property
    def pin_mismatch(self) -> bool:
        return "pin_mismatch" in self.flags
