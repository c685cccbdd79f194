"""ADL walks of the round's ranked queues (venues/adl_queue.py, RankedQueue; SPEC 8.6) against the walk from the
head of the queue that they replace: the same counterparties in the same order with the same lots, prices and
every other effect, bit for bit; and a number of queue entries visited that grows with the fills, not with
their square.

`HeadWalkWaterfall` keeps the walk from the head (the code before the cursor, verbatim but for `.accounts` and
the visit counter): the reference here and the "old" of bench/waterfall_bench.py --wide.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import force_mark, make_venue
from venues import events as ev
from venues import adl_queue as queue_mod
from venues import waterfall as wf_mod
from venues.adl import AdlCounterfactuals
from venues.orderbook import BUY, SELL
from venues.waterfall import STAGE_ADL, STAGE_BAD_DEBT, Waterfall

NO_FEES = {"taker_fee_bps": 0.0, "maker_fee_bps": 0.0}


class HeadWalkWaterfall(Waterfall):
    """The waterfall whose ADL walks each ranked queue from its head on every call, skipping the positions now
    flat or of the wrong sign (quadratic in a round's fills). Counts the entries it looks at in
    `adl_queue_visits`, as the cursor's walks do (the counterfactual record looks at the whole queue)."""

    def _adl(self, i: int, m: int, k: int, x: int) -> int:
        v = self.v
        ch = v.ch
        s_i = 1 if ch.lots[i, k] > 0 else -1
        x = min(x, abs(int(ch.lots[i, k])))
        if x <= 0:
            return 0
        if v.params.adl_price == "previous_mark":
            p_adl = float(v.prev_mark[k])
        else:
            p_adl = ch.position_bankruptcy_price(i, k, m)
        if self.counterfactuals is not None:
            self._record_counterfactual(i, m, k, s_i)
        remaining = x
        if v.params.adl_ranking == "pro_rata":
            queue = self._pl_queue(k, -s_i).accounts
            cands = [c for c in np.flatnonzero(ch.lots[: ch.n, k] * s_i < 0).tolist() if c != i]
            total = sum(abs(int(ch.lots[c, k])) for c in cands)
            if total == 0:
                return remaining
            plan = [(c, min(abs(int(ch.lots[c, k])) * x // total, self._cap(c, k, p_adl))) for c in cands]
            for c, take in plan:
                if take > 0:
                    self._adl_fill(i, m, k, c, take, p_adl, s_i, STAGE_ADL)
                    remaining -= take
        else:
            queue = self._queue(k, -s_i).accounts
        for c in queue:
            if remaining == 0:
                break
            self.adl_queue_visits += 1
            if c == i or ch.lots[c, k] * s_i >= 0:
                continue
            take = min(abs(int(ch.lots[c, k])), self._cap(c, k, p_adl), remaining)
            if take > 0:
                self._adl_fill(i, m, k, c, take, p_adl, s_i, STAGE_ADL)
                remaining -= take
        return remaining

    def _record_counterfactual(self, i: int, m: int, k: int, s_i: int) -> None:
        ch = self.v.ch
        eq = ch.unit_state(i, m)[0]
        if not eq < 0:
            return
        ranked = self._pl_queue(k, -s_i).accounts
        self.adl_queue_visits += len(ranked)
        queue = [c for c in ranked if c != i and ch.lots[c, k] * s_i < 0]
        if not queue:
            return
        idx = np.asarray(queue)
        pnl = ch.qty[idx, k] * (ch.mark[k] - ch.entry[idx, k])
        lev = np.array([ch.effective_leverage(c, k if ch.isolated[c] else -1) for c in queue])
        self.counterfactuals.add(-eq, pnl, lev)

    def _bad_debt(self, i: int, m: int, left: dict[int, int]) -> None:
        ch = self.v.ch
        for k, x in left.items():
            s_i = 1 if ch.lots[i, k] > 0 else -1
            queue = self._pl_queue(k, -s_i).accounts
            mark = ch.mark_list[k]
            for c in queue:
                if x == 0:
                    break
                self.adl_queue_visits += 1
                if c == i or ch.lots[c, k] * s_i >= 0:
                    continue
                take = min(abs(int(ch.lots[c, k])), x)
                self._adl_fill(i, m, k, c, take, mark, s_i, STAGE_BAD_DEBT)
                x -= take
        super()._bad_debt(i, m, {})   # the rest of 8.7, unchanged


def use(v, waterfall_cls):
    v.waterfall = waterfall_cls(v)
    return v


def outcome(v) -> dict:
    """Everything a round can change: the event log, the accounts' arrays, the ledgers, the running totals."""
    ch, w = v.ch, v.waterfall
    out = {f"event.{k}": a.copy() for k, a in v.events.columns().items()}
    for name in ("lots", "qty", "entry", "bal", "iso_margin", "open_buy", "open_sell"):
        out[f"ch.{name}"] = getattr(ch, name)[: ch.n].copy()
    for name in ("insurance", "bad_debt", "fees_kept", "oi_long_lots", "oi_short_lots"):
        out[f"ch.{name}"] = np.array(getattr(ch, name))
    for name in ("liquidated_usd", "n_liquidations", "adl_usd", "n_adl_fills", "adl_low_leverage_usd",
                 "backstop_usd", "insurance_paid_usd", "liq_usd_by_market", "adl_usd_by_bucket"):
        out[f"wf.{name}"] = np.asarray(getattr(w, name))
    if w.counterfactuals is not None:
        out["wf.counterfactuals"] = w.counterfactuals.summary()
    return out


def assert_identical(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], dict):
            assert a[key] == b[key], key
        else:
            assert a[key].shape == b[key].shape and a[key].dtype == b[key].dtype, key
            # bit for bit: the same float values, NaN where NaN (no tolerance)
            assert np.array_equal(a[key], b[key], equal_nan=a[key].dtype.kind == "f"), key


def adl_fills(v, account=None) -> list[tuple[int, int, int, float]]:
    """(liquidated account, counterparty, lots, price) of every ADL and bad-debt close, in order."""
    liq = v.events.of_kind(ev.LIQUIDATION)
    sel = (liq["info"] == STAGE_ADL) | (liq["info"] == STAGE_BAD_DEBT)
    if account is not None:
        sel &= liq["account"] == account
    return list(zip(liq["account"][sel].tolist(), liq["aux"][sel].astype(int).tolist(),
                    liq["lots"][sel].tolist(), liq["price"][sel].tolist()))


# ------------------------------------------------------------------------------ a crowd: many units, long queues
def crowd(waterfall_cls, preset: str, overrides: dict, seed: int, n: int = 240, n_makers: int = 4):
    """n accounts (every fifth isolated) with random positions in BTC and ALT opened at scattered prices,
    equity 1.5%-30% of their gross; n_makers makers, each short 4 lots of BTC from 110k+ and long 40 of ALT from
    8.2-, at about 15x after the move (near the head of both queues), each with a thin ladder near the marks;
    then BTC -9% and ALT +9%: many units below maintenance (some below zero, so ADL caps bite), most of what
    they close goes to ADL, in more than one round, against queues of about n/2 entries. ADL flattens makers, and
    liquidation orders that hit their ladders give them positions again within the round."""
    rng = np.random.default_rng(seed)
    v = use(make_venue(preset, {**NO_FEES, **overrides}), waterfall_cls)
    v.waterfall.counterfactuals = AdlCounterfactuals(50.0)
    ch = v.ch
    mm = v.open_account()
    v.deposit(mm, 1e9)
    makers = [v.open_account() for _ in range(n_makers)]
    accts = [v.open_account(isolated=(j % 5 == 4)) for j in range(n)]
    base = {0: 100_000.0, 1: 10.0}
    gross = np.zeros(n)
    for j, a in enumerate(accts):
        for k, lot_usd in ((0, 100.0), (1, 10.0)):
            lots = int(rng.integers(1, 40)) * int(rng.choice([-1, 1]))
            price = base[k] * (1 + rng.normal(0, 0.04))
            ch.apply_fill(a, k, lots, price)
            ch.apply_fill(mm, k, -lots, price)
            gross[j] += abs(lots) * lot_usd
    for j, a in enumerate(makers):
        for k, lots, price in ((0, -4, 110_000.0 + 2_000.0 * j), (1, 40, 8.2 - 0.2 * j)):
            ch.apply_fill(a, k, lots, price)
            ch.apply_fill(mm, k, -lots, price)
    for j, a in enumerate(accts):
        if ch.isolated[a]:   # isolated margin as an opening would have set it, from the account's balance
            for k in (0, 1):
                need = abs(float(ch.qty[a, k])) * base[k] * rng.uniform(0.015, 0.3)
                v.deposit(a, need)
                ch.bal[a, 0] -= need
                ch.iso_margin[a, k] += need
        eq = float(ch.unit_state(a, -1)[0]) if not ch.isolated[a] else 0.0
        want = gross[j] * rng.uniform(0.015, 0.3)
        v.deposit(a, max(1.0, want - eq))
    force_mark(v, {"BTC": 91_000.0, "ALT": 10.9})
    for a in makers:   # the ladder: 3 levels a side, 3 lots each; posted with room, then equity ~ gross / 15
        v.deposit(a, 1e6)
        for t in range(1, 4):
            for name, px in (("BTC", 91_000.0), ("ALT", 10.9)):
                assert v.submit_order(a, name, BUY, 3, px * (1 - 0.002 * t), kind="limit").status == "resting"
                assert v.submit_order(a, name, SELL, 3, px * (1 + 0.002 * t), kind="limit").status == "resting"
        eq, _, _, _ = ch.unit_state(a, -1)
        gross_a = abs(float(ch.qty[a, 0])) * 91_000.0 + abs(float(ch.qty[a, 1])) * 10.9
        cut = eq - gross_a / 15.0
        ch.bal[a, 0] -= cut    # as if it had deposited that much less
        ch.deposits[0] -= cut
    v.check_invariants()
    return v


VARIANTS = [
    ("hyperliquid_like", {}),                                  # the vault takes units over
    ("hyperliquid_like", {"backstop_vault_usd": 0.0}),
    ("binance_like", {}),                                      # the fund
    ("lighter_like", {"adl_ranking": "pnl"}),
    ("hyperliquid_like", {"backstop_vault_usd": 0.0, "adl_ranking": "leverage"}),
    ("hyperliquid_like", {"backstop_vault_usd": 0.0, "adl_ranking": "pro_rata"}),
    ("hyperliquid_like", {"adl_price": "previous_mark"}),
]


@pytest.mark.parametrize("preset,overrides", VARIANTS, ids=[f"{p}-{'-'.join(map(str, o.values())) or 'default'}"
                                                             for p, o in VARIANTS])
@pytest.mark.parametrize("seed", [2, 3])
def test_many_units_adl_against_long_queues_exactly_as_the_walk_from_the_head(preset, overrides, seed):
    old = crowd(HeadWalkWaterfall, preset, overrides, seed)
    new = crowd(Waterfall, preset, overrides, seed)
    assert_identical(outcome(old), outcome(new))   # the same start
    n_old = old.run_liquidations()
    n_new = new.run_liquidations()
    assert n_old == n_new
    assert adl_fills(new) == adl_fills(old)        # readable on failure; the full comparison follows
    assert_identical(outcome(old), outcome(new))
    new.check_invariants()
    # the world did what it is here for: many ADL fills, from several units, over more than one round
    fills = adl_fills(new)
    assert len(fills) >= 40 and len({f[0] for f in fills}) >= 15
    assert new.waterfall.rounds_run >= 2
    assert new.waterfall.adl_queue_visits < old.waterfall.adl_queue_visits


# ------------------------------------------------------------------------------ by hand: what must not be dropped
def opened(v, account: int, market: str, lots: int, price: float, counterparty: int) -> None:
    """A position opened at `price` against `counterparty` without the book (both sides at that price)."""
    k = v.market_index(market)
    v.ch.apply_fill(account, k, lots, price)
    v.ch.apply_fill(counterparty, k, -lots, price)


def with_equity(v, account: int, equity: float) -> None:
    v.deposit(account, equity - v.equity(account))


@pytest.mark.parametrize("waterfall_cls", [HeadWalkWaterfall, Waterfall])
def test_a_maker_adld_flat_then_short_again_on_the_book_is_found_again_in_the_same_round(waterfall_cls):
    """BTC at 90k. M (short 0.1 BTC from 110k, the head of the short queue) rests an ask of 50 lots at the mark.
    L1 (long 150 lots, the lowest margin ratio) finds no bid: ADL takes 100 lots from M, M is flat (and the walk,
    going on to D for the other 50, drops it). S (short BTC and long ALT, which fell by half) buys its 50 lots
    back on the book: from M's ask, so M is short 50 again. L2 (long) then goes to ADL: the walk from the head
    takes M's 50 first, then D's; a walk that dropped M for good when it went flat would take all 100 from D."""
    v = use(make_venue("hyperliquid_like", {**NO_FEES, "backstop_vault_usd": 0.0}), waterfall_cls)
    mm = v.open_account()
    v.deposit(mm, 1e9)
    M, D, L1, S, L2 = (v.open_account() for _ in range(5))
    opened(v, M, "BTC", -100, 110_000.0, mm)
    opened(v, D, "BTC", -1000, 100_000.0, mm)
    opened(v, L1, "BTC", 150, 100_000.0, mm)
    opened(v, S, "BTC", -50, 90_000.0, mm)
    opened(v, S, "ALT", 1000, 10.0, mm)
    opened(v, L2, "BTC", 100, 100_000.0, mm)
    force_mark(v, {"BTC": 90_000.0, "ALT": 5.0})
    with_equity(v, M, 3_000.0)
    with_equity(v, D, 60_000.0)
    mm_of = {a: v.ch.unit_state(a, -1)[1] for a in (L1, S, L2)}
    with_equity(v, L1, 0.2 * mm_of[L1])
    with_equity(v, S, 0.5 * mm_of[S])
    with_equity(v, L2, 0.8 * mm_of[L2])
    assert v.submit_order(M, "BTC", SELL, 50, 90_000.0, kind="limit").status == "resting"
    assert v.scan().accounts.tolist() == [L1, S, L2]
    v.check_invariants()
    v.run_liquidations()
    liq = v.events.of_kind(ev.LIQUIDATION)
    book = liq["info"] == 1
    assert list(zip(liq["account"][book].tolist(), liq["aux"][book].astype(int).tolist(),
                    liq["lots"][book].tolist())) == [(S, M, 50)]
    btc = [(a, c, n) for a, c, n, _ in adl_fills(v) if a != S]
    assert btc == [(L1, M, 100), (L1, D, 50), (L2, M, 50), (L2, D, 50)]
    assert v.ch.lots[M, 0] == 0 and v.ch.lots[L2, 0] == 0
    v.check_invariants()


@pytest.mark.parametrize("waterfall_cls", [HeadWalkWaterfall, Waterfall])
def test_a_counterparty_capped_at_one_units_price_takes_lots_at_the_next(waterfall_cls):
    """C (short 1 lot, the head of the queue) has 3 USD of equity. L1, below zero, goes to ADL at its bankruptcy
    price 95k: C would lose 5 USD on its lot, its cap is 0 and D takes all. L2, above zero, goes to ADL below the
    mark: C has no cap there and takes its lot. A walk that dropped C at L1 would give L2's 100 lots to D."""
    v = use(make_venue("hyperliquid_like", {**NO_FEES, "backstop_vault_usd": 0.0}), waterfall_cls)
    mm = v.open_account()
    v.deposit(mm, 1e9)
    C, D, L1, L2 = (v.open_account() for _ in range(4))
    opened(v, C, "BTC", -1, 90_500.0, mm)
    opened(v, D, "BTC", -1000, 92_000.0, mm)
    opened(v, L1, "BTC", 100, 100_000.0, mm)
    opened(v, L2, "BTC", 100, 100_000.0, mm)
    force_mark(v, {"BTC": 90_000.0})
    with_equity(v, C, 3.0)
    with_equity(v, D, 42_000.0)
    L1_eq = -500.0
    v.deposit(L1, 500.0)            # equity 500 - 1,000 = -500: bankruptcy price 95k
    assert v.equity(L1) == pytest.approx(L1_eq)
    with_equity(v, L2, 0.5 * v.ch.unit_state(L2, -1)[1])
    assert v.scan().accounts.tolist() == [L1, L2]
    assert v.waterfall.rank(0, -1, "pnl_leverage")[:2] == [C, D]
    v.run_liquidations()
    assert [(a, c, n) for a, c, n, _ in adl_fills(v)] == [(L1, D, 100), (L2, C, 1), (L2, D, 99)]
    assert adl_fills(v, L1)[0][3] == pytest.approx(95_000.0)
    v.check_invariants()


# ------------------------------------------------------------------------------ cost: entries visited
def line(waterfall_cls, n_bankrupt: int):
    """n_bankrupt longs of 10 lots each, just below maintenance and above zero (their ADL price is below the
    mark: no caps), with no bid on the book; 6 x n_bankrupt shorts of 2 lots each ranked ahead of the market
    maker: each unit's ADL closes 5 of them, the round n_bankrupt x 5 fills."""
    rng = np.random.default_rng(7)
    v = use(make_venue("hyperliquid_like", {**NO_FEES, "backstop_vault_usd": 0.0, "max_liquidation_rounds": 1}),
            waterfall_cls)
    mm = v.open_account()
    v.deposit(mm, 1e9)
    shorts = [v.open_account() for _ in range(6 * n_bankrupt)]
    longs = [v.open_account() for _ in range(n_bankrupt)]
    for a in shorts:
        opened(v, a, "BTC", -2, 100_000.0 * (1 + rng.uniform(0.0, 0.1)), mm)
    for a in longs:
        opened(v, a, "BTC", 10, 100_000.0, mm)
    force_mark(v, {"BTC": 90_000.0})
    for a in shorts:
        v.deposit(a, float(rng.uniform(5_000.0, 20_000.0)))
    for a in longs:
        with_equity(v, a, 0.5 * v.ch.unit_state(a, -1)[1])
    return v


def test_entries_visited_grow_with_the_fills_not_their_square():
    visits, fills = {}, {}
    for n in (40, 160):
        old, new = line(HeadWalkWaterfall, n), line(Waterfall, n)
        old.run_liquidations()
        new.run_liquidations()
        assert adl_fills(new) == adl_fills(old)
        assert new.waterfall.n_adl_fills == 5 * n
        fills[n] = new.waterfall.n_adl_fills
        visits[n] = (old.waterfall.adl_queue_visits, new.waterfall.adl_queue_visits)
    for n in (40, 160):
        # each entry the cursor's walks look at is filled, or used up by the previous walk's last fill (a walk
        # stops at its last fill and the next one drops that entry): at most one look more per unit
        assert fills[n] <= visits[n][1] <= fills[n] + n
        # the walk from the head looks again at every entry already used up: about 5 n^2 / 2
        assert visits[n][0] >= n * fills[n] / 2
    assert visits[160][1] / visits[40][1] == pytest.approx(4.0, rel=0.02)   # 4x the fills: 4x the entries
    assert visits[160][0] / visits[40][0] > 12                     # and about 16x for the walk from the head


def test_entries_dropped_and_taken_back_in_random_crowds(monkeypatch):
    """Crowds in which makers flattened by ADL get positions again from their ladders within the round (the
    by-hand test above shows one such case in full): the cursor's walks drop them and take them back, and the
    outcome is still that of the walk from the head."""
    revived = []
    real = queue_mod.insort

    def spy(back, idx):
        revived.append(idx)
        real(back, idx)

    monkeypatch.setattr(queue_mod, "insort", spy)
    total = 0
    for preset, overrides, seed in (("binance_like", {}, 1), ("binance_like", {}, 2),
                                    ("lighter_like", {"adl_ranking": "pnl"}, 3),
                                    ("hyperliquid_like", {"adl_price": "previous_mark"}, 3)):
        old = crowd(HeadWalkWaterfall, preset, overrides, seed)
        new = crowd(Waterfall, preset, overrides, seed)
        revived.clear()
        old.run_liquidations()
        assert not revived    # the walk from the head never drops, so never takes back
        new.run_liquidations()
        total += len(revived)
        assert_identical(outcome(old), outcome(new))
    assert total >= 3


# ------------------------------------------------------------------------------ the fill's arithmetic, leaner
def test_unit_equity_leverage_and_bucket_are_the_same_floats_as_before():
    """The ADL fill reads a counterparty's equity (its cap) and effective leverage through
    Clearinghouse.unit_equity (unit_state's equity without the tier lookups) and buckets the leverage with
    bisect instead of np.searchsorted: bit for bit the values of before, over cross and isolated units, flat and
    open positions, negative equity and collateral in other assets."""
    v = crowd(Waterfall, "binance_like", {}, 2)
    ch = v.ch
    for a in range(3, ch.n, 7):   # some collateral in the synthetic dollar (weighted after its haircut)
        v.deposit(a, 50.0 + a, asset="SYNTH")
    v.run_liquidations()   # flat positions, negative and zero equity, isolated margins moved
    seen = 0
    for i in range(ch.n):
        for m in [-1] + [k for k in range(ch.M) if ch.isolated[i]]:
            eq, _, _, _ = ch.unit_state(i, m)
            assert ch.unit_equity(i, m).hex() == eq.hex()
            mark = ch.mark_list
            gross = (abs(float(ch.qty[i, m])) * mark[m] if m >= 0
                     else sum(abs(q) * mark[k] for k, q in enumerate(ch.qty[i].tolist())))
            lev = gross / eq if eq > 0 else float("inf")
            assert ch.effective_leverage(i, m).hex() == lev.hex()
            seen += 1
    assert seen > ch.n
    edges = wf_mod.ADL_LEVERAGE_EDGES
    for lev in (float("nan"), -float("inf"), 0.0, 1.9999999, 2.0, 2.0000001, 5.0, 7.0, 10.0, 10.5, float("inf")):
        old = int(np.searchsorted(edges, lev, side="left"))
        assert wf_mod.leverage_bucket(lev) == old


@pytest.mark.parametrize("first", [1, 3, 256])
def test_the_queue_ordered_in_parts_is_the_full_sort(first, monkeypatch):
    """RankedQueue orders its head by partitions and sorts of the smallest keys only: whatever the walk reads,
    index by index, and the whole queue are the full sort by (key, account), with many ties, infinities and
    NaN among the keys."""
    monkeypatch.setattr(queue_mod.RankedQueue, "FIRST", first)
    rng = np.random.default_rng(5)
    for trial in range(30):
        n = int(rng.integers(0, 400))
        idx = np.sort(rng.choice(10_000, n, replace=False))
        key = rng.integers(-5, 5, n).astype(float) / 4.0
        key[rng.random(n) < 0.05] = np.inf
        key[rng.random(n) < 0.05] = -np.inf
        key[rng.random(n) < 0.03] = np.nan
        expected = idx[np.lexsort((idx, key))].tolist()
        q = queue_mod.RankedQueue(idx, key, 0, 1)
        seen = []
        for j in range(n):   # read as a walk does: one index past what is ordered, then extend
            while j >= len(q.head):
                q.extend()
            seen.append(q.head[j])
        assert seen == expected
        assert queue_mod.RankedQueue(idx, key, 0, 1).accounts == expected
