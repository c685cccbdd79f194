"""What every agent kind shares: its own random stream (settled rule 10), and a taking order's fast path."""

from __future__ import annotations

import zlib
from functools import lru_cache

import numpy as np
from numpy.random.bit_generator import ISeedSequence


@lru_cache(maxsize=256)
def _name_key(name: str) -> int:
    return zlib.crc32(name.encode())


def _key(keys) -> tuple[int, ...]:
    return tuple(k if isinstance(k, int) else _name_key(str(k)) for k in keys)


def stream(seed: int, *keys: str | int) -> np.random.Generator:
    """The generator for a named consumer: SeedSequence(seed) spawned by fixed keys (crc32 of each name),
    identical in any process and independent of what other consumers draw."""
    return np.random.default_rng(np.random.SeedSequence(entropy=int(seed), spawn_key=_key(keys)))


# ---------------------------------------------------------------------------------------- a population's streams
# numpy's SeedSequence (numpy/random/bit_generator.pyx): a pool of four 32-bit words mixed from the entropy words,
# then hashed out as the generator's seed words. The same arithmetic below on one row per member, so a population
# of n gets the seed words of its n streams in one numpy pass instead of n SeedSequence objects (about 35 us each:
# 0.3 s for 9,000 directional traders). tests/test_streams.py holds it to numpy's SeedSequence.
_INIT_A, _MULT_A = np.uint32(0x43B0D7E5), np.uint32(0x931E8875)
_INIT_B, _MULT_B = np.uint32(0x8B51F9DD), np.uint32(0x58F38DED)
_MIX_L, _MIX_R = np.uint32(0xCA01F9DD), np.uint32(0x4973F715)
_POOL = 4


def _words32(x: int) -> list[int]:
    """numpy's _coerce_to_uint32_array of a non-negative int: its 32-bit words, least significant first."""
    if x < 0:
        raise ValueError("expected non-negative integer")
    if x < 2 ** 32:
        return [x]
    out = []
    while x > 0:
        out.append(x & 0xFFFFFFFF)
        x >>= 32
    return out


def stream_words(seed: int, keys: tuple, index: np.ndarray) -> np.ndarray:
    """The seed words (n x 4, uint64) that `stream(seed, *keys, i)` gives its PCG64, for each i of `index`
    (non-negative ints below 2**32): `SeedSequence(seed, spawn_key=keys + (i,)).generate_state(4, np.uint64)`."""
    index = np.asarray(index, dtype=np.int64)
    if index.size and (index.min() < 0 or index.max() >= 2 ** 32):
        raise ValueError("stream_words: indices must be in [0, 2**32)")
    n = index.shape[0]
    run = _words32(int(seed))
    spawn = [w for k in _key(keys) for w in _words32(k)]
    run = run + [0] * (_POOL - len(run)) if len(run) < _POOL else run   # a spawn key pads the run entropy
    cols = [np.full(n, w, np.uint32) for w in run + spawn] + [index.astype(np.uint32)]
    with np.errstate(over="ignore"):
        h = _INIT_A

        def hashmix(value):
            nonlocal h
            value = value ^ h
            h = np.uint32(h * _MULT_A)
            value = value * h
            return value ^ (value >> np.uint32(16))

        def mix(x, y):
            r = _MIX_L * x - _MIX_R * y
            return r ^ (r >> np.uint32(16))

        pool = [hashmix(cols[i] if i < len(cols) else np.zeros(n, np.uint32)) for i in range(_POOL)]
        for s in range(_POOL):
            for d in range(_POOL):
                if s != d:
                    pool[d] = mix(pool[d], hashmix(pool[s]))
        for s in range(_POOL, len(cols)):
            for d in range(_POOL):
                pool[d] = mix(pool[d], hashmix(cols[s]))
        hb = _INIT_B
        out = np.empty((n, 8), np.uint32)
        for j in range(8):
            v = pool[j % _POOL] ^ hb
            hb = np.uint32(hb * _MULT_B)
            v = v * hb
            out[:, j] = v ^ (v >> np.uint32(16))
    return out.astype("<u4").view("<u8").astype(np.uint64)


class _Words(ISeedSequence):
    """A seed sequence that only hands PCG64 its seed words (computed by stream_words)."""

    __slots__ = ("words",)

    def __init__(self, words: np.ndarray):
        self.words = words

    def generate_state(self, n_words, dtype=np.uint32):
        if n_words != 4 or np.dtype(dtype) != np.uint64:
            raise ValueError("a population stream's words are PCG64's: 4 x uint64")
        return self.words.copy()


def stream_of(words: np.ndarray) -> np.random.Generator:
    """The generator whose seed words are `words` (a row of stream_words): the same generator, draw for draw, as
    the `stream(...)` call those words stand for."""
    return np.random.Generator(np.random.PCG64(_Words(words)))


_submit_one = None   # venues.orders_nb.submit_one, imported on first use (it needs numba)


def take(v, account: int, k: int, side: int, lots: int, limit: float | None = None, kind: str = "market",
         reduce_only: bool = False) -> int:
    """The lots filled by `v.submit_order(account, k, side, lots, limit, kind=kind, reduce_only=reduce_only)`,
    with its effect: one market or IOC order through the compiled order path (venues/orders_nb.submit_one, the
    same state, events and rejections; tests/test_orders_nb.py holds it to submit_order)."""
    global _submit_one
    if not hasattr(v, "ch"):   # a stand-in venue (the agents' tests): its own submit_order
        return v.submit_order(account, k, side, lots, limit, kind=kind, reduce_only=reduce_only).filled_lots
    if _submit_one is None:
        from venues.orders_nb import submit_one as _submit_one
    return _submit_one(v, account, k, side, lots, limit, kind, reduce_only)
