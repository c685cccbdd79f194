"""Liquidation detection and the invariant check, against plain per-account loops."""

from __future__ import annotations

import numpy as np
import pytest

from venues.clearinghouse import Clearinghouse, TierTable
from venues.presets import load_preset
from conftest import make_venue
from venues.venue import InvariantError


def random_clearinghouse(seed: int, n: int = 400) -> Clearinghouse:
    rng = np.random.default_rng(seed)
    p = load_preset("binance_like")
    tables = [TierTable(p.perps["BTC"].tiers), TierTable(p.perps["ALT"].tiers)]
    ch = Clearinghouse([("BTC", 0.001, tables[0]), ("ALT", 1.0, tables[1])], ["USD", "SYNTH"], capacity=16)
    prices = np.array([100_000.0, 10.0])
    for i in range(n):
        iso = bool(rng.random() < 0.3)
        ch.open_account(iso, np.array([20.0, 10.0]))
    ch.lots[:n] = rng.integers(-3000, 3000, (n, 2)) * (rng.random((n, 2)) < 0.8)
    ch.qty[:n] = ch.lots[:n] * ch.lot_size
    ch.entry[:n] = np.where(ch.lots[:n] != 0, prices * (1 + rng.normal(0, 0.05, (n, 2))), 0.0)
    ch.bal[:n, 0] = rng.uniform(-500, 20_000, n)
    ch.bal[:n, 1] = rng.uniform(0, 5_000, n) * (rng.random(n) < 0.3)
    ch.iso_margin[:n] = np.where(ch.isolated[:n, None] & (ch.lots[:n] != 0), rng.uniform(0, 10_000, (n, 2)), 0.0)
    ch.asset_value[1], ch.asset_haircut[1] = 0.8, 0.05
    ch.refresh_collateral_weight()
    ch.mark = prices * (1 + rng.normal(0, 0.03, 2))
    return ch


def maintenance(table: TierTable, notional: float) -> float:
    for k, b in enumerate(table.bounds):
        if notional <= b:
            return notional * table.rates[k] - table.cum[k]
    raise AssertionError


@pytest.mark.parametrize("seed", range(5))
def test_scan_matches_a_per_account_loop(seed):
    ch = random_clearinghouse(seed)
    expected = []
    for i in range(ch.n):
        coll = ch.bal[i, 0] + ch.bal[i, 1] * 0.8 * 0.95
        mms = [maintenance(ch.tiers[m], abs(ch.qty[i, m]) * ch.mark[m]) for m in range(2)]
        upnl = [ch.qty[i, m] * (ch.mark[m] - ch.entry[i, m]) for m in range(2)]
        if ch.isolated[i]:
            for m in range(2):
                eq = ch.iso_margin[i, m] + upnl[m]
                if ch.lots[i, m] != 0 and eq < mms[m]:
                    expected.append((eq / mms[m], i, m))
        else:
            eq, mm = coll + sum(upnl), sum(mms)
            if mm > 0 and eq < mm:
                expected.append((eq / mm, i, -1))
    expected.sort()
    s = ch.scan()
    assert len(s) == len(expected) > 0
    assert list(zip(s.accounts.tolist(), s.markets.tolist())) == [(i, m) for _, i, m in expected]
    assert s.margin_ratio == pytest.approx([r for r, _, _ in expected])


def test_invariant_check_names_venue_step_asset_and_size():
    v = make_venue("binance_like", name="binance")
    a = v.open_account()
    v.deposit(a, 1_000.0)
    v.set_step(17)
    v.check_invariants()
    v.ch.bal[a, 0] += 0.5   # money from nowhere
    with pytest.raises(InvariantError, match=r"venue binance step 17: accounting identity broken for USD by -0\.5"):
        v.check_invariants()
    v.ch.bal[a, 0] -= 0.5
    v.ch.lots[a, 0] = 3     # a long with no short
    with pytest.raises(InvariantError, match="open interest unbalanced in BTC"):
        v.check_invariants()


def test_event_log_spills_to_its_sink_and_keeps_every_row():
    from venues.events import EventLog
    got = []
    log = EventLog(venue_id=2, chunk=64, sink=got.append, spill_rows=100)
    for k in range(1_000):
        log.step = k
        log.append(0, 1, k, 1, 1, 1.0, float(k))
        if k % 37 == 0:
            log.columns()   # reading in between must not lose or repeat rows
    log.drain()
    steps = np.concatenate([c["step"] for c in got])
    assert steps.tolist() == list(range(1_000))
    assert log.spilled == 1_000 and log.n == 0 and log._cap <= 256   # memory stayed at a few chunks


@pytest.mark.parametrize("preset", ["binance_like", "hyperliquid_like", "lighter_like"])
def test_maintenance_bracket_by_bracket_equals_the_searched_brackets(preset):
    """TierTable.maintenance_above_first (the scan's path past the first bound) gives maintenance()'s floats
    exactly, on and next to every bound too."""
    rng = np.random.default_rng(1)
    for perp in load_preset(preset).perps.values():
        t = TierTable(perp.tiers)
        b = t.bounds[:-1]
        if not b.size:
            continue
        x = np.concatenate([rng.lognormal(np.log(b[0]), 2.0, 50_000), b, np.nextafter(b, np.inf),
                            np.nextafter(b, -np.inf)])
        x = x[x > b[0]]
        assert np.array_equal(t.maintenance_above_first(x), t.maintenance(x))


