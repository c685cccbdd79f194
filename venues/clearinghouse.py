"""The clearinghouse of one venue: balances, positions and margin as numpy arrays.

One row per account; one column per perpetual market (positions) or per asset (balances). Every pass that
touches all accounts (equity, maintenance margin, liquidation detection, bankruptcy and liquidation prices,
funding) is vectorized; single-account updates (a fill, a deposit) touch one row.

Accounting (settled rule 1), per asset, at every moment:
    deposits - withdrawals = sum(balance) [+ sum(isolated margin) + sum(unrealised PnL at mark) for USD]
                             + insurance fund + fees kept - bad debt
"""

from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass

import numpy as np

from .fills_nb import k_fill, k_settle_maker
from .margin_nb import k_any_unit, k_identity_sums, k_margins_rows, k_open_interest, margin_one
from .params import Tier


class TierTable:
    """A market's tier table as arrays, with the continuity deduction ("cum") derived (settled rule 7).

    maintenance margin(n) = n x rate[k] - cum[k] for the bracket k holding notional n; cum[0] = 0 and
    cum[k] = cum[k-1] + bound[k-1] x (rate[k] - rate[k-1]) so margin is continuous across bounds.
    """

    def __init__(self, tiers: list[Tier], venue_cap: float = np.inf):
        self.bounds = np.array([t.max_notional_usd for t in tiers], dtype=float)
        self.rates = np.array([t.maintenance_rate for t in tiers], dtype=float)
        self.tier_max_leverage = np.array([t.max_leverage for t in tiers], dtype=float)
        self.max_leverage = np.minimum(self.tier_max_leverage, venue_cap)  # effective max (settled rule 7)
        cum = np.zeros(len(tiers))
        for k in range(1, len(tiers)):
            cum[k] = cum[k - 1] + self.bounds[k - 1] * (self.rates[k] - self.rates[k - 1])
        self.cum = cum
        # the bounds searched for brackets above the first (the first is the fast path)
        self._upper = self.bounds[:-1]
        self._upper_list = self._upper.tolist()
        self._rates_list = self.rates.tolist()
        self._cum_list = self.cum.tolist()
        self._max_lev_list = self.max_leverage.tolist()

    def maintenance_scalar(self, notional: float) -> float:
        k = bisect_left(self._upper_list, notional)
        return notional * self._rates_list[k] - self._cum_list[k]

    def max_leverage_scalar(self, notional: float) -> float:
        """max_leverage_at for one notional, as a plain float (the per-order checks)."""
        return self._max_lev_list[bisect_left(self._upper_list, notional)]

    def bracket(self, notional: np.ndarray | float) -> np.ndarray:
        """Index of the bracket holding each notional (a notional on a bound belongs to the lower bracket)."""
        return np.searchsorted(self._upper, notional, side="left")

    def maintenance(self, notional: np.ndarray | float) -> np.ndarray | float:
        k = self.bracket(notional)
        return notional * self.rates[k] - self.cum[k]

    def max_leverage_at(self, notional: np.ndarray | float) -> np.ndarray | float:
        if isinstance(notional, float) and notional == notional:   # one notional: the bracket by bisect (the same
            return self.max_leverage[bisect_left(self._upper_list, notional)]   # index as searchsorted's, cheaper)
        return self.max_leverage[self.bracket(notional)]

    def maintenance_above_first(self, notional: np.ndarray) -> np.ndarray:
        """maintenance() of notionals all above the first bound, bracket by bracket: the notionals past each
        next bound are recomputed with that bracket's rate and deduction (the same floats as maintenance(),
        without a binary search per notional; most of them stop in the second bracket)."""
        rates, cum, upper = self._rates_list, self._cum_list, self._upper_list
        out = notional * rates[1] - cum[1]
        idx = None
        cur = notional
        for j in range(2, len(rates)):
            sel = np.flatnonzero(cur > upper[j - 1])
            if not sel.size:
                break
            cur = cur[sel]
            idx = sel if idx is None else idx[sel]
            out[idx] = cur * rates[j] - cum[j]
        return out

    def rate_and_cum(self, notional):
        k = self.bracket(notional)
        return self.rates[k], self.cum[k]


