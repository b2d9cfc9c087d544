"""Public identifiers: a type prefix and 20 random characters (``ord_3kq...``).

Random ids cannot be enumerated, and the prefix tells a person what an id is for.
"""

from __future__ import annotations

import secrets
import string

_ALPHABET = string.ascii_lowercase + string.digits


def new_id(prefix: str) -> str:
    return prefix + "_" + "".join(secrets.choice(_ALPHABET) for _ in range(20))
