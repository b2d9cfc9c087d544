"""Suite-wide test settings."""

from __future__ import annotations

from argon2 import PasswordHasher

import lastmile.auth.security as security

# Real argon2, with the cheapest parameters: the suite creates hundreds of users, and the
# production cost (about 50 ms each here) would dominate its run time.
security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
