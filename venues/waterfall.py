"""The liquidation waterfall of one venue (settled rule 2; exact behaviour in venues/SPEC.md section 8).

Rounds: scan (vectorized, ascending margin ratio) -> for each unit: book liquidation with the limit price of
2b and the insurance fund paying shortfalls (2d) -> backstop takeover (2c) -> ADL at the bankruptcy price
(2e) -> bad debt (2f); re-mark between rounds; after the last round, negative-equity units go to e-f.
The round's ranked ADL queues and their walks are in venues/adl_queue.py (`AdlQueues`, a part of `Waterfall`).
Per-unit work is plain-float arithmetic on one account's row.

What the waterfall uses of its venue, nothing private of either (tests/test_layout.py checks both rules here):
- the clearinghouse `v.ch`: its methods may_have_units, scan (and last_scan_mm, touched), unit_state,
  unit_equity, effective_leverage, position_bankruptcy_price, collateral_value, apply_fill, settle_maker; its
  arrays and ledgers, read only (lots, qty, entry, bal, iso_margin, isolated, insurance, mark, mark_list,
  lot_size, lot_list, tiers, asset_value, asset_haircut, n, A): money moves only through venues/ledger.py's
  double entries (keep_fee, fund_pays, charge, release_isolated, collateral_to_fund, vault_takes_margin,
  write_off, take_collateral), positions only through apply_fill and settle_maker;
- the venue: params, step, halted, books, spot_books, assets, fee_maker, fund_present, vault, prev_mark,
  volume_usd, events, and its methods remark, cancel_all, cancel_all_spot, spot_book_of, submit_spot_order.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from typing import TYPE_CHECKING

import numpy as np

from . import events as ev
from . import ledger
from .adl import LOW_LEVERAGE
from .adl_queue import AdlQueues, RankedQueue
from .clearinghouse import empty_scan
from .orderbook import BUY, SELL

if TYPE_CHECKING:
    from .venue import Venue

EPS_NEG = 1e-6  # USD: an equity below -EPS_NEG is negative (SPEC 1)
STAGE_BOOK, STAGE_BACKSTOP, STAGE_ADL, STAGE_BAD_DEBT = 1, 2, 3, 4
# upper edges of the leverage buckets of ADL'd notional: <= 2x, (2, 5], (5, 10], > 10x
ADL_LEVERAGE_EDGES = (LOW_LEVERAGE, 5.0, 10.0)
ADL_LEVERAGE_BUCKETS = ("le2", "2to5", "5to10", "gt10")


def leverage_bucket(lev: float) -> int:
    """Index in ADL_LEVERAGE_BUCKETS: np.searchsorted(ADL_LEVERAGE_EDGES, lev, side="left") (NaN last) without
    building an array on every ADL fill."""
    return bisect_left(ADL_LEVERAGE_EDGES, lev) if lev == lev else len(ADL_LEVERAGE_EDGES)


class Waterfall(AdlQueues):
    def __init__(self, venue: "Venue"):
        self.v = venue
        M = venue.M
        self.partial_done: dict[tuple[int, int], bool] = {}
        self.cooldown_until: dict[tuple[int, int], float] = {}
        self._queues: dict[tuple, RankedQueue] = {}
        self.M = M
        self.rounds_run = 0
        # running totals (the run's metrics and per-step series read these, not the event log, which a long
        # run spills to disk)
        self.liquidated_usd = 0.0
        self.n_liquidations = 0
        self.liquidated_accounts: set[int] = set()
        self.adl_usd = 0.0
        self.counterfactuals = None   # an AdlCounterfactuals when a run records them (analysis only)
        self.n_adl_fills = 0
        self.adl_queue_visits = 0   # ranked-queue entries the ADL walks looked at (instrumentation; SPEC 8.6)
        self.adl_low_leverage_usd = 0.0   # ADL notional whose closed account had effective leverage <= LOW_LEVERAGE
        # (settled rule 11)
        self.backstop_usd = 0.0
        self.insurance_paid_usd = 0.0
        # per market: liquidated notional (all stages), of it closing longs, and ADL notional by the closed
        # account's effective leverage in ADL_LEVERAGE_BUCKETS (the validation study's breakdowns)
        self.liq_usd_by_market = np.zeros(M)
        self.liq_long_usd_by_market = np.zeros(M)
        self.liq_book_usd_by_market = np.zeros(M)   # of it, the closes that traded on the book (stage b)
        self.adl_usd_by_bucket = np.zeros((M, len(ADL_LEVERAGE_EDGES) + 1))

    def _count(self, i: int, k: int, side: int, notional: float) -> None:
        """Running totals of one liquidation close of account i in market k (`side` is the closing side)."""
        self.liquidated_usd += notional
        self.n_liquidations += 1
        self.liquidated_accounts.add(i)
        self.liq_usd_by_market[k] += notional
        if side == SELL:
            self.liq_long_usd_by_market[k] += notional

    # ================================================================== driver
    def run(self) -> int:
        """One step's waterfall. Returns the number of units processed."""
        v = self.v
        if v.halted:
            return 0
        processed = 0
        self._queues = {}
        negative = None
        for r in range(v.params.max_liquidation_rounds):
            if r > 0:
                v.remark()
            # most minutes nobody is below maintenance or below zero: a compiled pass proves it and the scan
            # (the same answer, empty) is skipped (Clearinghouse.may_have_units)
            scan = v.ch.scan(negative_below=-EPS_NEG) if v.ch.may_have_units(-EPS_NEG) else empty_scan()
            negative = scan.negative
            if r == 0:
                self._reset_partials(scan)
            if len(scan) == 0:
                break
            self._queues = {}
            self.rounds_run += 1
            # accounts no fill has touched since the scan keep the scan's equity and maintenance (the marks are
            # fixed within a round); a touched one is recomputed
            v.ch.touched = touched = set()
            mm_t = v.ch.last_scan_mm
            try:
                for i, m, eq in zip(scan.accounts.tolist(), scan.markets.tolist(), scan.equity.tolist()):
                    if i in touched:
                        processed += self._process(i, m)
                    else:
                        mms = mm_t[:, i].tolist()
                        if m >= 0:
                            mms = [mms[k] if k == m else 0.0 for k in range(self.M)]
                        processed += self._process(i, m, eq, mms)
            finally:
                v.ch.touched = None
        if processed:
            v.remark()
            scan = v.ch.scan(negative_below=-EPS_NEG) if v.ch.may_have_units(-EPS_NEG) else empty_scan()
            negative = scan.negative
        self._queues = {}  # the negative pass ranks afresh, like a round of its own
        self._negative_pass(negative)
        return processed

    def _reset_partials(self, scan) -> None:
        if not self.partial_done:
            return
        hit = set(zip(scan.accounts.tolist(), scan.markets.tolist()))
        for (i, k) in list(self.partial_done):
            unit = (i, k) if self.v.ch.isolated[i] else (i, -1)
            if unit not in hit:
                del self.partial_done[(i, k)]

    # ================================================================== one unit
    def _positions(self, i: int, m: int) -> list[int]:
        lots = self.v.ch.lots[i].tolist()
        if m >= 0:
            return [m] if lots[m] != 0 else []
        if self.v.ch.isolated[i]:   # unit (i, -1) of an isolated account is its free collateral
            return []
        return [k for k in range(self.M) if lots[k] != 0]

    def _process(self, i: int, m: int, eq: float | None = None, mms: list[float] | None = None) -> int:
        v = self.v
        ch = v.ch
        positions = self._positions(i, m)
        if not positions:
            return 0
        if eq is None:
            eq, _, mms, _ = ch.unit_state(i, m)
        if not eq < (sum(mms) if m < 0 else mms[m]):
            return 0
        for k in (range(self.M) if m < 0 else (m,)):
            if v.books[k].has_orders(i):
                v.cancel_all(i, k)
        rests, eq = self._book_stage(i, m, positions, eq, mms)
        positions = [k for k in positions if ch.lots[i, k] != 0]
        if not positions:
            self._remainder(i, m)
            # 8.7 when the unit is negative now (a conversion of the remainder may have sold below value)
            if ch.unit_state(i, m)[0] < -EPS_NEG:
                self._bad_debt(i, m, {})
            return 1
        mm = sum(mms) if m < 0 else mms[m]
        p = v.params
        if v.vault is not None and i != v.vault and 0 <= eq < p.backstop_threshold * mm:
            if self._vault_healthy():
                self._takeover(i, m, positions)
                return 1
            v.events.append(ev.BACKSTOP, m, i, 0, 0, 0.0, 0.0, info=-1.0, aux=0.0)   # declined
            todo = {k: abs(int(ch.lots[i, k])) for k in positions}
        elif eq < -EPS_NEG:
            todo = {k: abs(int(ch.lots[i, k])) for k in positions}
        else:
            todo = {k: r for k, r in rests.items() if r > 0}
        left = {}
        for k, x in todo.items():
            rest = self._adl(i, m, k, x)
            if rest:
                left[k] = rest
        self._bad_debt(i, m, left)
        return 1

    # ------------------------------------------------------------------ b + d: book and insurance fund
    def _book_stage(self, i: int, m: int, positions: list[int], eq: float,
                    mms: list[float]) -> tuple[dict[int, int], float]:
        """Send each position's liquidation order to the book. `eq` (the unit's equity) and `mms` (maintenance
        per position) are carried along fill by fill (marks are fixed within a round): a fill of d units at p
        moves equity by d x (mark - p). Returns the unfilled rests and the unit's equity after the stage."""
        v = self.v
        ch = v.ch
        p = v.params
        now = float(v.step)
        rests: dict[int, int] = {}
        liq_fee = p.liquidation_fee_bps * 1e-4
        log = v.events.append
        fund = v.fund_present
        for k in positions:
            lots_k = int(ch.lots[i, k])
            if lots_k == 0:
                continue
            if now < self.cooldown_until.get((i, k), -math.inf):
                rests[k] = 0
                continue
            lot = ch.lot_list[k]
            mark = ch.mark_list[k]
            size = abs(lots_k)
            partial = False
            if size * lot * mark > p.partial_liquidation_usd and not self.partial_done.get((i, k), False):
                size = max(1, int(math.floor(size * p.partial_liquidation_fraction)))
                partial = True
            share = 1.0 if m >= 0 else mms[k] / sum(mms)
            p_bk = mark - share * eq / (lots_k * lot)
            side = SELL if lots_k > 0 else BUY
            if fund:
                # the worse of bk and mark, widened by what the fund can still pay below bk (so its payments
                # stay within its balance), at most liquidation_max_slippage_bps past that base
                cover = max(0.0, ch.insurance[0]) / (size * lot)   # never negative (SPEC 8.4 [R4])
                slip = p.liquidation_max_slippage_bps * 1e-4
                if lots_k > 0:
                    limit = max(p_bk - cover, min(p_bk, mark) * (1.0 - slip))
                else:
                    limit = min(p_bk + cover, max(p_bk, mark) * (1.0 + slip))
            else:
                limit = p_bk
            book = v.books[k]
            limit_ticks = book.to_ticks(limit, side)
            if side == SELL and limit_ticks < 1:
                limit_ticks = 1
            fills = book.take(side, size, limit_ticks, i)
            tick = book.tick_size
            filled = 0
            rows = []
            nominal = 0.0
            for maker, pt, n in zip(fills.maker_owner, fills.price_ticks, fills.lots):
                price = pt * tick
                notional = n * lot * price
                fee_m = notional * v.fee_maker
                ch.apply_fill(i, k, side * n, price, release=False)
                ch.settle_maker(maker, k, side, n, price, fee_m)
                ledger.keep_fee(ch, fee_m)
                if self._queues:
                    self._revive(maker, k)
                eq += side * n * lot * (mark - price)
                paid = shortfall = 0.0
                if fund:
                    shortfall = ((p_bk - price) if side == SELL else (price - p_bk)) * n * lot
                    if shortfall > 0:
                        paid = min(shortfall, ch.insurance[0])
                        if paid > 0:
                            ledger.fund_pays(ch, i, m, k, paid)
                            eq += paid
                nominal += notional * liq_fee
                rows.append((maker, n, price, notional, fee_m, paid, shortfall))
                filled += n
            # the liquidation fee, once, from what is left after the fund paid the shortfalls (SPEC 8.4)
            charged = min(nominal, max(0.0, eq)) if nominal > 0 else 0.0
            if charged > 0:
                eq -= charged
                ledger.charge(ch, i, m, k, charged, fund)
            for maker, n, price, notional, fee_m, paid, shortfall in rows:
                fee_share = charged * (notional * liq_fee / nominal) if nominal > 0 else 0.0
                log(ev.LIQUIDATION, k, i, side, n, price, notional, fee_share, STAGE_BOOK, maker)
                self._count(i, k, side, notional)
                v.volume_usd[k] += notional
                self.liq_book_usd_by_market[k] += notional
                log(ev.FILL, k, maker, -side, n, price, notional, fee_m, 0.0, i)
                if paid > 0:
                    log(ev.INSURANCE, k, i, side, n, price, paid, 0.0, shortfall, -paid)
                    self.insurance_paid_usd += paid
            if partial:
                self.partial_done[(i, k)] = True
                self.cooldown_until[(i, k)] = now + p.partial_liquidation_cooldown_minutes
            left_lots = lots_k + side * filled
            if left_lots == 0:
                self._flat(i, k)
                mms[k] = 0.0
            elif filled:
                mms[k] = ch.tiers[k].maintenance_scalar(abs(left_lots) * lot * mark)
            rests[k] = size - filled
        return rests, eq

    def _flat(self, i: int, k: int) -> None:
        self.partial_done.pop((i, k), None)
        self.cooldown_until.pop((i, k), None)

    def _remainder(self, i: int, m: int) -> None:
        """Margin left after the book closed the whole unit (settled rule 2b): never negative. Dust of EPS_NEG
        or less (float noise of an exact close) stays where it is."""
        v = self.v
        ch = v.ch
        to_fund = v.params.remainder_to_insurance and v.fund_present
        if m >= 0:
            if ch.iso_margin[i, m] <= EPS_NEG:
                return
            left = ledger.release_isolated(ch, i, m, to_fund)
            if to_fund:
                v.events.append(ev.INSURANCE, m, i, 0, 0, 0.0, left, 0.0, info=0.0, aux=left)
            return
        if not to_fund:
            return
        eq = ch.unit_state(i, -1)[0]
        if eq > EPS_NEG:
            # the whole remaining collateral, synthetic dollar included (SPEC 8.4 step 2); a negative USD
            # balance is first settled within the account: its other assets turned into USD as in 8.7 step 2
            # (settled rule 2f), so the fund never takes a debt [R4]
            v.cancel_all_spot(i)
            if ch.bal[i, 0] < 0.0:
                self._convert_collateral(i)
                eq = ch.unit_state(i, -1)[0]
                if not eq > EPS_NEG:
                    return
            ledger.collateral_to_fund(ch, i)
            v.events.append(ev.INSURANCE, -1, i, 0, 0, 0.0, eq, 0.0, info=0.0, aux=eq)

    # ------------------------------------------------------------------ c: backstop vault
    def _vault_healthy(self) -> bool:
        v = self.v
        eq = v.ch.unit_state(v.vault, -1)[0]
        return eq >= (1.0 - v.params.vault_max_drawdown_pct / 100.0) * v.params.backstop_vault_usd

    def _takeover(self, i: int, m: int, positions: list[int]) -> None:
        v = self.v
        ch = v.ch
        V = v.vault
        log = v.events.append
        if m < 0:
            v.cancel_all_spot(i)
        for k in positions:
            x = int(ch.lots[i, k])
            mark = ch.mark_list[k]
            notional = abs(x) * float(ch.lot_size[k]) * mark
            side = SELL if x > 0 else BUY
            ch.apply_fill(i, k, -x, mark, release=False)
            ch.apply_fill(V, k, x, mark)
            if self._queues:
                self._revive(V, k)
            self._flat(i, k)
            log(ev.LIQUIDATION, k, i, side, abs(x), mark, notional, 0.0, info=STAGE_BACKSTOP, aux=V)
            self._count(i, k, side, notional)
            self.backstop_usd += notional
            log(ev.BACKSTOP, k, V, -side, abs(x), mark, notional, 0.0, info=float(i), aux=0.0)
        ledger.vault_takes_margin(ch, V, i, m)

    # ------------------------------------------------------------------ e: ADL
    def _cap(self, c: int, k: int, p_adl: float) -> int:
        """Largest lots c can take at p_adl leaving its own unit's equity >= 0 (settled rule 2e)."""
        ch = self.v.ch
        size = abs(int(ch.lots[c, k]))
        adverse = (p_adl - ch.mark_list[k]) if ch.lots[c, k] < 0 else (ch.mark_list[k] - p_adl)
        if adverse <= 0:
            return size
        eq = ch.unit_equity(c, k if ch.isolated[c] else -1)
        return min(size, int(math.floor(max(0.0, eq) / (adverse * float(ch.lot_size[k])))))

    def _adl(self, i: int, m: int, k: int, x: int) -> int:
        """Close x lots of unit (i, m)'s position k against opposite positions; returns the lots not placed."""
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
            queue = self._pl_queue(k, -s_i)   # ranked before the cuts: the round's published queue
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
            queue = self._queue(k, -s_i)
        if remaining == 0:
            return 0
        # the walk yields only positions of sign -s_i now (never i's own, of sign s_i); a capped one stays
        for c in self._walk(queue):
            take = min(abs(int(ch.lots[c, k])), self._cap(c, k, p_adl), remaining)
            if take > 0:
                self._adl_fill(i, m, k, c, take, p_adl, s_i, STAGE_ADL)
                remaining -= take
                if remaining == 0:
                    break
        return remaining

    def _record_counterfactual(self, i: int, m: int, k: int, s_i: int) -> None:
        """The haircut rules' view of this ADL (venues/adl.py): budget = the unit's deficit, winners in the
        venue's ranking order (analysis only: nothing here changes the venue)."""
        ch = self.v.ch
        eq = ch.unit_state(i, m)[0]
        if not eq < 0:
            return
        queue = list(self._walk(self._pl_queue(k, -s_i)))   # positions of sign -s_i now (so never i's)
        if not queue:
            return
        idx = np.asarray(queue)
        pnl = ch.qty[idx, k] * (ch.mark[k] - ch.entry[idx, k])
        lev = np.array([ch.effective_leverage(c, k if ch.isolated[c] else -1) for c in queue])
        self.counterfactuals.add(-eq, pnl, lev)

    def _adl_fill(self, i: int, m: int, k: int, c: int, x: int, price: float, s_i: int, stage: int) -> None:
        v = self.v
        ch = v.ch
        c_unit = k if ch.isolated[c] else -1
        lev = ch.effective_leverage(c, c_unit)
        pnl = float(ch.qty[c, k]) * (ch.mark_list[k] - float(ch.entry[c, k]))
        ch.apply_fill(i, k, -s_i * x, price, release=False)
        ch.apply_fill(c, k, s_i * x, price)
        if ch.lots[i, k] == 0:
            self._flat(i, k)
        if ch.lots[c, k] == 0:
            self._flat(c, k)
        notional = x * float(ch.lot_size[k]) * price
        v.events.append(ev.LIQUIDATION, k, i, -s_i, x, price, notional, 0.0, info=stage, aux=c)
        self._count(i, k, -s_i, notional)
        self.adl_usd += notional
        self.n_adl_fills += 1
        if lev <= LOW_LEVERAGE:
            self.adl_low_leverage_usd += notional
        self.adl_usd_by_bucket[k, leverage_bucket(lev)] += notional
        v.events.append(ev.ADL, k, c, s_i, x, price, notional, 0.0, info=lev, aux=pnl)

    # ------------------------------------------------------------------ f: bad debt
    def _bad_debt(self, i: int, m: int, left: dict[int, int]) -> None:
        v = self.v
        ch = v.ch
        for k, x in left.items():   # what ADL could not place closes at the mark (no equity moves there)
            s_i = 1 if ch.lots[i, k] > 0 else -1
            queue = self._pl_queue(k, -s_i)
            mark = ch.mark_list[k]
            if x == 0:
                continue
            for c in self._walk(queue):
                take = min(abs(int(ch.lots[c, k])), x)
                self._adl_fill(i, m, k, c, take, mark, s_i, STAGE_BAD_DEBT)
                x -= take
                if x == 0:
                    break
        if self._positions(i, m):
            return
        eq = ch.unit_state(i, m)[0]
        if not eq < -EPS_NEG:
            return
        if m < 0:
            self._convert_collateral(i)
        usd = ledger.write_off(ch, i, m)
        if usd < 0:
            v.events.append(ev.BAD_DEBT, m, i, 0, 0, 0.0, -usd, 0.0)

    def _convert_collateral(self, i: int) -> None:
        """Turn an account's non-USD assets into USD before it is closed at zero (settled rule 2f)."""
        v = self.v
        ch = v.ch
        p = v.params
        v.cancel_all_spot(i)
        for a in range(1, ch.A):
            amount = float(ch.bal[i, a])
            if amount <= 0:
                continue
            # market mode (and spot-held BTC / ALT): sold on the venue's spot book first, IOC (SPEC 8.7)
            if not (v.assets[a] == "SYNTH" and p.collateral_oracle == "redemption"):
                s = v.spot_book_of(a)
                if s is not None:
                    lots = int(math.floor(amount / v.spot_books[s].lot_size))
                    if lots > 0:
                        v.submit_spot_order(i, s, SELL, lots)
                amount = float(ch.bal[i, a])
            if amount <= 0:
                continue
            # what is left (redemption mode, or what the book could not take) is taken at its oracle value
            # after haircut by the fund, else the vault, else the venue's fees kept: the account closes at zero
            value = amount * float(ch.asset_value[a]) * (1.0 - float(ch.asset_haircut[a]))
            ledger.take_collateral(ch, i, a, amount, value, v.fund_present, v.vault)

    # ------------------------------------------------------------------ after the rounds
    def _negative_pass(self, negative) -> None:
        """Units still below zero equity after the rounds: ADL whole, then bad debt (settled rule 2)."""
        ch = self.v.ch
        for i, m in zip(negative.accounts.tolist(), negative.markets.tolist()):
            eq = ch.unit_state(i, m)[0]
            if not eq < -EPS_NEG:
                continue
            left = {}
            for k in self._positions(i, m):
                rest = self._adl(i, m, k, abs(int(ch.lots[i, k])))
                if rest:
                    left[k] = rest
            self._bad_debt(i, m, left)
