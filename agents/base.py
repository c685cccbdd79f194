"""What every agent kind shares: its own random stream (settled rule 10), and a taking order's fast path."""

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


_submit_one = None   # venues.orders_nb.submit_one, imported on first use (it needs numba)


def take(v, account: int, k: int, side: int, lots: int, limit: float | None = None, kind: str = "market",
         reduce_only: bool = False) -> int:
    """The lots filled by `v.submit_order(account, k, side, lots, limit, kind=kind, reduce_only=reduce_only)`,
    with its effect: one market or IOC order through the compiled order path (venues/orders_nb.submit_one, the
    same state, events and rejections; tests/test_orders_nb.py holds it to submit_order)."""
    global _submit_one
    if _submit_one is None:
        from venues.orders_nb import submit_one as _submit_one
    return _submit_one(v, account, k, side, lots, limit, kind, reduce_only)