@dataclass
class Scan:
    """Accounts (cross) or positions (isolated) below maintenance margin, from one vectorized pass."""

    accounts: np.ndarray        # account ids
    markets: np.ndarray         # -1 for a cross account, else the isolated position's market
    equity: np.ndarray          # USD
    maintenance: np.ndarray     # USD
    margin_ratio: np.ndarray    # equity / maintenance margin
    negative: "Scan | None" = None  # with scan(negative_below=...): the units below that equity

    def __len__(self) -> int:
        return int(self.accounts.size)


_NO_I = np.empty(0, dtype=np.int64)
_NO_F = np.empty(0)
_NO_I.flags.writeable = _NO_F.flags.writeable = False   # shared by every empty_scan(): size 0, and read-only


def empty_scan() -> Scan:
    """What Clearinghouse.scan(negative_below=...) returns when it finds no unit: empty, `.negative` empty too."""
    return Scan(_NO_I, _NO_I, _NO_F, _NO_F, _NO_F, Scan(_NO_I, _NO_I, _NO_F, _NO_F, _NO_F))


class Clearinghouse:
    """State and margin arithmetic of one venue's accounts.

    perps: list of (name, lot_size, TierTable); assets: asset names, USD first.
    """

    def __init__(self, perps: list[tuple[str, float, TierTable]], assets: list[str], capacity: int = 1024):
        assert assets[0] == "USD"
        self.market_names = [p[0] for p in perps]
        self.lot_size = np.array([p[1] for p in perps], dtype=float)
        self.tiers = [p[2] for p in perps]
        self.assets = list(assets)
        self.M = len(perps)
        self.A = len(assets)
        self.n = 0  # accounts opened
        self._alloc(max(int(capacity), 16))
        self._mark = np.full(self.M, np.nan)
        self.mark_list = self._mark.tolist()
        # USD value per unit of each asset for collateral, and its haircut (USD: 1, 0)
        self.asset_value = np.ones(self.A)
        self.asset_haircut = np.zeros(self.A)
        self.refresh_collateral_weight()
        # venue-level ledgers per asset (settled rule 1)
        # plain lists of floats: touched once per fill, where numpy scalar arithmetic costs more than the sum
        self.deposits = [0.0] * self.A
        self.withdrawals = [0.0] * self.A
        self.insurance = [0.0] * self.A
        self.fees_kept = [0.0] * self.A
        self.bad_debt = [0.0] * self.A
        self.oi_long_lots = [0] * self.M    # lots, kept as plain ints (the per-fill path)
        self.oi_short_lots = [0] * self.M
        self._lot_list = self.lot_size.tolist()
        self._oi_m = np.zeros(2, dtype=np.int64)   # one market's (long, short) lots, handed to the fill kernels
        # accounts whose positions or balances a fill changed, while a waterfall round wants to know (else None)
        self.touched: set[int] | None = None
        # first-bracket fast path for tiers (most positions sit in the first bracket)
        self._b0 = np.array([t.bounds[0] for t in self.tiers])
        self._r0 = np.array([t.rates[0] for t in self.tiers])
        # the tier tables as (markets x brackets) arrays, for the compiled per-account passes (venues/margin_nb.py)
        nt = max([len(t.rates) for t in self.tiers], default=1)
        self._t_upper = np.full((self.M, nt), np.inf)
        self._t_rates = np.zeros((self.M, nt))
        self._t_cum = np.zeros((self.M, nt))
        self._t_n = np.array([len(t.rates) for t in self.tiers], dtype=np.int64)
        for m, t in enumerate(self.tiers):
            self._t_upper[m, : len(t._upper)] = t._upper
            self._t_rates[m, : len(t.rates)] = t.rates
            self._t_cum[m, : len(t.cum)] = t.cum

    @property
    def lot_list(self) -> list[float]:
        """Each market's lot size as plain floats (for per-fill arithmetic on one account's row)."""
        return self._lot_list

    @property
    def mark(self) -> np.ndarray:
        return self._mark

    @mark.setter
    def mark(self, value) -> None:
        self._mark = np.asarray(value, dtype=float).copy()
        self.mark_list = self._mark.tolist()

    # ------------------------------------------------------------------ storage
    def _alloc(self, cap: int) -> None:
        # Arrays are (accounts x markets) in Fortran order: a row per account as the model sees it, while each
        # market's column is contiguous, so the per-market tier lookups and the sums across markets of the
        # vectorized passes run over contiguous memory.
        M, A = self.M, self.A
        self.cap = cap
        self.bal = np.zeros((cap, A), order="F")
        self.lots = np.zeros((cap, M), dtype=np.int64, order="F")
        self.qty = np.zeros((cap, M), order="F")          # base units = lots x lot size (kept in step with lots)
        self.entry = np.zeros((cap, M), order="F")        # average entry price, USD
        self.iso_margin = np.zeros((cap, M), order="F")   # USD set aside for isolated positions
        self.isolated = np.zeros(cap, dtype=bool)
        self.leverage = np.zeros((cap, M), order="F")     # leverage the account trades at, per market
        self.open_buy = np.zeros((cap, M), dtype=np.int64, order="F")   # resting order lots (initial margin)
        self.open_sell = np.zeros((cap, M), dtype=np.int64, order="F")
        self._ws = {}  # scratch buffers for the vectorized passes (reused: no page faults per step)

    def _scratch(self, name: str, n: int) -> np.ndarray:
        """A reusable (markets x n) C-order buffer: rows are markets, so each market's row is contiguous and
        numpy's inner loops run over accounts (a (n x 2) broadcast would loop over 2 elements at a time)."""
        buf = self._ws.get(name)
        if buf is None or buf.shape[1] < n:
            buf = np.empty((self.M, max(n, self.cap)))
            self._ws[name] = buf
        return buf[:, :n]

    def _grow(self) -> None:
        old = {k: getattr(self, k) for k in ("bal", "lots", "qty", "entry", "iso_margin", "isolated", "leverage",
                                             "open_buy", "open_sell")}
        self._alloc(self.cap * 2)
        for k, arr in old.items():
            getattr(self, k)[: arr.shape[0]] = arr

    def open_account(self, isolated: bool, leverage: np.ndarray) -> int:
        if self.n == self.cap:
            self._grow()
        i = self.n
        self.n += 1
        self.isolated[i] = isolated
        self.leverage[i] = leverage
        return i

    # ------------------------------------------------------------------ vectorized margin
    def notional(self, rows=slice(None)) -> np.ndarray:
        return np.abs(self.qty[: self.n][rows]) * self.mark

    def maintenance_matrix(self, notional: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Maintenance margin per position (rows x markets), tiered (settled rule 7)."""
        if notional.ndim == 1:
            notional = notional[None, :]
        mm = np.empty_like(notional, order="F") if out is None else out
        self._maintenance_t(notional.T, mm.T)
        return mm

    def _maintenance_t(self, not_t: np.ndarray, out_t: np.ndarray) -> None:
        """Market by market over (markets x accounts): the first bracket's rate for all, then a bracket search
        only for the notionals above its bound."""
        for m in range(self.M):
            col = not_t[m]
            dst = out_t[m]
            np.multiply(col, self._r0[m], out=dst)
            if self._b0[m] < np.inf:
                above = np.flatnonzero(col > self._b0[m])
                if above.size:
                    dst[above] = self.tiers[m].maintenance_above_first(col[above])

    def rate_cum_matrix(self, notional: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Each position's bracket maintenance rate and deduction (rows x markets)."""
        rate = np.broadcast_to(self._r0, notional.shape).copy()
        cum = np.zeros_like(notional)
        above = notional > self._b0
        if above.any():
            r, c = np.nonzero(above)
            for m in np.unique(c):
                sel = c == m
                rate[r[sel], m], cum[r[sel], m] = self.tiers[m].rate_and_cum(notional[r[sel], m])
        return rate, cum

    def upnl(self, rows=slice(None)) -> np.ndarray:
        return self.qty[: self.n][rows] * (self.mark - self.entry[: self.n][rows])

    def refresh_collateral_weight(self) -> None:
        """Cache USD of collateral per unit of each asset (oracle value x (1 - haircut)) for per-account paths;
        call after changing asset_value or asset_haircut."""
        self.collateral_weight = (self.asset_value * (1.0 - self.asset_haircut)).tolist()
        self.weight_array = np.array(self.collateral_weight)   # the same floats, for compiled passes (read only)

    def collateral_value(self, rows=slice(None)) -> np.ndarray:
        """Cross collateral in USD: USD balance + other assets at their oracle value after haircut."""
        bal = self.bal[: self.n][rows]
        out = bal[..., 0].copy()
        for a, w in enumerate(self.collateral_weight[1:], start=1):   # asset by asset: columns are contiguous
            col = bal[..., a]
            if w != 0.0 and col.any():
                out += col * w
        return out

    def equity(self, rows=slice(None)) -> np.ndarray:
        """Cross accounts: collateral value + unrealised PnL; isolated accounts: collateral value plus the
        equity of each isolated position (isolated margin + its unrealised PnL)."""
        return self.collateral_value(rows) + (self.upnl(rows) + self.iso_margin[: self.n][rows]).sum(axis=-1)

    def scan(self, negative_below: float | None = None) -> Scan:
        """One vectorized pass: every cross account and every isolated position below maintenance margin, in
        ascending margin ratio (ties by account, then market; settled rule 2). With `negative_below`, the same
        pass also lists (as `.negative`) every unit whose equity is below that level, positionless cross
        accounts and flat isolated positions included (ratio -inf where maintenance is 0)."""
        n = self.n
        qty = self.qty[:n]
        mm_t, up_t = self._margin_pass("scan")
        mm, upnl = mm_t.T, up_t.T
        self.last_scan_mm = mm_t   # (markets x accounts) maintenance at this scan's marks (valid until the next)
        iso = self.isolated[:n]
        mm_acc = mm_t.sum(axis=0)
        eq_acc = up_t.sum(axis=0)
        eq_acc += self.collateral_value()
        cross_hit = np.flatnonzero(eq_acc < mm_acc)
        if cross_hit.size:
            cross_hit = cross_hit[~iso[cross_hit] & (mm_acc[cross_hit] > 0)]
        has_iso = bool(iso.any())
        if has_iso:
            ri = np.flatnonzero(iso)
            eq_pos = self.iso_margin[ri] + upnl[ri]
            mm_pos = mm[ri]
            r, c = np.nonzero((eq_pos < mm_pos) & (qty[ri] != 0))
            out = self._units(cross_hit, eq_acc[cross_hit], mm_acc[cross_hit], ri[r], c, eq_pos[r, c], mm_pos[r, c])
        else:
            out = self._units(cross_hit, eq_acc[cross_hit], mm_acc[cross_hit])
        if negative_below is not None:
            neg = np.flatnonzero((eq_acc < negative_below) & ~iso)
            if has_iso:   # the free collateral of isolated accounts, as unit (i, -1) (SPEC 8.8)
                coll_iso = self.collateral_value(ri)
                free_neg = ri[coll_iso < negative_below]
                if free_neg.size:
                    neg = np.concatenate([neg, free_neg])
                    eq_acc = eq_acc.copy()
                    eq_acc[free_neg] = coll_iso[coll_iso < negative_below]
                    mm_acc = mm_acc.copy()
                    mm_acc[free_neg] = 0.0
            if has_iso:
                r, c = np.nonzero(eq_pos < negative_below)
                out.negative = self._units(neg, eq_acc[neg], mm_acc[neg], ri[r], c, eq_pos[r, c], mm_pos[r, c])
            else:
                out.negative = self._units(neg, eq_acc[neg], mm_acc[neg])
        return out

    @staticmethod
    def _units(acc, eq, mm, iso_acc=None, iso_mkt=None, iso_eq=None, iso_mm=None) -> "Scan":
        if not acc.size and (iso_acc is None or not iso_acc.size):   # nobody (most minutes): no sort
            return Scan(np.empty(0, dtype=acc.dtype), np.empty(0, dtype=np.int64), np.empty(0), np.empty(0),
                        np.empty(0))
        mk = np.full(acc.size, -1, dtype=np.int64)
        if iso_acc is not None and iso_acc.size:
            acc = np.concatenate([acc, iso_acc])
            mk = np.concatenate([mk, iso_mkt.astype(np.int64)])
            eq = np.concatenate([eq, iso_eq])
            mm = np.concatenate([mm, iso_mm])
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(mm > 0, eq / np.where(mm > 0, mm, 1.0), -np.inf)
        order = np.lexsort((mk, acc, ratio))  # ascending margin ratio, ties by account, then market
        return Scan(acc[order], mk[order], eq[order], mm[order], ratio[order])

    def _margin_pass(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """Maintenance margin and unrealised PnL of every position as (markets x accounts) arrays, in scratch
        buffers of their own per `tag` (valid until the next pass with that tag)."""
        n = self.n
        q_t = self.qty[:n].T                          # (markets x accounts) views of the F-order state
        mark_c = self.mark[:, None]
        not_t = self._scratch(tag + ":notional", n)
        np.abs(q_t, out=not_t)
        not_t *= mark_c
        mm_t = self._scratch(tag + ":mm", n)
        self._maintenance_t(not_t, mm_t)
        up_t = self._scratch(tag + ":upnl", n)
        np.subtract(mark_c, self.entry[:n].T, out=up_t)
        up_t *= q_t
        return mm_t, up_t

    def _nb_state(self) -> tuple:
        return (self.qty, self.entry, self.bal, self._mark, self.weight_array, self._r0, self._b0, self._t_upper,
                self._t_rates, self._t_cum, self._t_n)

    def may_have_units(self, negative_below: float) -> bool:
        """False only when scan(negative_below) would find no unit at all (nobody below maintenance, nobody below
        `negative_below`): the waterfall then skips the scan. One compiled pass with the scan's own arithmetic,
        stopping at the first account that might be a unit; any isolated account answers True (k_any_unit)."""
        return bool(k_any_unit(self.n, self.isolated, *self._nb_state(), float(negative_below)))

    def account_margins_of(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """account_margins() at the accounts `rows` alone (int64 array): the same floats, from a compiled pass over
        those accounts (venues/margin_nb.py) when the venue has no isolated account."""
        n = self.n
        if self.isolated[:n].any():
            eq, mm = self.account_margins()
            return eq[rows], mm[rows]
        eq, mm = np.empty(rows.size), np.empty(rows.size)
        k_margins_rows(rows, n, *self._nb_state(), eq, mm)
        return eq, mm

    def account_margins(self) -> tuple[np.ndarray, np.ndarray]:
        """(equity, maintenance margin) of every account (cross accounts; an isolated account's equity counts
        its positions' margins), one vectorized pass like the scan's."""
        n = self.n
        mm_t, up_t = self._margin_pass("margins")
        eq = up_t.sum(axis=0) + self.collateral_value()
        if self.isolated[:n].any():
            eq += self.iso_margin[:n].sum(axis=1)
        return eq, mm_t.sum(axis=0)

    def bankruptcy_prices(self, fee_rate: float = 0.0, rows=slice(None)) -> np.ndarray:
        """Per position, the price at which closing it leaves its equity share at zero (nan where flat).

        Isolated: E - m/q (long and short alike with q signed). Cross: equity is apportioned by each
        position's share s_j of the account's maintenance margin (as dYdX v4): p_j = mark_j - s_j x equity / q_j,
        so closing every position at its p_j leaves equity exactly zero. With a closing fee rate f charged on
        |q| x p, p_j = (mark_j - s_j x equity / q_j) / (1 - f sign(q_j)).
        """
        qty = self.qty[: self.n][rows]
        notional = np.abs(qty) * self.mark
        mm = self.maintenance_matrix(notional)
        upnl = qty * (self.mark - self.entry[: self.n][rows])
        iso = self.isolated[: self.n][rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            mm_acc = mm.sum(axis=-1, keepdims=True)
            share = mm / mm_acc
            eq_acc = (self.collateral_value(rows) + upnl.sum(axis=-1))[..., None]
            eq_share = np.where(iso[..., None], self.iso_margin[: self.n][rows] + upnl, share * eq_acc)
            p = (self.mark - eq_share / qty) / (1.0 - fee_rate * np.sign(qty))
        return np.where(qty != 0, p, np.nan)

    def liquidation_prices(self, rows=slice(None)) -> np.ndarray:
        """Per position, the mark at which the account (cross) or position (isolated) reaches maintenance
        margin, other marks fixed and the bracket held at the current notional. nan where flat or unreachable."""
        qty = self.qty[: self.n][rows]
        notional = np.abs(qty) * self.mark
        rate, cum = self.rate_cum_matrix(notional)
        mm = notional * rate - cum
        upnl = qty * (self.mark - self.entry[: self.n][rows])
        iso = self.isolated[: self.n][rows]
        eq_acc = (self.collateral_value(rows) + upnl.sum(axis=-1))[..., None]
        eq0 = np.where(iso[..., None], self.iso_margin[: self.n][rows] + upnl, eq_acc)
        mm_other = np.where(iso[..., None], 0.0, mm.sum(axis=-1, keepdims=True) - mm)
        with np.errstate(invalid="ignore", divide="ignore"):
            # eq0 + q (p - mark) = mm_other + |q| rate p - cum  =>  p = (mm_other - cum - eq0 + q mark) / (q - |q| rate)
            p = (mm_other - cum - eq0 + qty * self.mark) / (qty - np.abs(qty) * rate)
        return np.where((qty != 0) & (p > 0), p, np.nan)

    # ------------------------------------------------------------------ one account, in Python floats
    def unit_state(self, i: int, m: int = -1) -> tuple[float, float, list[float], list[float]]:
        """(equity, maintenance margin, per-position maintenance, per-position unrealised PnL) of a unit: a cross
        account (m = -1) or an isolated position (i, m). Plain floats: the waterfall's per-account path."""
        mark = self.mark_list
        qty = self.qty[i].tolist()
        entry = self.entry[i].tolist()
        mms = [0.0] * self.M
        upnls = [0.0] * self.M
        tiers = self.tiers
        for k, q in enumerate(qty):
            if q != 0.0:
                mk = mark[k]
                mms[k] = tiers[k].maintenance_scalar((q if q > 0 else -q) * mk)
                upnls[k] = q * (mk - entry[k])
        if m >= 0:
            return float(self.iso_margin[i, m]) + upnls[m], mms[m], mms, upnls
        coll = self._collateral_float(i)
        if self.isolated[i]:   # unit (i, -1) of an isolated account: its free collateral (SPEC 8.8)
            return coll, 0.0, [0.0] * self.M, [0.0] * self.M
        return coll + sum(upnls), sum(mms), mms, upnls

    def margin_one(self, i: int) -> tuple[float, float]:
        """unit_state(i, -1)'s (equity, maintenance margin), the same floats, in one compiled call
        (venues/margin_nb.py)."""
        return margin_one(i, self.qty, self.entry, self.bal, self._mark, self.weight_array, self.isolated,
                          self._t_upper, self._t_rates, self._t_cum, self._t_n)

    def _collateral_float(self, i: int) -> float:
        """Account i's weighted collateral as a plain float, summed in asset order (unit_state, unit_equity)."""
        bal = self.bal[i].tolist()
        coll = bal[0]
        if self.A > 1:
            for b, w in zip(bal[1:], self.collateral_weight[1:]):
                if b:
                    coll += b * w
        return coll

    def position_bankruptcy_price(self, i: int, k: int, m: int = -1) -> float:
        """Bankruptcy price of position k of unit (i, m) now, fees aside (see bankruptcy_prices)."""
        eq, mm, mms, _ = self.unit_state(i, m)
        q = float(self.qty[i, k])
        share = 1.0 if m >= 0 else mms[k] / mm
        return self.mark_list[k] - share * eq / q

    def unit_equity(self, i: int, m: int = -1) -> float:
        """The equity of unit_state, alone: the same float operations in the same order, without the
        maintenance margin's tier lookups (the ADL fill's path: a counterparty's cap and effective leverage)."""
        mark = self.mark_list
        if m >= 0:
            q = float(self.qty[i, m])
            return float(self.iso_margin[i, m]) + (q * (mark[m] - float(self.entry[i, m])) if q != 0.0 else 0.0)
        coll = self._collateral_float(i)
        if self.isolated[i]:
            return coll
        entry = self.entry[i].tolist()
        upnls = [q * (mk - e) if q != 0.0 else 0.0 for q, mk, e in zip(self.qty[i].tolist(), mark, entry)]
        return coll + sum(upnls)

    def effective_leverage(self, i: int, m: int = -1) -> float:
        """Sum of |notional| at mark over equity of the unit (inf when equity <= 0)."""
        eq = self.unit_equity(i, m)
        mark = self.mark_list
        if m >= 0:
            gross = abs(float(self.qty[i, m])) * mark[m]
        else:
            gross = sum([abs(q) * mk for q, mk in zip(self.qty[i].tolist(), mark)])
        return gross / eq if eq > 0 else float("inf")

    # ------------------------------------------------------------------ single-account updates
    def apply_fill(self, i: int, m: int, dlots: int, price: float, release: bool = True) -> float:
        """Move account i's position in market m by dlots at price. Realised PnL goes to the USD balance
        (cross) or the position's isolated margin; an isolated position's opening margin (notional / leverage)
        moves from the balance into its margin, and a reduction releases its share of that margin (all of it
        when the position closes) unless `release` is false (liquidation closes keep it for the waterfall).
        Returns the realised PnL. Fees are charged by the caller. The arithmetic is venues/fills_nb.py's
        `k_fill`, the one the compiled order path runs too."""
        oi = self._fill_start("apply_fill", i, m)
        # plain scalars, so the kernel is typed once per array layout (not per caller's int or float type)
        realised = k_fill(int(i), int(m), int(dlots), float(price), bool(release), self.lots, self.qty, self.entry,
                          self.bal, self.iso_margin, self.isolated, self.leverage, self.lot_size, oi)
        self._fill_end(m, oi)
        return realised

    def settle_maker(self, maker: int, m: int, side: int, lots: int, price: float, fee: float) -> None:
        """The maker's side of a book fill of `lots` at `price` in market m, `side` being the taker's: the maker's
        position moves by -side x lots, it pays its fee (USD), and the filled lots of its resting order no longer
        count as open. An order's fills and a liquidation's, here and in the compiled order path alike:
        venues/fills_nb.py's `k_settle_maker`. The caller books the fee as kept and logs the fill."""
        oi = self._fill_start("settle_maker", maker, m)
        k_settle_maker(int(maker), int(m), int(side), int(lots), float(price), float(fee), self.lots, self.qty,
                       self.entry, self.bal, self.iso_margin, self.isolated, self.leverage, self.lot_size,
                       self.open_buy, self.open_sell, oi)
        self._fill_end(m, oi)

    def _fill_start(self, what: str, i: int, m: int) -> np.ndarray:
        """Before a fill kernel: the bounds it does not check, the round's touched account, and market m's open
        interest (long, short lots) in the scratch array the kernel updates."""
        if not (0 <= i < self.n and 0 <= m < self.M):
            raise IndexError(f"{what}: account {i} or market {m} out of range ({self.n} accounts, {self.M} markets)")
        if self.touched is not None:
            self.touched.add(i)
        oi = self._oi_m
        oi[0] = self.oi_long_lots[m]
        oi[1] = self.oi_short_lots[m]
        return oi

    def _fill_end(self, m: int, oi: np.ndarray) -> None:
        self.oi_long_lots[m] = oi.item(0)
        self.oi_short_lots[m] = oi.item(1)

    def apply_funding(self, m: int, rate: float, index: float) -> np.ndarray:
        """Funding for market m (settled rule 5): payment = position size x index x F, longs pay shorts when
        F > 0; isolated positions pay from their margin. Returns the payments (rows 0..n)."""
        pay = self.qty[: self.n, m] * (index * rate)
        iso = self.isolated[: self.n]
        self.bal[: self.n, 0] -= np.where(iso, 0.0, pay)
        self.iso_margin[: self.n, m] -= np.where(iso, pay, 0.0)
        return pay

    # ------------------------------------------------------------------ identity
    def open_interest_lots(self) -> tuple[list[int], list[int]]:
        """(long lots, short lots) per market, summed over the accounts' positions (the invariant check's count,
        set against oi_long_lots and oi_short_lots; integers, so exact in any order)."""
        long, short = np.zeros(self.M, dtype=np.int64), np.zeros(self.M, dtype=np.int64)
        k_open_interest(self.lots, self.n, long, short)
        return long.tolist(), short.tolist()

    def identity_gap(self) -> np.ndarray:
        """Per asset: (deposits - withdrawals) - (balances [+ isolated margin + unrealised PnL for USD]
        + insurance fund + fees kept - bad debt). Zero up to rounding (settled rule 1)."""
        n = self.n
        # numpy's bal[:n].sum(axis=0) and (qty[:n] * (mark - entry[:n])).sum(), the same bits, in one compiled
        # pass (venues/margin_nb.py)
        A = self.bal.shape[1]
        out = np.empty(A + 1)
        upnl_sum = k_identity_sums(n, self.bal, self.qty, self.entry, self._mark, self.iso_margin, out)
        if upnl_sum != upnl_sum:   # a nan anywhere makes the plain sum nan: np.nansum's own sum (of a copy, nans
            upnl_sum = np.nansum(self.qty[:n] * (self.mark - self.entry[:n]))   # set to 0, of the same layout)
        held = out[:A]
        # the isolated margins' sum: +0.0 when every one is zero (any order), else numpy's
        held[0] += (self.iso_margin[:n].sum() if out[A] else 0.0) + upnl_sum
        # per asset in plain floats: the same operations as the arrays' (dep - wd) - (held + ins + fees - bad)
        return np.array([(dep - wd) - (((h + ins) + fees) - bad) for dep, wd, h, ins, fees, bad in
                         zip(self.deposits, self.withdrawals, held.tolist(), self.insurance, self.fees_kept,
                             self.bad_debt)])
