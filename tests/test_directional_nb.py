"""The directional batch's compiled decisions (agents/directional_nb.py) against the Python rules they replace
(DirectionalPopulation._entry and _exit_spec, exit_prices and set_stops), on random batches: flat traders and
holders, with and without stops, momentum and contrarian, no signal (the coin), free margin above and below
capital, bands set and unset, marks that make an exit's limit <= 0: the same orders and stops, bit for bit. (The
withdrawable amount it computes itself is held to Accounts.withdrawable by tests/test_margin.py.)"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from agents.directional import DirectionalPopulation, exit_prices
from agents.directional_nb import NEED_COIN, NEED_FREE, k_after, k_decide_venue
from agents.params import DirectionalParams
from venues.orderbook import BUY, SELL
from worlds import plain


class _Coin:
    def __init__(self, side):
        self.side = side

    def random(self):
        return 0.25 if self.side == BUY else 0.75


def _python(p, ix, acc, mkt, L, free, cap, lev, mom, stops, coin, sig, mark, lot):
    """The orders the Python rules send, in order: (account, market, side, lots, limit or None, is_exit, trader);
    and the traders whose exit is armed unsent."""
    pop = object.__new__(DirectionalPopulation)
    venue = SimpleNamespace(mark_price=lambda k: float(mark[k]), lot_size=lambda k: float(lot[k]))
    pop.model = SimpleNamespace(cfg=SimpleNamespace(directional=p))
    signal = {("v", k): int(s) for k, s in enumerate(sig)}
    orders, armed = [], []
    for t, j in enumerate(ix.tolist()):
        tr = SimpleNamespace(venue=venue, venue_name="v", k=int(mkt[j]), capital=float(cap[j]), leverage=float(lev[j]),
                             momentum=bool(mom[j]), own_rng=_Coin(int(coin[t])))
        h = int(L[acc[j], mkt[j]])
        if h != 0:
            if stops[j]:
                continue
            spec = pop._exit_spec(tr, h)
            if spec is None:
                armed.append(j)
            else:
                orders.append((int(acc[j]), int(mkt[j]), spec[0], spec[1], spec[2], True, j))
            continue
        order = pop._entry(tr, signal, float(free[t]))
        if order is not None:
            orders.append((int(acc[j]), int(mkt[j]), order[0], order[1], order[2], False, j))
    return orders, armed


def _world(rng, n_traders=300, n_acc=400):
    acc = rng.permutation(n_acc)[:n_traders].astype(np.int64)
    mkt = rng.integers(0, 2, n_traders).astype(np.int64)
    L = np.zeros((n_acc, 2), np.int64, order="F")
    hold = rng.random(n_traders) < 0.5
    L[acc[hold], mkt[hold]] = rng.choice([-1, 1], hold.sum()) * rng.integers(1, 60, hold.sum())
    return acc, mkt, L


def _call(ix, acc, mkt, L, cap, lev, mom, stops, coin, free, sig, mark, lot, eb, xb, spot_locked=None):
    n_acc = L.shape[0]
    z = np.zeros((n_acc, 2), order="F")
    bal = np.full((n_acc, 1), 1e3, order="F")
    n = ix.shape[0]
    state = dict(lo=np.full(len(cap), -np.inf), hi=np.full(len(cap), np.inf), armed=np.zeros(len(cap), bool))
    for key in ("lo", "hi"):
        state[key][:] = np.arange(len(cap)) * (1 if key == "hi" else -1)   # stops to see cleared
    need = np.zeros(1, np.int64)
    o = [np.empty(n, np.int64) for _ in range(4)] + [np.empty(n), np.empty(n, np.int64), np.empty(n, bool),
                                                     np.empty(n, np.int64)]
    k = k_decide_venue(ix, acc, mkt, cap, lev, mom, stops, coin, free, L, z, z, bal, np.ones(1), np.ones((n_acc, 2)),
                       lot, np.zeros(n_acc, bool), np.zeros((n_acc, 1)) if spot_locked is None else spot_locked,
                       mark, False, lot, sig, eb is not None, 0.0 if eb is None else eb, xb is not None,
                       0.0 if xb is None else xb, state["lo"], state["hi"], state["armed"], need, *o)
    return k, need[0], o, state


@pytest.mark.parametrize("seed", range(6))
def test_k_decide_venue_is_entry_and_exit_spec(seed):
    rng = np.random.default_rng(seed)
    for eb, xb in ((5.0, 25.0), (None, None), (0.3, 120.0), (None, 7.5)):
        p = plain(DirectionalParams, entry_band_pct=eb, exit_band_pct=xb)
        acc, mkt, L = _world(rng)
        N = acc.shape[0]
        ix = rng.permutation(N)[:200].astype(np.int64)
        cap, lev = rng.uniform(10, 1e4, N), rng.uniform(1, 100, N)
        mom, stops = rng.random(N) < 0.5, rng.random(N) < 0.5
        coin = np.where(rng.random(ix.size) < 0.5, BUY, SELL).astype(np.int64)
        free = np.where(rng.random(ix.size) < 0.5, rng.uniform(0, 2e4, ix.size), rng.uniform(0, 50, ix.size))
        sig = np.array([rng.choice([BUY, SELL, 0]), 0], np.int64)
        mark = np.array([rng.uniform(1e4, 1e5), rng.uniform(0.01, 3)])
        lot = np.array([0.001, 1.0])
        k, _, o, state = _call(ix, acc, mkt, L, cap, lev, mom, stops, coin, free, sig, mark, lot, eb, xb)
        want, armed = _python(p, ix, acc, mkt, L, free, cap, lev, mom, stops, coin, sig, mark, lot)
        got = [(int(o[0][q]), int(o[1][q]), int(o[2][q]), int(o[3][q]),
                None if o[5][q] == 0 else float(o[4][q]), bool(o[6][q]), int(o[7][q])) for q in range(k)]
        assert got == want
        assert all(math.isnan(o[4][q]) for q in range(k) if o[5][q] == 0)
        assert any(not w[5] for w in want) and (xb is not None or not armed)
        assert sorted(np.flatnonzero(state["armed"]).tolist()) == sorted(armed)
        leaving = [j for j in ix.tolist() if L[acc[j], mkt[j]] != 0 and not stops[j]]
        assert all(state["lo"][j] == -np.inf and state["hi"][j] == np.inf for j in leaving)
        if xb is not None and xb > 100:
            assert armed   # a limit at or below 0: not sent, armed


def test_k_decide_venue_asks_for_a_coin_and_a_withdrawable_amount_first():
    rng = np.random.default_rng(7)
    acc, mkt, L = _world(rng, 50, 60)
    L[:] = 0
    N = acc.shape[0]
    ix = np.arange(N, dtype=np.int64)
    args = (np.full(N, 1e3), np.full(N, 10.0), np.ones(N, bool), np.ones(N, bool))
    sig, mark, lot = np.array([0, BUY]), np.array([5e4, 1.0]), np.array([0.001, 1.0])
    first = int(np.flatnonzero(mkt == 0)[0])
    free = np.full(N, 500.0)
    coin = np.zeros(N, np.int64)
    k, need, _, state = _call(ix, acc, mkt, L, *args, coin, free, sig, mark, lot, 5.0, 25.0)
    assert (k, need) == (-1 - first, NEED_COIN) and not state["armed"].any()
    coin[:] = SELL
    locked = np.zeros((L.shape[0], 1))
    locked[acc[3]] = 1.0
    free[3] = np.nan
    k, need, _, _ = _call(ix, acc, mkt, L, *args, coin, free, sig, mark, lot, 5.0, 25.0, locked)
    assert (k, need) == (-1 - 3, NEED_FREE)
    free[3] = 500.0
    k, need, o, _ = _call(ix, acc, mkt, L, *args, coin, free, sig, mark, lot, 5.0, 25.0, locked)
    assert k == N and all(o[2][q] == (SELL if mkt[q] == 0 else BUY) for q in range(N))


def test_k_after_is_exit_prices_and_set_stops():
    rng = np.random.default_rng(3)
    k, N = 40, 60
    who = rng.permutation(N)[:k].astype(np.int64)
    is_exit = rng.random(k) < 0.3
    side = rng.choice([BUY, SELL], k).astype(np.int64)
    filled = np.where(rng.random(k) < 0.7, rng.integers(1, 9, k), 0).astype(np.int64)
    avg = rng.uniform(1, 1e5, k)
    status = rng.choice([0, 1, 99], k).astype(np.int64)
    pos = np.where(rng.random(k) < 0.5, 0, 3).astype(np.int64)
    stops = rng.random(N) < 0.8
    lo, hi, armed = np.full(N, -np.inf), np.full(N, np.inf), np.zeros(N, bool)
    p = plain(DirectionalParams, stop_loss_pct=3.7, take_profit_pct=6.1)
    k_after(k, who, is_exit, side, filled, avg, status, pos, 99, stops, p.stop_loss_pct / 100.0,
            p.take_profit_pct / 100.0, lo, hi, armed)
    for q in range(k):
        j = who[q]
        if is_exit[q]:
            assert armed[j] == (status[q] == 99 or pos[q] != 0)
        elif filled[q] and stops[j]:
            sl, tp = exit_prices(float(avg[q]), int(side[q]), p)
            assert (lo[j], hi[j]) == ((sl, tp) if side[q] == BUY else (tp, sl))
        else:
            assert (lo[j], hi[j], armed[j]) == (-np.inf, np.inf, False)


def test_k_decide_venue_refuses_a_lot_count_beyond_int64():
    """The Python path raises OverflowError on such an order (np.int64 of a Python int); the kernel too, rather
    than send nothing."""
    rng = np.random.default_rng(1)
    acc, mkt, L = _world(rng, 5, 8)
    L[:] = 0
    N = acc.shape[0]
    args = (np.full(N, 1e3), np.full(N, 10.0), np.ones(N, bool), np.ones(N, bool))
    with pytest.raises(OverflowError):
        _call(np.arange(N, dtype=np.int64), acc, mkt, L, *args, np.full(N, BUY, np.int64), np.full(N, 500.0),
              np.array([BUY, BUY]), np.array([1e-16, 1e-16]), np.array([0.001, 1.0]), 5.0, 25.0)


def test_k_stops_due_is_the_numpy_selection():
    """k_stops_due against the numpy form CascadeModel._check_stops had: the traders whose trigger price (their
    cell of the venue x market prices) is at or below stop_lo or at or above stop_hi, or whose exit is armed,
    ascending; with nan prices, unset stops (an infinite band) and prices exactly on a stop."""
    from agents.directional_nb import k_stops_due
    rng = np.random.default_rng(7)
    for _ in range(300):
        n = int(rng.integers(0, 400))
        trig = rng.uniform(90.0, 110.0, int(rng.integers(1, 7)))
        trig[rng.random(trig.size) < 0.1] = np.nan
        cell = rng.integers(0, trig.size, n)
        lo = np.where(rng.random(n) < 0.3, -np.inf, rng.uniform(85.0, 105.0, n))
        hi = np.where(rng.random(n) < 0.3, np.inf, rng.uniform(95.0, 115.0, n))
        on = rng.random(n) < 0.05
        lo[on] = trig[cell[on]]
        armed = rng.random(n) < 0.1
        px = trig.take(cell)
        want = np.flatnonzero((px <= lo) | (px >= hi) | armed)
        out = np.empty(n, np.int64)
        k = k_stops_due(trig, cell, lo, hi, armed, out)
        assert out[:k].tolist() == want.tolist()