def wide_clearinghouse(seed: int, markets: int, assets: int, n: int = 600) -> Clearinghouse:
    """Cross accounts only, positions from flat to deep in the tier tables, collateral in several assets (one
    of them held by nobody), signed zeros among the entries: for the compiled passes (venues/margin_nb.py)."""
    rng = np.random.default_rng(seed)
    p = load_preset("binance_like")
    tables = [TierTable(p.perps["BTC" if k % 2 == 0 else "ALT"].tiers) for k in range(markets)]
    prices = np.where(np.arange(markets) % 2 == 0, 100_000.0, 10.0)
    lot = np.where(np.arange(markets) % 2 == 0, 0.001, 1.0)
    names = ["USD", "BTC", "ALT", "SYNTH"][:assets]
    ch = Clearinghouse([(f"M{k}", lot[k], tables[k]) for k in range(markets)], names, capacity=16)
    for _ in range(n):
        ch.open_account(False, np.full(markets, 10.0))
    notional = rng.lognormal(np.log(20_000), 2.5, (n, markets)) * (rng.random((n, markets)) < 0.6)
    ch.lots[:n] = np.rint(notional / (prices * lot)).astype(np.int64) * rng.choice([-1, 1], (n, markets))
    ch.qty[:n] = ch.lots[:n] * ch.lot_size
    ch.entry[:n] = np.where(ch.lots[:n] != 0, prices * (1 + rng.normal(0, 0.05, (n, markets))), -0.0)
    ch.bal[:n, 0] = notional.sum(axis=1) / rng.uniform(2, 60, n) - rng.uniform(0, 2_000, n)
    for a in range(2, assets):   # asset 1 stays unheld
        ch.bal[:n, a] = rng.uniform(0, 3, n) * (rng.random(n) < 0.3)
    ch.asset_value[1:] = rng.uniform(0.5, 2.0, assets - 1)
    ch.asset_haircut[1:] = 0.05
    ch.refresh_collateral_weight()
    ch.mark = prices * (1 + rng.normal(0, 0.03, markets))
    return ch


def _bits(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).view(np.int64)


@pytest.mark.parametrize("markets,assets", [(1, 1), (2, 1), (2, 4), (3, 2), (10, 3)])
def test_compiled_margins_are_the_numpy_passes_bit_for_bit(markets, assets):
    """Clearinghouse.account_margins_of (compiled, some rows) gives account_margins' floats at those rows, and
    may_have_units (the waterfall's pre-filter) answers False only when the scan finds nothing."""
    seen = {False: 0, True: 0}
    for seed in range(6):
        ch = wide_clearinghouse(seed, markets, assets)
        eq, mm = ch.account_margins()
        rows = np.random.default_rng(seed).permutation(ch.n)[: ch.n // 2].astype(np.int64)
        eq_r, mm_r = ch.account_margins_of(rows)
        assert (_bits(eq_r) == _bits(eq[rows])).all() and (_bits(mm_r) == _bits(mm[rows])).all()
        for shift in (0.0, 0.5, 2.0, 5.0, 20.0):   # more collateral: fewer and fewer units, then none
            ch.bal[: ch.n, 0] += shift * mm + (shift > 5.0) * 3_000.0
            s = ch.scan(negative_below=-1e-6)
            maybe = ch.may_have_units(-1e-6)
            assert maybe or (len(s) == 0 and len(s.negative) == 0)
            seen[maybe] += 1
            ch.bal[: ch.n, 0] -= shift * mm + (shift > 5.0) * 3_000.0
    assert seen[False] and seen[True]
    ch.open_account(True, np.full(markets, 10.0))   # an isolated account: always the full scan
    assert ch.may_have_units(-1e-6)


@pytest.mark.parametrize("seed", range(3))
def test_identity_gap_is_the_array_formula_bit_for_bit(seed):
    """identity_gap (a plain sum unless it is nan, the ledgers in plain floats) gives the bits of the array form
    with np.nansum, nans in the unrealised PnL included."""
    def array_form(ch):
        n = ch.n
        held = ch.bal[:n].sum(axis=0)
        held[0] += ch.iso_margin[:n].sum() + np.nansum(ch.qty[:n] * (ch.mark - ch.entry[:n]))
        dep, wd = np.array(ch.deposits), np.array(ch.withdrawals)
        return (dep - wd) - (held + np.array(ch.insurance) + np.array(ch.fees_kept) - np.array(ch.bad_debt))
    rng = np.random.default_rng(seed)
    ch = random_clearinghouse(seed)
    for ledger in ("deposits", "withdrawals", "insurance", "fees_kept", "bad_debt"):
        setattr(ch, ledger, rng.uniform(0, 1e7, ch.A).tolist())
    assert (ch.identity_gap().view(np.int64) == array_form(ch).view(np.int64)).all()
    ch.entry[3, 0] = np.nan   # a nan in one position's unrealised PnL: nansum leaves it out
    assert (ch.identity_gap().view(np.int64) == array_form(ch).view(np.int64)).all()
