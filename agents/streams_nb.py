"""A population's own streams held in arrays: numpy's PCG64 and Generator.random / Generator.exponential, compiled.

Each member of a population (the directional traders) has its own generator (settled rule 10): the PCG64 that
`stream(seed, *keys, i)` makes (agents/base.py). A default day draws about 60,000 waits from 9,000 of them, one
Python call into one Generator object each. Here the population's PCG64 states are four uint64 columns, and the
draws of the members due in a minute are one compiled call, draw for draw the numbers their Generators give:

- PCG64 (numpy/random/src/pcg64/pcg64.h): a 128-bit LCG, state = state x 0x2360ED051FC65DA44385DF649FCCF645 +
  inc (mod 2**128), seeded by pcg64_set_seed from the four seed words (state words 0-1, increment words 2-3);
  each 64-bit output is the XSL-RR of the state after the step;
- Generator.random(): (next64 >> 11) x 2**-53;
- Generator.exponential(scale): scale x numpy's ziggurat standard exponential (random_standard_exponential in
  numpy/random/src/distributions/distributions.c), with the ziggurat's tables as numba ships them for its own
  Generator support (numba/np/random/_constants.py, copied from numpy).

tests/test_streams.py holds every draw to numpy's Generator (millions of them, the ziggurat's rare branches
included), so a numpy whose algorithms differ fails there rather than results drifting silently.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit
from numba.np.random._constants import fe_double, ke_double, we_double, ziggurat_exp_r

from venues.nb_cache import preload

_M32 = np.uint64(0xFFFFFFFF)
_MUL_HI = np.uint64(2549297995355413924)
_MUL_LO = np.uint64(4865540595714422341)
_U0, _U1, _U3, _U8, _U11, _U32, _U58, _U63, _U64 = (np.uint64(x) for x in (0, 1, 3, 8, 11, 32, 58, 63, 64))
_FF = np.uint64(0xFF)
_KE = np.ascontiguousarray(ke_double, dtype=np.uint64)
_WE = np.ascontiguousarray(we_double, dtype=np.float64)
_FE = np.ascontiguousarray(fe_double, dtype=np.float64)
_EXP_R = float(ziggurat_exp_r)
_TO_DOUBLE = 1.0 / 9007199254740992.0


@njit(cache=True, inline="always")
def _mulhi(a, b):
    """The high 64 bits of the 128-bit product of two uint64."""
    a0, a1 = a & _M32, a >> _U32
    b0, b1 = b & _M32, b >> _U32
    p00, p01, p10, p11 = a0 * b0, a0 * b1, a1 * b0, a1 * b1
    mid = (p00 >> _U32) + (p01 & _M32) + (p10 & _M32)
    return p11 + (p01 >> _U32) + (p10 >> _U32) + (mid >> _U32)


@njit(cache=True, inline="always")
def _step(s, i):
    """Row i's state moved one step: state x multiplier + increment (mod 2**128). s: (n, 4) uint64 rows of
    (state high, state low, increment high, increment low)."""
    hi, lo = s[i, 0], s[i, 1]
    nhi = _mulhi(lo, _MUL_LO) + lo * _MUL_HI + hi * _MUL_LO
    nlo = lo * _MUL_LO
    lo2 = nlo + s[i, 3]
    carry = _U1 if lo2 < nlo else _U0
    s[i, 0] = nhi + s[i, 2] + carry
    s[i, 1] = lo2


@njit(cache=True, inline="always")
def _next64(s, i):
    """Row i's next 64-bit output (pcg64_next64: step, then XSL-RR of the new state)."""
    _step(s, i)
    hi, lo = s[i, 0], s[i, 1]
    x = hi ^ lo
    rot = hi >> _U58
    return (x >> rot) | (x << ((_U64 - rot) & _U63))


@njit(cache=True, inline="always")
def _next_double(s, i):
    return np.float64(_next64(s, i) >> _U11) * _TO_DOUBLE


