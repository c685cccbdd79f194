"""Reference engine: a plain, per-account, pure-Python implementation of one venue, written from
venues/SPEC.md (and ../shared/MECHANICS.md "Settled rules") only.

It is deliberately slow and literal: loops over accounts, plain lists and floats. A differential test runs
the same operation sequences on this engine and on the vectorized `venues.venue.Venue` and demands the same
state to 1e-9. Section numbers in comments refer to SPEC.md.
"""

from __future__ import annotations

import math
import numbers

from venues.events import (
    ADL,
    BACKSTOP,
    BAD_DEBT,
    DEPOSIT,
    FILL,
    FUNDING,
    INSURANCE,
    LIQUIDATION,
    REASON_CODE,
    REJECT,
    WITHDRAWAL,
)
from venues.orderbook import BUY, SELL, OrderBook
from venues.params import SYNTH, USD, VenueParams

EPS_NEG = 1e-6  # SPEC 1
INF = math.inf

STAGE_BOOK, STAGE_BACKSTOP, STAGE_ADL, STAGE_BAD_DEBT = 1, 2, 3, 4


def _absent(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def median_of(terms) -> float | None:
    """Median of the terms with None / NaN dropped; an even count gives the mean of the middle two."""
    v = sorted(float(t) for t in terms if not _absent(t))
    n = len(v)
    if n == 0:
        return None
    if n % 2 == 1:
        return v[n // 2]
    return 0.5 * (v[n // 2 - 1] + v[n // 2])


def weighted_median(values, weights=None) -> float | None:
    """Sort values; the smallest whose cumulative weight reaches half the total; exactly half (isclose
    rel 1e-12) with a next value: the mean of the two. None / NaN values are dropped."""
    if weights is None:
        weights = [1.0] * len(values)
    pairs = sorted((float(v), float(w)) for v, w in zip(values, weights) if not _absent(v))
    if not pairs:
        return None
    total = sum(w for _, w in pairs)
    half = 0.5 * total
    cum = 0.0
    for idx, (v, w) in enumerate(pairs):
        cum += w
        exact = math.isclose(cum, half, rel_tol=1e-12)
        if cum >= half or exact:
            if exact and idx + 1 < len(pairs):
                return 0.5 * (v + pairs[idx + 1][0])
            return v
    return pairs[-1][0]


def funding_rate(premium: float, interval_hours: float, interest_8h: float, clamp: float,
                 cap_per_hour: float) -> float:
    """F = [P + clamp(i - P, -clamp, +clamp)] x interval_hours / 8, clipped to +-cap_per_hour x interval_hours."""
    c = min(max(interest_8h - premium, -clamp), clamp)
    f = (premium + c) * interval_hours / 8.0
    cap = cap_per_hour * interval_hours
    return min(max(f, -cap), cap)


def _is_int(x) -> bool:
    return isinstance(x, numbers.Integral) and not isinstance(x, bool)


def _pos_price(x) -> bool:
    return isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) and x > 0


def _sign(x) -> int:
    return 1 if x > 0 else (-1 if x < 0 else 0)


class RefVenue:
    def __init__(self, name: str, params: VenueParams, initial_prices: dict[str, float], venue_id: int = 0,
                 capacity: int = 1024):
        self.name = name
        self.p = params
        self.venue_id = int(venue_id)
        self.step = 0
        self.halted = False

        # ---------------------------------------------------------------- markets (SPEC 1)
        self.perp_names = list(params.perps)
        self.M = len(self.perp_names)
        self.perp_index = {n: k for k, n in enumerate(self.perp_names)}
        self.books = [OrderBook(m.tick_size, m.lot_size, n) for n, m in params.perps.items()]
        self.lot = [float(params.perps[n].lot_size) for n in self.perp_names]
        self.tick = [float(params.perps[n].tick_size) for n in self.perp_names]
        self.oi_cap = [float(params.perps[n].oi_cap_usd) for n in self.perp_names]
        # tiers (SPEC 2): rows (bound, maxlev, rate, cum)
        self.tiers = []
        for n in self.perp_names:
            rows = []
            prev = None
            for t in params.perps[n].tiers:
                if prev is None:
                    cum = 0.0
                else:
                    cum = prev[3] + prev[0] * (t.maintenance_rate - prev[2])
                row = (float(t.max_notional_usd), float(t.max_leverage), float(t.maintenance_rate), cum)
                rows.append(row)
                prev = row
            self.tiers.append(rows)

        self.spot_names = list(params.spots)
        self.S = len(self.spot_names)
        self.spot_index = {n: s for s, n in enumerate(self.spot_names)}
        self.spot_books = [OrderBook(m.tick_size, m.lot_size, n) for n, m in params.spots.items()]
        self.spot_base = [params.spots[n].base for n in self.spot_names]

        # assets: USD, then each spot base in spot order (no repeats), then SYNTH if synthetic_collateral
        assets = [USD]
        for b in self.spot_base:
            if b not in assets:
                assets.append(b)
        if params.synthetic_collateral and SYNTH not in assets:
            assets.append(SYNTH)
        self.assets = assets
        self.A = len(assets)
        self.asset_index = {a: j for j, a in enumerate(assets)}
        self.spot_base_idx = [self.asset_index[b] for b in self.spot_base]

        self.maker_fee = params.maker_fee_bps * 1e-4
        self.taker_fee = params.taker_fee_bps * 1e-4

        # ---------------------------------------------------------------- prices
        self.index = [float(initial_prices[n]) for n in self.perp_names]
        self.mark = list(self.index)
        self.prev_mark = list(self.mark)
        self.interval_steps = int(round(60.0 * params.funding_interval_hours))
        self.interval_minutes = 60.0 * params.funding_interval_hours
        self.prem_sum = [0.0] * self.M
        self.prem_n = 0
        self.basis_window_len = max(1, int(round(params.basis_ma_minutes)))
        self.basis_window = [[] for _ in range(self.M)]
        self.premium_ema = [0.0] * self.M
        self.ema_alpha = 1.0 if params.premium_ema_minutes == 0 else 1.0 - math.exp(-1.0 / params.premium_ema_minutes)
        self.last_funding_rate = [0.0] * self.M
        # kept non-book terms for the re-mark (8.1); before any update_prices: P1 = P2 = index, index + ema
        self.kept_p1 = list(self.index)
        self.kept_p2 = list(self.index)
        self.kept_base = list(self.index)
        self.kept_others = [None] * self.M

        # asset values and haircuts
        self.val = [1.0] * self.A
        self.hc = [0.0] * self.A
        self._refresh_values()

        # ---------------------------------------------------------------- accounts
        self.bal: list[list[float]] = []
        self.reserved: list[list[float]] = []
        self.isolated: list[bool] = []
        self.lots: list[list[int]] = []
        self.entry: list[list[float]] = []
        self.iso_margin: list[list[float]] = []
        self.leverage: list[list[float]] = []
        self.open_buy: list[list[int]] = []
        self.open_sell: list[list[int]] = []
        self.partial_done: list[list[bool]] = []
        self.cooldown_until: list[list[float]] = []
        self.oi_long = [0] * self.M
        self.oi_short = [0] * self.M

        self.insurance = [0.0] * self.A
        self.fees_kept = [0.0] * self.A
        self.bad_debt = [0.0] * self.A
        self.deposits = [0.0] * self.A
        self.withdrawals = [0.0] * self.A
        self.events: list[tuple] = []

        self.fund_present = params.insurance_fund_usd > 0
        self.vault_present = params.backstop_vault_usd > 0
        self.vault = -1
        if self.fund_present:
            self.insurance[0] = float(params.insurance_fund_usd)
            self.deposits[0] += float(params.insurance_fund_usd)
        if self.vault_present:
            self.vault = self.open_account(False)
            self.deposit(self.vault, float(params.backstop_vault_usd), USD)

    # ==================================================================== helpers
    def _ev(self, kind, market, account, side=0, lots=0, price=0.0, notional=0.0, fee=0.0, info=0.0, aux=0.0):
        self.events.append((int(self.step), int(self.venue_id), int(market), int(account), int(kind), int(side),
                            int(lots), float(price), float(notional), float(fee), float(info), float(aux)))

    def _reject(self, reason, market, account, side=0, lots=0, price=0.0):
        self._ev(REJECT, market, account, side, lots, price, 0.0, 0.0, REASON_CODE[reason], 0.0)

    def _perp(self, market) -> int | None:
        if isinstance(market, str):
            return self.perp_index.get(market)
        if isinstance(market, bool) or not isinstance(market, numbers.Integral):
            return None
        if 0 <= market < self.M:
            return int(market)
        return None

    def _spot(self, market) -> int | None:
        if isinstance(market, str):
            return self.spot_index.get(market)
        if isinstance(market, bool) or not isinstance(market, numbers.Integral):
            return None
        if 0 <= market < self.S:
            return int(market)
        return None

    def _asset(self, asset) -> int:
        if isinstance(asset, str):
            return self.asset_index[asset]
        return int(asset)

    def _refresh_values(self) -> None:
        p = self.p
        for a, name in enumerate(self.assets):
            if name == USD:
                self.val[a], self.hc[a] = 1.0, 0.0
            elif name == SYNTH:
                v = None
                if p.collateral_oracle == "redemption":
                    v = 1.0
                else:
                    s = next((s for s, b in enumerate(self.spot_base) if b == SYNTH), None)
                    if s is not None:
                        bk = self.spot_books[s]
                        v = bk.mid()
                        if v is None:
                            v = bk.last_trade()
                    if v is None:
                        v = 1.0
                self.val[a], self.hc[a] = float(v), float(p.synthetic_haircut)
            else:
                self.val[a] = self.index[self.perp_index[name]]
                self.hc[a] = float(p.spot_collateral_haircut)

    # ------------------------------------------------------------ tiers / margin (SPEC 2)
    def _tier(self, k, n):
        rows = self.tiers[k]
        for row in rows:
            if n <= row[0]:
                return row
        return rows[-1]

    def _mm_notional(self, k, n) -> float:
        _, _, rate, cum = self._tier(k, n)
        return n * rate - cum

    def _effmax(self, k, n) -> float:
        return min(self.p.max_leverage, self._tier(k, n)[1])

    def _q(self, i, k) -> float:
        return self.lots[i][k] * self.lot[k]

    def _upnl(self, i, k) -> float:
        return self.lots[i][k] * self.lot[k] * (self.mark[k] - self.entry[i][k])

    def _mm_pos(self, i, k) -> float:
        return self._mm_notional(k, abs(self.lots[i][k]) * self.lot[k] * self.mark[k])

    def collateral(self, i) -> float:
        b = self.bal[i]
        c = b[0]
        for a in range(1, self.A):
            c += b[a] * self.val[a] * (1.0 - self.hc[a])
        return c

    def _locked(self, i) -> float:
        r = self.reserved[i]
        return sum(r[a] * self.val[a] * (1.0 - self.hc[a]) for a in range(self.A))

    def equity(self, i) -> float:
        e = self.collateral(i)
        if self.isolated[i]:
            for k in range(self.M):
                e += self.iso_margin[i][k] + self._upnl(i, k)
        else:
            for k in range(self.M):
                e += self._upnl(i, k)
        return e

    # units: (i, -1) a cross account, (i, k) an isolated position; (i, -1) of an isolated account is its
    # free collateral (SPEC 8.8 [R2]): equity collateral(i), no position, mm 0
    def _unit(self, i, k) -> int:
        return k if self.isolated[i] else -1

    def _unit_equity(self, i, m) -> float:
        if m < 0:
            return self.collateral(i) if self.isolated[i] else self.equity(i)
        return self.iso_margin[i][m] + self._upnl(i, m)

    def _unit_mm(self, i, m) -> float:
        if m < 0:
            if self.isolated[i]:
                return 0.0
            return sum(self._mm_pos(i, k) for k in range(self.M))
        return self._mm_pos(i, m)

    def _unit_markets(self, i, m) -> list[int]:
        if m < 0:
            return [] if self.isolated[i] else list(range(self.M))
        return [m]

    def _unit_has_position(self, i, m) -> bool:
        return any(self.lots[i][k] != 0 for k in self._unit_markets(i, m))

    def _unit_eff_lev(self, i, k) -> float:
        """Effective leverage of the unit holding account i's position in market k."""
        if self.isolated[i]:
            e = self.iso_margin[i][k] + self._upnl(i, k)
            if e <= 0:
                return INF
            return abs(self._q(i, k)) * self.mark[k] / e
        e = self.equity(i)
        if e <= 0:
            return INF
        return sum(abs(self._q(i, m)) * self.mark[m] for m in range(self.M)) / e

    def _bankruptcy_price(self, i, k) -> float:
        """SPEC 8.4: isolated mark - (iso_margin + upnl) / q; cross mark - s_k x equity / q."""
        q = self._q(i, k)
        if self.isolated[i]:
            return self.mark[k] - (self.iso_margin[i][k] + self._upnl(i, k)) / q
        mm_tot = sum(self._mm_pos(i, m) for m in range(self.M))
        s_k = self._mm_pos(i, k) / mm_tot
        return self.mark[k] - s_k * self.equity(i) / q

    def _worst(self, i, k, side, n) -> float:
        L = self.lots[i][k]
        a = L + self.open_buy[i][k] + (n if side == BUY else 0)
        b = L - self.open_sell[i][k] - (n if side == SELL else 0)
        return max(abs(a), abs(b)) * self.lot[k] * self.mark[k]

    # ==================================================================== accounts, money
    def set_step(self, step: int) -> None:
        self.step = int(step)

    def set_halted(self, halted: bool) -> None:
        self.halted = bool(halted)

    def open_account(self, isolated: bool = False) -> int:
        i = len(self.bal)
        self.bal.append([0.0] * self.A)
        self.reserved.append([0.0] * self.A)
        self.isolated.append(bool(isolated))
        self.lots.append([0] * self.M)
        self.entry.append([0.0] * self.M)
        self.iso_margin.append([0.0] * self.M)
        self.leverage.append([min(self.p.default_leverage, min(self.p.max_leverage, self.tiers[k][0][1]))
                              for k in range(self.M)])
        self.open_buy.append([0] * self.M)
        self.open_sell.append([0] * self.M)
        self.partial_done.append([False] * self.M)
        self.cooldown_until.append([-INF] * self.M)
        return i

    def deposit(self, account: int, amount: float, asset: str = USD) -> None:
        a = self._asset(asset)
        self.bal[account][a] += amount
        self.deposits[a] += amount
        self._ev(DEPOSIT, -1, account, 0, 0, 0.0, amount, 0.0, a, 0.0)

    def withdrawable(self, account: int) -> float:
        i = account
        locked = self._locked(i)
        if self.isolated[i]:
            return max(0.0, self.collateral(i) - locked)
        up = sum(self._upnl(i, k) for k in range(self.M))
        U = up if self.p.withdraw_unrealized_profit else min(0.0, up)
        IM = sum(abs(self.lots[i][k]) * self.lot[k] * self.mark[k] / self.leverage[i][k] for k in range(self.M))
        return max(0.0, self.collateral(i) - locked + U - IM)

    def withdraw(self, account: int, amount: float, asset: str = USD) -> bool:
        i = account
        a = self._asset(asset)
        if not _pos_price(amount):
            self._reject("invalid", -1, i)
            return False
        if self.halted:
            self._reject("halted", -1, i)
            return False
        if amount > self.bal[i][a] - self.reserved[i][a] + 1e-12:
            self._reject("insufficient_balance", -1, i)
            return False
        if amount * self.val[a] * (1.0 - self.hc[a]) > self.withdrawable(i) + 1e-9:
            self._reject("withdrawal_limit", -1, i)
            return False
        self.bal[i][a] -= amount
        self.withdrawals[a] += amount
        self._ev(WITHDRAWAL, -1, i, 0, 0, 0.0, amount, 0.0, a, 0.0)
        return True

    def set_leverage(self, account: int, market, leverage: float) -> bool:
        i = account
        k = self._perp(market)
        if k is None:
            self._reject("invalid", -1, i)
            return False
        lev = leverage
        ok = isinstance(lev, numbers.Real) and not isinstance(lev, bool) and not math.isnan(lev)
        if ok:
            cap = self._effmax(k, self._worst(i, k, 0, 0))
            ok = not (lev < 1 or lev > cap)
        if not ok:
            self._reject("tier_max_leverage", k, i)
            return False
        self.leverage[i][k] = float(lev)
        return True

    # ==================================================================== perp fills (SPEC 4.2)
    def _apply_fill(self, i, k, d, p, release=True) -> None:
        lot = self.lot[k]
        old = self.lots[i][k]
        new = old + d
        if old == 0 or (old > 0) == (d > 0):
            self.entry[i][k] = (old * lot * self.entry[i][k] + d * lot * p) / (new * lot)
            realised, closed, opened = 0.0, 0, abs(d)
        elif abs(d) <= abs(old):
            realised = -d * lot * (p - self.entry[i][k])
            closed, opened = abs(d), 0
            if new == 0:
                self.entry[i][k] = 0.0
        else:
            realised = old * lot * (p - self.entry[i][k])
            closed, opened = abs(old), abs(new)
            self.entry[i][k] = p
        self.oi_long[k] += max(new, 0) - max(old, 0)
        self.oi_short[k] += max(-new, 0) - max(-old, 0)
        self.lots[i][k] = new
        if not self.isolated[i]:
            self.bal[i][0] += realised
        else:
            m0 = self.iso_margin[i][k]
            margin = m0 + realised
            if closed and release:
                if closed == abs(old):
                    rel = max(0.0, margin)   # SPEC 4.2 [R2]: a negative margin is never released
                else:
                    rel = max(0.0, m0 * closed / abs(old) + realised)   # the closed share [R2]
                margin -= rel
                self.bal[i][0] += rel
            if opened:
                add = opened * lot * p / self.leverage[i][k]
                margin += add
                self.bal[i][0] -= add
            self.iso_margin[i][k] = margin
        if new == 0:  # SPEC 8.3
            self.partial_done[i][k] = False
            self.cooldown_until[i][k] = -INF

    def _release_open(self, i, k, side, lots) -> None:
        if side == BUY:
            self.open_buy[i][k] -= lots
        else:
            self.open_sell[i][k] -= lots

    # ==================================================================== perp orders (SPEC 4.1)
    def submit_order(self, account, market, side, lots, price=None, kind="market", reduce_only=False,
                     post_only=False) -> dict:
        i = account
        k = self._perp(market)
        mk = -1 if k is None else k

        def rejected(reason, lots_, price_=0.0, market_=mk):
            self._reject(reason, market_, i, int(side) if _is_int(side) else 0, lots_, price_)
            return {"status": "rejected", "reason": reason, "order_id": None, "filled_lots": 0,
                    "unfilled_lots": max(int(lots_), 0)}

        # 1. halted / invalid
        if self.halted:
            return rejected("halted", int(lots) if _is_int(lots) else 0)
        if not _is_int(lots) or lots <= 0 or side not in (BUY, SELL) or kind not in ("market", "limit", "ioc") \
                or (kind != "market" and not _pos_price(price)) or k is None:
            return rejected("invalid", max(int(lots), 0) if _is_int(lots) else 0)
        lots = int(lots)
        book = self.books[k]
        tick, lot = self.tick[k], self.lot[k]
        # 2. reduce-only
        L = self.lots[i][k]
        if reduce_only:
            room = max(0, -L) if side == BUY else max(0, L)
            if room == 0:
                return rejected("reduce_only", lots)
            lots = min(lots, room)
        # 3. limit and estimated price
        limit_ticks = None if kind == "market" else book.to_ticks(price, side)
        if kind == "limit":
            est = limit_ticks * tick
        else:
            filled, vwap = book.simulate_take(side, lots, limit_ticks, owner=i)
            if filled == 0:
                if kind == "market":
                    return rejected("no_liquidity", lots)
                est = self.mark[k]
            else:
                est = vwap * tick
        # 4. margin checks
        if not reduce_only:
            w_with = self._worst(i, k, side, lots)
            w_without = self._worst(i, k, 0, 0)
            if not (w_with <= w_without + 1e-9):
                if self.leverage[i][k] > self._effmax(k, w_with) * (1 + 1e-12):
                    return rejected("tier_max_leverage", lots, est)
                new_abs = abs(L + lots) if side == BUY else abs(L - lots)
                increase = max(0, new_abs - abs(L)) * lot * self.mark[k]
                if increase > 0 and self.oi_long[k] * lot * self.mark[k] + increase > self.oi_cap[k]:
                    return rejected("oi_cap", lots, est)
                qo = lots * lot
                fee = qo * est * self.taker_fee
                if side == BUY:
                    adverse = max(0.0, (est - self.mark[k]) * qo)
                else:
                    adverse = max(0.0, (self.mark[k] - est) * qo)
                if self.isolated[i]:
                    if increase / self.leverage[i][k] + fee + adverse > self.bal[i][0] - self.reserved[i][0] + 1e-9:
                        return rejected("initial_margin", lots, est)
                else:
                    IM = 0.0
                    for m in range(self.M):
                        if m == k:
                            IM += self._worst(i, m, side, lots) / self.leverage[i][m]
                        else:
                            IM += self._worst(i, m, 0, 0) / self.leverage[i][m]
                    if self.equity(i) - self._locked(i) - fee - adverse < IM - 1e-9:
                        return rejected("initial_margin", lots, est)
        # 5. execute
        oid = None
        if kind == "limit":
            oid, fills = book.post(side, limit_ticks, lots, i, post_only)
            if oid is None and post_only and not fills.lots:
                # a post-only that would cross is refused whole
                return rejected("post_only_would_cross", lots)
        else:
            fills = book.take(side, lots, limit_ticks, owner=i)
        # 6. self-trade prevention
        for (soid, sside, sp, slots) in fills.self_cancelled:
            self._release_open(i, k, sside, slots)
        # 7. fills
        filled = 0
        for j, pt, n in zip(fills.maker_owner, fills.price_ticks, fills.lots):
            p = pt * tick
            self._ordinary_fill(k, i, j, side, n, p)
            filled += n
        if oid is not None:
            rest = book.order(oid)[2]
            if side == BUY:
                self.open_buy[i][k] += rest
            else:
                self.open_sell[i][k] += rest
            status = "resting" if filled == 0 else "partial"
        else:
            status = "filled" if filled == lots else ("partial" if filled > 0 else "cancelled")
        return {"status": status, "reason": "", "order_id": oid, "filled_lots": filled,
                "unfilled_lots": lots - filled}

    def _ordinary_fill(self, k, i, j, side, n, p) -> None:
        """An ordinary perp trade: taker i (side) against maker j, n lots at p (SPEC 4.2)."""
        self._apply_fill(i, k, side * n, p)
        self._apply_fill(j, k, -side * n, p)
        notional = n * self.lot[k] * p
        tf = notional * self.taker_fee
        mf = notional * self.maker_fee
        self.bal[i][0] -= tf
        self.bal[j][0] -= mf
        self.fees_kept[0] += tf + mf
        # the maker's resting order shrinks
        self._release_open(j, k, -side, n)
        self._ev(FILL, k, i, side, n, p, notional, tf, 1, j)
        self._ev(FILL, k, j, -side, n, p, notional, mf, 0, i)

    # ------------------------------------------------------------ cancels (SPEC 4.3)
    def cancel(self, account, order_id, market) -> int:
        k = self._perp(market)
        if k is None:
            return 0
        book = self.books[k]
        o = book.order(order_id)
        if o is None or o[3] != account:
            return 0
        n = book.cancel(order_id)
        self._release_open(account, k, o[0], n)
        return n

    def cancel_all(self, account, market=None) -> int:
        if market is None:
            ks = range(self.M)
        else:
            k = self._perp(market)
            if k is None:
                return 0
            ks = [k]
        total = 0
        for k in ks:
            for oid in self.books[k].orders_of(account):
                total += self.cancel(account, oid, k)
        return total

    # ==================================================================== spot (SPEC 4.4)
    def submit_spot_order(self, account, market, side, lots, price=None, kind="market") -> dict:
        i = account
        s = self._spot(market)
        mk = -1 if s is None else -2 - s

        def rejected(reason, lots_, price_=0.0):
            self._reject(reason, mk, i, int(side) if _is_int(side) else 0, lots_, price_)
            return {"status": "rejected", "reason": reason, "order_id": None, "filled_lots": 0,
                    "unfilled_lots": max(int(lots_), 0)}

        if self.halted:
            return rejected("halted", int(lots) if _is_int(lots) else 0)
        if not _is_int(lots) or lots <= 0 or side not in (BUY, SELL) or kind not in ("market", "limit", "ioc") \
                or (kind != "market" and not _pos_price(price)) or s is None:
            return rejected("invalid", max(int(lots), 0) if _is_int(lots) else 0)
        lots = int(lots)
        book = self.spot_books[s]
        tick, lot = book.tick_size, book.lot_size
        base = self.spot_base_idx[s]
        limit_ticks = None if kind == "market" else book.to_ticks(price, side)
        if kind == "limit":
            est = limit_ticks * tick
        else:
            filled, vwap = book.simulate_take(side, lots, limit_ticks, owner=i)
            if filled == 0:
                if kind == "market":
                    return rejected("no_liquidity", lots)
                est = 0.0
            else:
                est = vwap * tick
        if side == BUY:
            cost = lots * lot * est * (1 + self.taker_fee)
            if not (cost <= self.withdrawable(i) + 1e-9 and cost <= self.bal[i][0] - self.reserved[i][0] + 1e-9):
                return rejected("insufficient_balance", lots, est)
        else:
            if not (lots * lot <= self.bal[i][base] - self.reserved[i][base] + 1e-12):
                return rejected("insufficient_balance", lots, est)
        oid = None
        if kind == "limit":
            oid, fills = book.post(side, limit_ticks, lots, i, False)
        else:
            fills = book.take(side, lots, limit_ticks, owner=i)
        for (soid, sside, sp, slots) in fills.self_cancelled:
            self._release_spot(i, s, sside, sp, slots)
        filled = 0
        for j, pt, n in zip(fills.maker_owner, fills.price_ticks, fills.lots):
            p = pt * tick
            q = n * lot
            notional = q * p
            if side == BUY:
                self.bal[i][base] += q
                self.bal[i][0] -= notional
                self.bal[j][base] -= q
                self.bal[j][0] += notional
            else:
                self.bal[i][base] -= q
                self.bal[i][0] += notional
                self.bal[j][base] += q
                self.bal[j][0] -= notional
            tf = notional * self.taker_fee
            mf = notional * self.maker_fee
            self.bal[i][0] -= tf
            self.bal[j][0] -= mf
            self.fees_kept[0] += tf + mf
            self._release_spot(j, s, -side, pt, n)
            self._ev(FILL, mk, i, side, n, p, notional, tf, 1, j)
            self._ev(FILL, mk, j, -side, n, p, notional, mf, 0, i)
            filled += n
        if oid is not None:
            rest = book.order(oid)[2]
            self._reserve_spot(i, s, side, limit_ticks, rest)
            status = "resting" if filled == 0 else "partial"
        else:
            status = "filled" if filled == lots else ("partial" if filled > 0 else "cancelled")
        return {"status": status, "reason": "", "order_id": oid, "filled_lots": filled,
                "unfilled_lots": lots - filled}

    def _reserve_spot(self, i, s, side, price_ticks, lots) -> None:
        book = self.spot_books[s]
        if side == BUY:
            self.reserved[i][0] += lots * book.lot_size * (price_ticks * book.tick_size) * (1 + self.maker_fee)
        else:
            self.reserved[i][self.spot_base_idx[s]] += lots * book.lot_size

    def _release_spot(self, i, s, side, price_ticks, lots) -> None:
        book = self.spot_books[s]
        if side == BUY:
            self.reserved[i][0] -= lots * book.lot_size * (price_ticks * book.tick_size) * (1 + self.maker_fee)
        else:
            self.reserved[i][self.spot_base_idx[s]] -= lots * book.lot_size

    def cancel_spot(self, account, order_id, market) -> int:
        s = self._spot(market)
        if s is None:
            return 0
        book = self.spot_books[s]
        o = book.order(order_id)
        if o is None or o[3] != account:
            return 0
        n = book.cancel(order_id)
        self._release_spot(account, s, o[0], o[1], n)
        return n

    def _cancel_all_spot(self, account) -> None:
        for s in range(self.S):
            for oid in self.spot_books[s].orders_of(account):
                self.cancel_spot(account, oid, s)

    # ==================================================================== prices (SPEC 5)
    def update_prices(self, index, other_mids=None) -> None:
        p = self.p
        self.prev_mark = list(self.mark)
        if isinstance(index, dict):
            for name, v in index.items():
                if name in self.perp_index:
                    self.index[self.perp_index[name]] = float(v)
        else:
            for k in range(self.M):
                self.index[k] = float(index[k])
        # SPEC 5 [R2]: while halted no premium sample, and the basis window and EMA do not move
        sample = not self.halted
        if sample:
            self.prem_n += 1
        for k in range(self.M):
            book = self.books[k]
            idx = self.index[k]
            w = self.basis_window[k]
            if sample:
                mid = book.mid()
                if mid is None:
                    mid = book.last_trade()
                if mid is None:
                    mid = idx
                self.prem_sum[k] += (mid - idx) / idx
                basis = mid - idx
                w.append(basis)
                if len(w) > self.basis_window_len:
                    del w[: len(w) - self.basis_window_len]
                self.premium_ema[k] += self.ema_alpha * (basis - self.premium_ema[k])
            # kept non-book terms
            if p.mark_rule == "binance_like":
                mtf = self.interval_steps - self.step % self.interval_steps
                self.kept_p1[k] = idx * (1 + self.last_funding_rate[k] * mtf / self.interval_minutes)
                # an empty window (halted since the start, SPEC 5 [R2]) counts as basis 0: P2 = index
                self.kept_p2[k] = idx + (sum(w) / len(w) if w else 0.0)
            else:
                self.kept_base[k] = idx + self.premium_ema[k]
                om = None
                if other_mids is not None and k < len(other_mids) and other_mids[k] is not None:
                    om = weighted_median(list(other_mids[k]))
                self.kept_others[k] = om
        if not self.halted:
            self._mark_from_rule()
        self._refresh_values()

    def _mark_from_rule(self) -> None:
        for k in range(self.M):
            book = self.books[k]
            last = book.last_trade()
            if self.p.mark_rule == "binance_like":
                m = median_of([self.kept_p1[k], self.kept_p2[k], last])
            else:
                bb, ba = book.best_bid(), book.best_ask()
                bb = None if bb is None else bb * book.tick_size
                ba = None if ba is None else ba * book.tick_size
                inner = median_of([bb, ba, last])
                m = median_of([self.kept_base[k], inner, self.kept_others[k]])
            if m is not None:
                self.mark[k] = m

    def _remark(self) -> None:  # SPEC 8.1
        self._mark_from_rule()
        self._refresh_values()

    # ==================================================================== funding (SPEC 6)
    def settle_funding(self) -> list[float] | None:
        if (self.step + 1) % self.interval_steps != 0:
            return None
        p = self.p
        out = None
        if not self.halted and self.prem_n > 0:
            out = []
            h = p.funding_interval_hours
            for k in range(self.M):
                F = funding_rate(self.prem_sum[k] / self.prem_n, h, p.funding_interest_rate_8h, p.funding_clamp,
                                 p.funding_cap_per_hour)
                for i in range(len(self.bal)):
                    L = self.lots[i][k]
                    if L == 0:
                        continue
                    pay = L * self.lot[k] * self.index[k] * F
                    if pay == 0:
                        continue
                    if self.isolated[i]:
                        self.iso_margin[i][k] -= pay
                    else:
                        self.bal[i][0] -= pay
                    self._ev(FUNDING, k, i, _sign(L), abs(L), self.index[k], abs(pay), 0.0, F / h, pay)
                self.last_funding_rate[k] = F
                out.append(F)
        self.prem_sum = [0.0] * self.M
        self.prem_n = 0
        return out

    # ==================================================================== waterfall (SPEC 8)
    def run_liquidations(self) -> None:
        if self.halted:
            return
        queues: dict = {}
        processed = False
        for r in range(self.p.max_liquidation_rounds):
            if r > 0:
                self._remark()
            scan = self._scan()
            if r == 0:
                in_scan = {(i, m) for (_, i, m) in scan}
                for i in range(len(self.bal)):
                    for k in range(self.M):
                        if (i, self._unit(i, k)) not in in_scan:
                            self.partial_done[i][k] = False
            if not scan:
                break
            queues.clear()
            for (_, i, m) in scan:
                processed = True
                self._process(i, m, queues)
        if processed:
            self._remark()
        queues.clear()   # SPEC 8.8: the negative pass ranks afresh
        self._negative_pass(queues)

    def _scan(self) -> list[tuple]:
        out = []
        for i in range(len(self.bal)):
            if self.isolated[i]:
                for k in range(self.M):
                    if self.lots[i][k] == 0:
                        continue
                    e = self._unit_equity(i, k)
                    mm = self._mm_pos(i, k)
                    if e < mm:
                        out.append((e / mm, i, k))
            else:
                mm = self._unit_mm(i, -1)
                if mm > 0:
                    e = self.equity(i)
                    if e < mm:
                        out.append((e / mm, i, -1))
        out.sort()
        return out

    def _process(self, i, m, queues) -> None:
        """SPEC 8.4."""
        p = self.p
        # 0.
        if not self._unit_has_position(i, m):
            return
        if self._unit_equity(i, m) >= self._unit_mm(i, m):
            return
        for k in self._unit_markets(i, m):
            for oid in self.books[k].orders_of(i):
                self.cancel(i, oid, k)
        # 1. book
        rest = {}
        for k in self._unit_markets(i, m):
            L = self.lots[i][k]
            if L == 0:
                continue
            if self.step < self.cooldown_until[i][k]:
                rest[k] = 0
                continue
            lot = self.lot[k]
            mark = self.mark[k]
            n_usd = abs(L) * lot * mark
            partial = n_usd > p.partial_liquidation_usd and not self.partial_done[i][k]
            if partial:
                S = max(1, math.floor(abs(L) * p.partial_liquidation_fraction))
            else:
                S = abs(L)
            p_bk = self._bankruptcy_price(i, k)
            side = SELL if L > 0 else BUY
            if not self.fund_present:
                limit = p_bk
            else:
                # SPEC 8.4 (revised): below p_bk only as far as the fund's balance covers, at most `slip`
                # past the worse of p_bk and mark
                # [R4] the cover is never negative
                cover = max(0.0, self.insurance[0]) / (S * lot)
                slip = p.liquidation_max_slippage_bps * 1e-4
                if L > 0:
                    limit = max(p_bk - cover, min(p_bk, mark) * (1 - slip))
                else:
                    limit = min(p_bk + cover, max(p_bk, mark) * (1 + slip))
            book = self.books[k]
            limit_ticks = book.to_ticks(limit, side)
            if side == SELL:
                limit_ticks = max(1, limit_ticks)
            fills = book.take(side, S, limit_ticks, owner=i)
            for (soid, sside, sp, slots) in fills.self_cancelled:
                self._release_open(i, k, sside, slots)
            filled = 0
            done = []   # per fill: (j, px, n, notional, mf, fill nominal fee, paid, shortfall)
            for j, pt, n in zip(fills.maker_owner, fills.price_ticks, fills.lots):
                px = pt * book.tick_size
                self._apply_fill(i, k, side * n, px, release=False)
                self._apply_fill(j, k, -side * n, px)
                notional = n * lot * px
                mf = notional * self.maker_fee
                self.bal[j][0] -= mf
                self.fees_kept[0] += mf
                self._release_open(j, k, -side, n)
                paid = 0.0
                shortfall = 0.0
                if self.fund_present:
                    shortfall = (p_bk - px) * n * lot if L > 0 else (px - p_bk) * n * lot
                    if shortfall > 0:
                        paid = min(shortfall, self.insurance[0])
                        self.insurance[0] -= paid
                        if m < 0:
                            self.bal[i][0] += paid
                        else:
                            self.iso_margin[i][k] += paid
                done.append((j, px, n, notional, mf, notional * p.liquidation_fee_bps * 1e-4, paid, shortfall))
                filled += n
            # SPEC 8.4 step 1 [R2]: the liquidation fee once per position, after its fills and the fund's
            # shortfall payments
            nominal = sum(f[5] for f in done)
            charged = min(nominal, max(0.0, self._unit_equity(i, m)))
            if m < 0:
                self.bal[i][0] -= charged
            else:
                self.iso_margin[i][k] -= charged
            if self.fund_present:
                self.insurance[0] += charged
            else:
                self.fees_kept[0] += charged
            # events, after the fee, per fill in order
            for j, px, n, notional, mf, nom_f, paid, shortfall in done:
                fee_f = charged * (nom_f / nominal) if nominal > 0 else 0.0
                self._ev(LIQUIDATION, k, i, side, n, px, notional, fee_f, STAGE_BOOK, j)
                self._ev(FILL, k, j, -side, n, px, notional, mf, 0, i)
                if paid > 0:
                    self._ev(INSURANCE, k, i, side, n, px, paid, 0.0, shortfall, -paid)
            if partial:
                self.partial_done[i][k] = True
                self.cooldown_until[i][k] = self.step + p.partial_liquidation_cooldown_minutes
            rest[k] = S - filled
        # 2. no position left
        if not self._unit_has_position(i, m):
            if m >= 0:
                mg = self.iso_margin[i][m]
                if mg > EPS_NEG:   # SPEC 8.4 step 2 (revised): dust <= EPS_NEG stays
                    if p.remainder_to_insurance and self.fund_present:
                        self.insurance[0] += mg
                        self._ev(INSURANCE, m, i, 0, 0, 0.0, mg, 0.0, 0.0, mg)
                    else:
                        self.bal[i][0] += mg
                    self.iso_margin[i][m] = 0.0
            else:
                # SPEC 8.4 step 2 [R2]: the whole collateral, every asset; [R4] a negative USD balance is
                # first settled within the account by the conversion of 8.7 step 2, and the fund takes only
                # a positive remainder
                e = self.equity(i)
                if p.remainder_to_insurance and self.fund_present and e > EPS_NEG:
                    self._cancel_all_spot(i)
                    if self.bal[i][0] < 0:
                        self._convert_to_usd(i)
                        e = self.equity(i)
                if p.remainder_to_insurance and self.fund_present and e > EPS_NEG:
                    for a in range(self.A):
                        amt = self.bal[i][a]
                        self.bal[i][a] = 0.0
                        self.insurance[a] += amt
                    self._ev(INSURANCE, -1, i, 0, 0, 0.0, e, 0.0, 0.0, e)
            if self._unit_equity(i, m) < -EPS_NEG:
                self._bad_debt(i, m, {}, queues)
            return
        # 3. backstop / ADL
        e = self._unit_equity(i, m)
        mm = self._unit_mm(i, m)
        to_adl: list[tuple[int, int]] = []
        if self.vault_present and i != self.vault and 0 <= e < p.backstop_threshold * mm:   # [R2]
            v = self.vault
            if self.equity(v) >= (1 - p.vault_max_drawdown_pct / 100.0) * p.backstop_vault_usd:
                self._takeover(i, m)
                return
            self._ev(BACKSTOP, m, i, 0, 0, 0.0, 0.0, 0.0, -1, 0.0)
            to_adl = [(k, abs(self.lots[i][k])) for k in self._unit_markets(i, m) if self.lots[i][k] != 0]
        elif e < -EPS_NEG:
            to_adl = [(k, abs(self.lots[i][k])) for k in self._unit_markets(i, m) if self.lots[i][k] != 0]
        else:
            to_adl = [(k, rest[k]) for k in self._unit_markets(i, m) if rest.get(k, 0) > 0]
        leftover = {}
        for k, X in to_adl:
            leftover[k] = self._adl(i, k, X, queues)
        self._bad_debt(i, m, leftover, queues)

    def _takeover(self, i, m) -> None:
        """SPEC 8.5."""
        v = self.vault
        if m < 0:
            self._cancel_all_spot(i)
        for k in self._unit_markets(i, m):
            x = self.lots[i][k]
            if x == 0:
                continue
            px = self.mark[k]
            self._apply_fill(i, k, -x, px, release=False)
            self._apply_fill(v, k, x, px)
            notional = abs(x) * self.lot[k] * px
            self._ev(LIQUIDATION, k, i, -_sign(x), abs(x), px, notional, 0.0, STAGE_BACKSTOP, v)
            self._ev(BACKSTOP, k, v, _sign(x), abs(x), px, notional, 0.0, i, 0.0)
        if m < 0:
            for a in range(self.A):
                amt = self.bal[i][a]
                self.bal[i][a] = 0.0
                self.bal[v][a] += amt
        else:
            amt = self.iso_margin[i][m]
            self.iso_margin[i][m] = 0.0
            self.bal[v][0] += amt

    # ------------------------------------------------------------ ADL (SPEC 8.6)
    def _queue(self, queues, ranking, k, cand_sign) -> list[int]:
        key = (ranking, k, cand_sign)
        q = queues.get(key)
        if q is not None:
            return q
        scored = []
        for c in range(len(self.bal)):
            Lc = self.lots[c][k]
            if Lc == 0 or _sign(Lc) != cand_sign:
                continue
            up = self._upnl(c, k)
            pnl_pct = up / (abs(self._q(c, k)) * self.entry[c][k])
            lev = self._unit_eff_lev(c, k)
            if ranking == "pnl":
                score = up
            elif ranking == "leverage":
                score = lev
            else:
                score = pnl_pct * lev if pnl_pct > 0 else pnl_pct / lev
            scored.append((-score, c))
        scored.sort()
        q = [c for _, c in scored]
        queues[key] = q
        return q

    def _adl_cap(self, c, k, p_adl) -> float:
        if self.lots[c][k] < 0:
            adverse = p_adl - self.mark[k]
        else:
            adverse = self.mark[k] - p_adl
        if adverse <= 0:
            return INF
        eq = self._unit_equity(c, self._unit(c, k))
        return math.floor(max(0.0, eq) / (adverse * self.lot[k]))

    def _adl_fill(self, i, k, c, x, price, stage) -> None:
        s_i = _sign(self.lots[i][k])
        lev = self._unit_eff_lev(c, k)
        up = self._upnl(c, k)
        self._apply_fill(i, k, -s_i * x, price, release=False)
        self._apply_fill(c, k, s_i * x, price)
        notional = x * self.lot[k] * price
        self._ev(LIQUIDATION, k, i, -s_i, x, price, notional, 0.0, stage, c)
        self._ev(ADL, k, c, s_i, x, price, notional, 0.0, lev, up)

    def _walk(self, i, k, s_i, queue, remaining, price, capped) -> int:
        for c in queue:
            if remaining <= 0:
                break
            if c == i:
                continue
            Lc = self.lots[c][k]
            if Lc == 0 or _sign(Lc) != -s_i:
                continue
            take = min(abs(Lc), remaining)
            if capped:
                take = min(take, self._adl_cap(c, k, price))
            if take > 0:
                take = int(take)
                self._adl_fill(i, k, c, take, price, STAGE_ADL if capped else STAGE_BAD_DEBT)
                remaining -= take
        return remaining

    def _adl(self, i, k, X, queues) -> int:
        """Close X lots of i's position k by ADL; returns the lots not placed."""
        L = self.lots[i][k]
        if L == 0 or X <= 0:
            return 0
        X = min(X, abs(L))
        s_i = _sign(L)
        if self.p.adl_price == "previous_mark":
            p_adl = self.prev_mark[k]
        else:
            p_adl = self._bankruptcy_price(i, k)
        remaining = X
        ranking = self.p.adl_ranking
        if ranking == "pro_rata":
            # SPEC 8.6: the leftover's pnl_leverage queue is ranked (if not yet this round) before the cuts
            q = self._queue(queues, "pnl_leverage", k, -s_i)
            cands = [c for c in range(len(self.bal))
                     if c != i and self.lots[c][k] != 0 and _sign(self.lots[c][k]) == -s_i]
            T = sum(abs(self.lots[c][k]) for c in cands)
            if T > 0:
                cuts = {c: abs(self.lots[c][k]) * X // T for c in cands}
                for c in cands:  # ascending account order
                    take = min(cuts[c], self._adl_cap(c, k, p_adl))
                    if take > 0:
                        take = int(take)
                        self._adl_fill(i, k, c, take, p_adl, STAGE_ADL)
                        remaining -= take
            if remaining > 0:
                remaining = self._walk(i, k, s_i, q, remaining, p_adl, True)
        else:
            q = self._queue(queues, ranking, k, -s_i)
            remaining = self._walk(i, k, s_i, q, remaining, p_adl, True)
        return remaining

    # ------------------------------------------------------------ bad debt (SPEC 8.7)
    def _bad_debt(self, i, m, leftover, queues) -> None:
        # 1. lots ADL could not place: at the mark against the pnl_leverage queue, no caps
        for k in sorted(leftover):
            X = leftover[k]
            L = self.lots[i][k]
            if X <= 0 or L == 0:
                continue
            s_i = _sign(L)
            q = self._queue(queues, "pnl_leverage", k, -s_i)
            self._walk(i, k, s_i, q, min(X, abs(L)), self.mark[k], False)
        # 2. close at zero
        if self._unit_has_position(i, m) or not (self._unit_equity(i, m) < -EPS_NEG):
            return
        if m < 0:
            self._convert_to_usd(i)
        # 3. book what is still negative
        usd = self.bal[i][0] if m < 0 else self.iso_margin[i][m]
        if usd < 0:
            amt = -usd
            self.bad_debt[0] += amt
            if m < 0:
                self.bal[i][0] = 0.0
            else:
                self.iso_margin[i][m] = 0.0
            self._ev(BAD_DEBT, m, i, 0, 0, 0.0, amt, 0.0, 0.0, 0.0)

    def _convert_to_usd(self, i) -> None:
        """SPEC 8.7 step 2 (SR 2f): a cross account's non-USD assets turned into USD."""
        p = self.p
        self._cancel_all_spot(i)
        for a in range(1, self.A):
            b = self.bal[i][a]
            if not b > 0:
                continue
            name = self.assets[a]
            # SPEC 8.7 step 2 (R3): market mode and other assets are first sold on the venue's spot book
            # (IOC); what is left is taken at its oracle value by the fund, else the vault, else fees kept
            if not (name == SYNTH and p.collateral_oracle == "redemption"):
                s = next((s for s, base in enumerate(self.spot_base) if base == name), None)
                if s is not None:
                    n = math.floor(b / self.spot_books[s].lot_size)
                    if n >= 1:
                        self.submit_spot_order(i, s, SELL, int(n), kind="market")
            b = self.bal[i][a]
            if b > 0:
                value = b * self.val[a] * (1.0 - self.hc[a])
                if self.fund_present and self.insurance[0] >= value:
                    self.insurance[0] -= value
                    self.insurance[a] += b
                elif self.vault_present and self.bal[self.vault][0] >= value:
                    self.bal[self.vault][0] -= value
                    self.bal[self.vault][a] += b
                else:
                    self.fees_kept[0] -= value
                    self.fees_kept[a] += b
                self.bal[i][a] -= b
                self.bal[i][0] += value

    # ------------------------------------------------------------ negative pass (SPEC 8.8)
    def _negative_pass(self, queues) -> None:
        units = []
        for i in range(len(self.bal)):
            # isolated: each position, and (i, -1) its free collateral (SPEC 8.8 [R2])
            ms = list(range(self.M)) + [-1] if self.isolated[i] else [-1]
            for m in ms:
                e = self._unit_equity(i, m)
                if e < -EPS_NEG:
                    mm = self._unit_mm(i, m)
                    ratio = -INF if mm == 0 else e / mm
                    units.append((ratio, i, m))
        units.sort()
        for _, i, m in units:
            if not self._unit_equity(i, m) < -EPS_NEG:   # SPEC 8.8: re-checked, like 8.4 step 0
                continue
            leftover = {}
            for k in self._unit_markets(i, m):
                if self.lots[i][k] != 0:
                    leftover[k] = self._adl(i, k, abs(self.lots[i][k]), queues)
            self._bad_debt(i, m, leftover, queues)

    # ==================================================================== vault unwind (SPEC 9)
    def unwind_vault(self) -> None:
        if not self.vault_present:
            return
        v = self.vault
        for k in range(self.M):
            L = self.lots[v][k]
            if L == 0:
                continue
            book = self.books[k]
            for oid in book.orders_of(v):
                self.cancel(v, oid, k)
            n = min(abs(L), max(1, math.floor(abs(L) * self.p.vault_unwind_pct_per_step / 100.0)))
            mark_ticks = book.to_ticks(self.mark[k])
            bb, ba = book.best_bid(), book.best_ask()
            bb = mark_ticks if bb is None else bb
            ba = mark_ticks if ba is None else ba
            mid_ticks = 0.5 * (bb + ba)
            if L > 0:
                side = SELL
                t = max(math.ceil(mid_ticks), bb + 1)
            else:
                side = BUY
                t = min(math.floor(mid_ticks), ba - 1)
            self.submit_order(v, k, side, n, price=t * book.tick_size, kind="limit", reduce_only=True)

    # ==================================================================== state
    def snapshot(self) -> dict:
        return {
            "assets": list(self.assets),
            "bal": [list(b) for b in self.bal],
            "lots": [list(x) for x in self.lots],
            "entry": [list(x) for x in self.entry],
            "iso_margin": [list(x) for x in self.iso_margin],
            "leverage": [list(x) for x in self.leverage],
            "open_buy": [list(x) for x in self.open_buy],
            "open_sell": [list(x) for x in self.open_sell],
            "insurance": list(self.insurance),
            "fees_kept": list(self.fees_kept),
            "bad_debt": list(self.bad_debt),
            "deposits": list(self.deposits),
            "withdrawals": list(self.withdrawals),
            "mark": list(self.mark),
            "index": list(self.index),
            "events": list(self.events),
        }

    def check_invariants(self, rel_tol: float = 1e-9) -> None:
        """SPEC 10: the accounting identity per asset and long = short open interest per market."""
        n = len(self.bal)
        for a, name in enumerate(self.assets):
            lhs = self.deposits[a] - self.withdrawals[a]
            rhs = sum(self.bal[i][a] for i in range(n))
            if a == 0:
                rhs += sum(self.iso_margin[i][k] for i in range(n) for k in range(self.M))
                rhs += sum(self._upnl(i, k) for i in range(n) for k in range(self.M))
            rhs += self.insurance[a] + self.fees_kept[a] - self.bad_debt[a]
            tol = rel_tol * max(abs(self.deposits[a]), 1.0)
            assert abs(lhs - rhs) <= tol, (
                f"{self.name}: accounting identity broken for {name}: deposits - withdrawals = {lhs!r}, "
                f"holdings = {rhs!r}, diff = {lhs - rhs!r} > tol {tol!r}")
        for a, name in enumerate(self.assets):   # SPEC 10 [R4]: the fund never holds less than zero
            assert self.insurance[a] >= 0.0, f"{self.name}: insurance fund holds {self.insurance[a]!r} {name}"
        for k in range(self.M):
            longs = sum(max(self.lots[i][k], 0) for i in range(n))
            shorts = sum(max(-self.lots[i][k], 0) for i in range(n))
            assert longs == shorts, f"{self.name}: market {self.perp_names[k]}: long lots {longs} != short {shorts}"
            assert longs == self.oi_long[k] and shorts == self.oi_short[k], (
                f"{self.name}: market {self.perp_names[k]}: open interest counters ({self.oi_long[k]}, "
                f"{self.oi_short[k]}) != positions ({longs}, {shorts})")
            for i in range(n):
                assert self.open_buy[i][k] >= 0 and self.open_sell[i][k] >= 0, (
                    f"{self.name}: account {i} market {k}: negative open lots")
