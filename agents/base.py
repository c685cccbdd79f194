"""What every agent kind shares: its own random stream (settled rule 10)."""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np


@lru_cache(maxsize=256)
def _name_key(name: str) -> int:
    return zlib.crc32(name.encode())


def stream(seed: int, *keys: str | int) -> np.random.Generator:
    """The generator for a named consumer: SeedSequence(seed) spawned by fixed keys (crc32 of each name),
    identical in any process and independent of what other consumers draw."""
    key = tuple(k if isinstance(k, int) else _name_key(str(k)) for k in keys)
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=key))
