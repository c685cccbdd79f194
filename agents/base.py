"""What every agent kind shares: its own random stream (settled rule 10)."""

from __future__ import annotations

import zlib

import numpy as np


def stream(seed: int, *keys: str | int) -> np.random.Generator:
    """The generator for a named consumer: SeedSequence(seed) spawned by fixed keys (crc32 of each name),
    identical in any process and independent of what other consumers draw."""
    key = tuple(k if isinstance(k, int) else zlib.crc32(str(k).encode()) for k in keys)
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=key))
