"""Seeds: the range a user may give, and one drawn (then logged) when they give none.

Every trial and run records the seed it used, so any logged result can be
reproduced from its params.
"""

from __future__ import annotations

import secrets

from search.errors import InputError

#: Seeds run from 0 to this (what numpy, and so scikit-learn, accepts).
MAX_SEED = 2**32 - 1


def check_seed(seed: int | None, option: str = "--seed") -> None:
    """Refuse a seed numpy would refuse, naming the option."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise InputError(f"{option} must be between 0 and {MAX_SEED}, got {seed}")


def seed_or_drawn(seed: int | None) -> int:
    """``seed``, or a fresh one when the user gave none."""
    return seed if seed is not None else secrets.randbelow(MAX_SEED + 1)


def offset(seed: int, by: int) -> int:
    """A distinct seed for the ``by``-th worker, still in range."""
    return (seed + by) % (MAX_SEED + 1)