@njit(cache=True, inline="always")
def _std_exponential(s, i):
    """numpy's ziggurat standard exponential from row i's stream."""
    while True:
        ri = _next64(s, i) >> _U3
        idx = ri & _FF
        ri = ri >> _U8
        x = np.float64(ri) * _WE[idx]
        if ri < _KE[idx]:
            return x
        if idx == _U0:
            return _EXP_R - math.log1p(-_next_double(s, i))
        if (_FE[idx - _U1] - _FE[idx]) * _next_double(s, i) + _FE[idx] < math.exp(-x):
            return x


@njit(cache=True)
def k_seed(words):
    """The (n, 4) PCG64 states that numpy's PCG64 makes from seed words `words` (n x 4 uint64, agents/base.py
    stream_words): pcg64_set_seed(seed = words 0-1, inc = words 2-3)."""
    n = words.shape[0]
    s = np.empty((n, 4), np.uint64)
    for i in range(n):
        ih, il = words[i, 2], words[i, 3]
        s[i, 2] = (ih << _U1) | (il >> _U63)       # inc = (initseq << 1) | 1
        s[i, 3] = (il << _U1) | _U1
        s[i, 0], s[i, 1] = _U0, _U0
        _step(s, i)
        lo = s[i, 1] + words[i, 1]                 # state += initstate
        carry = _U1 if lo < s[i, 1] else _U0
        s[i, 0] = s[i, 0] + words[i, 0] + carry
        s[i, 1] = lo
        _step(s, i)
    return s


@njit(cache=True)
def k_exponential(s, idx, scale, out):
    """out[t] = row idx[t]'s Generator.exponential(scale), drawn in the order of idx."""
    for t in range(idx.shape[0]):
        out[t] = scale * _std_exponential(s, idx[t])


@njit(cache=True)
def k_random(s, i):
    """Row i's Generator.random()."""
    return _next_double(s, i)


@njit(cache=True)
def k_exponential_one(s, i, scale):
    """Row i's Generator.exponential(scale)."""
    return scale * _std_exponential(s, i)


class Streams:
    """The generators of a population's members (rows of seed words) as one array of PCG64 states."""

    __slots__ = ("state",)

    def __init__(self, words: np.ndarray):
        self.state = k_seed(np.ascontiguousarray(words, dtype=np.uint64))

    def exponential(self, idx: np.ndarray, scale: float) -> np.ndarray:
        """Members idx's exponential(scale) draws, one each in the order of idx."""
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= self.state.shape[0]):
            raise IndexError(f"member index out of range [0, {self.state.shape[0]})")   # (the kernel checks none)
        out = np.empty(idx.shape[0])
        k_exponential(self.state, idx, _scale(scale), out)
        return out

    def of(self, i: int) -> "MemberStream":
        """Member i's stream (numpy's row index rules: i in [0, n))."""
        i = int(i)
        if not 0 <= i < self.state.shape[0]:
            raise IndexError(f"member {i} out of range [0, {self.state.shape[0]})")
        return MemberStream(self.state, i)


def _scale(scale: float) -> float:
    """numpy's check of an exponential's scale (a negative one is refused; NaN passes, as there)."""
    scale = float(scale)
    if scale < 0:
        raise ValueError("scale < 0")
    return scale


class MemberStream:
    """One member's stream with the Generator methods its agent uses (random, exponential), drawing from the
    population's array: the same numbers, in the same order, as that member's own numpy Generator."""

    __slots__ = ("_s", "_i")

    def __init__(self, state: np.ndarray, i: int):
        self._s, self._i = state, i

    def random(self) -> float:
        return float(k_random(self._s, self._i))

    def exponential(self, scale: float = 1.0) -> float:
        return float(k_exponential_one(self._s, self._i, _scale(scale)))


preload(globals(), ("k_seed", "k_exponential", "k_random", "k_exponential_one"))   # (venues/nb_cache.py)
