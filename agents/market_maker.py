"""Market makers: the quoting rule (a pure function) and the agent that uses it.

A maker quotes a ladder of bids and asks around its fair value, skewed against its inventory; it widens and
cuts size as realised volatility and inventory grow, and withdraws entirely past a threshold (the thin books
of 10 October 2025: "market makers pulled quotes"; Vuorenmaa and Wang, JASSS 27(2):8, on inventory limits
and withdrawal speed setting the depth of flash crashes).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass

import mesa
import numpy as np

from venues.orderbook import BUY, SELL
from venues.params import ASSETS

from .base import stream
from .params import MakerParams  # noqa: F401  (defined there, without Mesa: conf/schema.py reads them)

_NB = []


def _maker_nb():
    """agents.maker_nb when numba books are in use (venues.orderbook_nb imported), else None: a run on Python books
    neither needs numba nor pays for compiling its kernel."""
    if _NB:
        return _NB[0]
    if "venues.orderbook_nb" not in sys.modules:
        return None
    from . import maker_nb
    _NB.append(maker_nb)
    return maker_nb


@dataclass
class QuoteParams:
    """One maker's quoting parameters for one market."""

    depth_usd: float = 2_000_000.0
    """Notional quoted per side in calm conditions, USD (spread over the levels)."""
    levels: int = 10
    """Price levels per side."""
    half_spread_bps: float = 2.0
    """Distance of the first level from fair value in calm conditions, bps."""
    level_step_bps: float = 5.0
    """Distance between levels, bps."""
    calm_vol_bps: float = 10.0
    """Realised one-minute volatility regarded as calm, bps."""
    inventory_limit_usd: float = 5_000_000.0
    """Inventory (USD at fair value) at which the skew is full and the side that adds to it is not quoted."""
    skew_bps: float = 20.0
    """Shift of the whole ladder at full inventory, bps (towards reducing the inventory)."""
    withdraw_threshold: float = 5.0
    """Withdraw entirely when realised volatility exceeds this multiple of calm_vol_bps."""


def ladder(fair: float, inventory_usd: float, vol_bps: float, p: QuoteParams) -> tuple[list[float], list[float],
                                                                                         list[float], list[float]]:
    """(bid prices, bid notionals, ask prices, ask notionals) in USD, best first; all empty when withdrawn.

    Stress s = vol / calm vol (at least 1): spreads and level steps scale with s, size per side with 1 / s.
    Inventory share u = inventory / limit in [-1, 1]: the ladder shifts by -u x skew (a long maker lowers its
    prices to sell), and the side that would add to the inventory shrinks by (1 - |u|) (none at the limit).
    Plain floats (nine makers call it on every market every minute; at ten levels lists beat numpy arrays).
    """
    stress = max(1.0, vol_bps / p.calm_vol_bps)
    if p.depth_usd <= 0:   # a market it does not quote
        return [], [], [], []
    if stress > p.withdraw_threshold or not (fair > 0 and math.isfinite(fair)):
        return [], [], [], []
    u = max(-1.0, min(1.0, inventory_usd / p.inventory_limit_usd))
    centre = fair * (1.0 - u * p.skew_bps * 1e-4)
    offsets = [(p.half_spread_bps + k * p.level_step_bps) * stress * 1e-4 for k in range(p.levels)]
    bids = [centre * (1.0 - x) for x in offsets]
    asks = [centre * (1.0 + x) for x in offsets]
    per_level = p.depth_usd / p.levels / stress
    bid_size = [per_level * (1.0 - max(0.0, u))] * p.levels
    ask_size = [per_level * (1.0 - max(0.0, -u))] * p.levels
    return bids, bid_size, asks, ask_size


def ladder_orders(fair: float, inventory_usd: float, vol_bps: float, p: QuoteParams, size: float, lot: float,
                  tick: float) -> list[tuple[int, float, int]]:
    """The perp orders (side, price, lots) a maker posts from `ladder(...)` at `size` (its ramp after a return):
    bids then asks, best first, each rung's notional in lots (rounded down); a price below one tick is not quoted.
    (agents/maker_nb.py computes the same in its kernel.)"""
    bids, bsz, asks, asz = ladder(fair, inventory_usd, vol_bps, p)
    out = [(BUY, float(px), int(size * usd / (px * lot))) for px, usd in zip(bids, bsz) if px >= tick]
    out += [(SELL, float(px), int(size * usd / (px * lot))) for px, usd in zip(asks, asz) if px >= tick]
    return out


def spot_orders(fair: float, inventory_usd: float, vol_bps: float, p: QuoteParams, held: float, lot: float,
                tick: float) -> list[tuple[int, float, int]] | None:
    """A maker's spot orders from `ladder(...)`: its bids, then asks limited to the `held` base units (a rung takes
    what is left); a price below one tick is not quoted; None when the ladder is empty (withdrawn). (agents/
    maker_nb.py computes the same in its kernel.)"""
    bids, bsz, asks, asz = ladder(fair, inventory_usd, vol_bps, p)
    if not bids:
        return None
    orders = [(BUY, float(px), int(usd / (px * lot))) for px, usd in zip(bids, bsz) if px >= tick]
    left = held
    for px, usd in zip(asks, asz):
        if px < tick:
            continue
        n = int(min(usd / px, left) / lot)
        if n > 0:
            orders.append((SELL, float(px), n))
            left -= n * lot
    return orders


def realised_vol_bps(prices: np.ndarray) -> float:
    """Standard deviation of one-step log returns over the window, bps (0 with fewer than 3 prices)."""
    x = np.asarray(prices, dtype=float)
    if x.size < 3:
        return 0.0
    ok = np.isfinite(x) & (x > 0)
    if not ok.all():
        x = x[ok]
        if x.size < 3:
            return 0.0
    r = np.log(x)
    r = r[1:] - r[:-1]                       # np.diff
    # np.std(r): numpy's _var on a 1-D float array, its operations without its Python layers (the same bits)
    n = r.size
    d = r - np.add.reduce(r) / n
    return math.sqrt(np.add.reduce(d * d) / n) * 1e4


def _median(xs: list[float]) -> float:
    """The median of a short list (plain Python: these lists hold two to four prices)."""
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def fair_value(index: float, own: float | None, others: list[float], p: MakerParams) -> float:
    """A maker's fair value from what it can observe as of the previous minute (settled rule 13a): a log-linear
    blend of the venue's index, its own book's last trade and the median of the other venues' perp mids, the
    weights renormalised over the terms it has."""
    terms = [(p.fair_weight_index, index), (p.fair_weight_own, own),
             (p.fair_weight_others, _median(others) if len(others) else None)]
    terms = [(w, x) for w, x in terms if w > 0 and x is not None and x > 0 and math.isfinite(x)]
    if not terms:
        return math.nan
    wsum = sum(w for w, _ in terms)
    return math.exp(sum(w * math.log(x) for w, x in terms) / wsum)


def stress_parts(prices, calm_vol_bps: float) -> tuple[float, float]:
    """(realised one-minute volatility, the window's net move) of a short price history, both in calm standard
    deviations (of a one-minute return, of a move over the window); (0, 0) with fewer than 3 prices."""
    return stress_parts_of_logs([math.log(p) for p in (float(q) for q in prices) if p > 0 and math.isfinite(p)],
                                calm_vol_bps)


def stress_parts_of_logs(lx: list[float], calm_vol_bps: float) -> tuple[float, float]:
    """stress_parts from the logs of the history's positive finite prices (the makers keep them beside their
    fair values: each is taken once, not once a minute for 16 minutes)."""
    if len(lx) < 3:
        return 0.0, 0.0
    r = [b - a for a, b in zip(lx, lx[1:])]
    mean = sum(r) / len(r)
    vol = math.sqrt(sum((q - mean) ** 2 for q in r) / len(r)) * 1e4 / calm_vol_bps
    drift = abs(lx[-1] - lx[0]) * 1e4 / (calm_vol_bps * math.sqrt(len(r)))
    return vol, drift


def requote_all(makers: list, t: int) -> None:
    """The makers' requotes of minute t, in turn (`MarketMaker.requote`); on numba books each venue's ladders are
    replaced in one kernel call: its desk, flushed when the next maker is on another venue and at the end, so a
    venue's events (its REJECT rows) reach its log before the next venue's makers act, as when each maker
    replaced its own ladders (the shared events.parquet receives the venues' spills in the same order)."""
    nb = _maker_nb()
    prev = None
    for mm in makers:
        if nb is not None and prev is not None and mm.venue is not prev:
            nb.desk(prev).flush()
        mm.requote(t, defer=True)
        prev = mm.venue
    if nb is not None and prev is not None:   # (every other venue's desk was flushed when its makers ended)
        nb.desk(prev).flush()


class MarketMaker(mesa.Agent):
    """Quotes ladders on one venue's perp books (settled rule 9: the other side of the warm-up) around a fair
    value it estimates from the books, the other venues and the index as of the previous minute (it does not
    see the fundamental: settled rule 13a); withdraws past its own stress threshold and comes back gradually;
    its account can itself be liquidated. The first maker of a venue also quotes its spot books."""

    def __init__(self, model, index: int, venue_name: str, rank: int = 0, n_on_venue: int = 1):
        super().__init__(model)
        cfg = model.cfg
        mp = cfg.makers
        self.venue = model.venues[venue_name]
        self.venue_name = venue_name
        self.vi = model.venue_names.index(venue_name)
        self.own_rng = stream(cfg.seed, "agent", "market_maker", index)
        self.account = self.venue.open_account()
        self.venue.deposit(self.account, cfg.mm_capital_usd)
        share = ((cfg.venue_scale or {}).get(venue_name) or {})
        scale = {a: share.get(a, 1.0) / n_on_venue for a in ASSETS}
        # thresholds spread over the venue's makers: the first to leave is the most nervous
        spread = mp.threshold_spread * ((rank / (n_on_venue - 1)) - 0.5) * 2.0 if n_on_venue > 1 else 0.0
        self.threshold = max(1.0 + 1e-9, cfg.mm_withdraw_threshold * (1.0 + spread))
        self.calm_vol = {a: max(1.0, cfg.vol_daily.get(a, 0.03) / math.sqrt(1440.0) * 1e4) for a in ASSETS}
        self.params = {a: QuoteParams(depth_usd=cfg.mm_depth_usd[a] * scale[a], withdraw_threshold=self.threshold,
                                      inventory_limit_usd=2.0 * cfg.mm_depth_usd[a] * scale[a],
                                      calm_vol_bps=self.calm_vol[a], levels=max(2, 10 // n_on_venue))
                       for a in ASSETS}
        for k, a in enumerate(self.venue.perp_names):
            # a leverage the tier table allows at the largest position its quotes and inventory limit can reach
            worst = self.params[a].depth_usd * 1.5 + self.params[a].inventory_limit_usd
            self.venue.set_leverage(self.account, k, min(10.0, self.venue.max_leverage(k, worst)))
        self.withdrawn_until = -1
        self.back_at = 0
        # the last 16 fair values per perp market: the same for every maker of the venue (the same observables
        # as of the same minute), so computed once a minute per venue (view) and shared
        shared = model.__dict__.setdefault("_maker_fair", {})
        self.fair_hist: list[list[float]] = shared.setdefault(self.vi, ([[] for _ in self.venue.perp_names], {}))[0]
        self.withdrawals: list[int] = []   # steps at which it pulled its perp quotes
        self.withdrawal_stress: list[float] = []   # the stress (calm standard deviations) that made it pull them
        self.spot_withdrawals: list[tuple[int, str]] = []   # (step, spot book) left empty for a minute
        # spot books on its venue (the CEX's BTC, ALT and synthetic dollar): the venue's first maker only
        self.spot_params = {}
        self.spot_mids: dict[str, list[float]] = {}
        for name in (self.venue.spot_names if rank == 0 else ()):
            depth = cfg.mm_synth_depth_usd if name == "SYNTH" else cfg.mm_depth_usd.get(name, 0.0) / 3.0
            price = 1.0 if name == "SYNTH" else cfg.initial_prices[name]
            if depth > 0:   # a book it does not quote (depth 0) needs no inventory
                self.venue.deposit(self.account, 2.0 * depth / price, asset=self.venue.params.spots[name].base)
            self.spot_params[name] = QuoteParams(depth_usd=depth, withdraw_threshold=cfg.mm_withdraw_threshold,
                                                 inventory_limit_usd=4.0 * depth, calm_vol_bps=5.0)
            self.spot_mids[name] = []

    def fair(self, k: int) -> float:
        """This minute's observation of fair value for perp market k from the previous minute's observables
        (settled rule 13a). Each book term is made robust to one stray print by a median with the index: its
        own book's median of (last trade, mid, index), the other venues' median of (their mids, index)."""
        model, v = self.model, self.venue
        prev = max(0, model.steps - 1)
        idx = float(v.index[k])
        own = [x for x in (float(model.ts_close[prev, self.vi, k]), float(model.ts_mid[prev, self.vi, k]))
               if math.isfinite(x)]
        own = _median(own + [idx]) if own else None
        mids = model.ts_mid[prev, :, k].tolist()
        others = [x for u, x in enumerate(mids) if u != self.vi and math.isfinite(x)]
        others = [_median(others + [idx])] if others else []
        return fair_value(idx, own, others, model.cfg.makers)

    def _view(self, t: int) -> tuple[list[float], list[tuple[float, float]]]:
        """This minute's fair value and stress parts (volatility, drift) per perp market, computed by the venue's
        first maker to requote and shared with the others (their observables are the same)."""
        view = self.model._maker_fair[self.vi][1]
        if view.get("t") == t:
            return view["fairs"], view["parts"]
        mp = self.model.cfg.makers
        fairs, parts = [], []
        # the logs of fair_hist's values (None for one that is not positive), kept beside it: _view alone
        # changes fair_hist
        logs_of = view.setdefault("logs", [[] for _ in self.venue.perp_names])
        for k, a in enumerate(self.venue.perp_names):
            obs = self.fair(k)
            hist, logs = self.fair_hist[k], logs_of[k]
            if not hist:
                fair = obs
            elif not math.isfinite(obs):
                fair = math.nan
            else:
                last = logs[-1] if logs[-1] is not None else math.log(hist[-1])
                fair = math.exp((1.0 - mp.fair_smoothing) * last + mp.fair_smoothing * math.log(obs))
            if math.isfinite(fair):
                hist.append(fair)
                del hist[:-16]
                logs.append(math.log(fair) if fair > 0 else None)
                del logs[:-16]
            fairs.append(fair)
            parts.append(stress_parts_of_logs([x for x in logs if x is not None], self.params[a].calm_vol_bps))
        view.update(t=t, fairs=fairs, parts=parts)
        return fairs, parts

    def requote(self, t: int, defer: bool = False) -> None:
        """Once a minute: update its fair values and their stress; withdraw past its threshold, come back
        after return_minutes once stress has eased (below 80% of the threshold) and grow back over
        ramp_minutes; otherwise re-post its ladders around the fair values, skewed by inventory. On numba books
        the ladders go to the venue's desk (agents/maker_nb.py), run before anything else it does there and at
        the end of the call; with `defer`, left there for the caller to flush (`requote_all`: the venue's makers'
        ladders in one kernel call)."""
        nb = _maker_nb()
        desk = nb.desk(self.venue) if nb is not None else None
        if desk is not None and self.spot_params:
            desk.flush()
        self.requote_spot(t)
        v, model = self.venue, self.model
        mp = model.cfg.makers
        fairs, parts = self._view(t)
        scale = self.threshold / mp.drift_threshold if math.isfinite(mp.drift_threshold) else 0.0
        stresses = [max(1.0, vol, drift * scale) for vol, drift in parts]
        worst = max(stresses) if stresses else 1.0
        if t < self.withdrawn_until or (self.withdrawn_until >= 0 and self.back_at < 0):
            if t < self.withdrawn_until or worst > 0.8 * self.threshold:
                if desk is not None:
                    desk.flush()
                self._quote_away_from_move(fairs, stresses)
                return
            self.back_at = t   # stress has eased: back, with a quarter of its size at first
        size = 1.0
        if self.back_at > 0 and mp.ramp_minutes > 0:
            size = min(1.0, 0.25 + 0.75 * (t - self.back_at) / mp.ramp_minutes)
        if worst > self.threshold:
            if desk is not None:
                desk.flush()
            v.cancel_all(self.account)
            self.withdrawn_until = t + model.cfg.mm_return_minutes
            self.back_at = -1
            self.withdrawals.append(t)
            self.withdrawal_stress.append(worst)
            self._quote_away_from_move(fairs, stresses)
            return
        for k, a in enumerate(v.perp_names):
            p = self.params[a]
            if p.depth_usd <= 0 or not math.isfinite(fairs[k]):
                continue
            fair = fairs[k]
            lot = v.books[k].lot_size
            inventory = v.position(self.account, k) * lot * fair
            if desk is not None:
                if desk.add(self.account, k, fair, float(inventory), stresses[k] * p.calm_vol_bps, p, size):
                    continue   # on numba books: the venue's ladders replaced in one kernel call (agents/maker_nb.py)
                desk.flush()
            v.replace_ladder(self.account, k, ladder_orders(fair, float(inventory), stresses[k] * p.calm_vol_bps, p,
                                                            size, lot, v.books[k].tick_size))   # cancel_all, post
        if desk is not None and not defer:
            desk.flush()

    def _quote_away_from_move(self, fairs: list[float], stresses: list[float]) -> None:
        """While withdrawn (withdraw_sides = against_move): per perp market, only the side the move does not run
        into (asks when its fair value fell over the stress window, bids when it rose), at the widest spreads
        it quotes (stress capped at its threshold) and calm size per level; nothing while the fair value is flat."""
        v = self.venue
        if self.model.cfg.makers.withdraw_sides != "against_move":
            return
        for k, a in enumerate(v.perp_names):
            p = self.params[a]
            hist = self.fair_hist[k]
            if p.depth_usd <= 0 or not math.isfinite(fairs[k]) or len(hist) < 2 or hist[-1] == hist[0]:
                v.cancel_all(self.account, k)
                continue
            keep = SELL if hist[-1] < hist[0] else BUY
            stress = min(stresses[k], self.threshold)
            lot = v.books[k].lot_size
            inventory = v.position(self.account, k) * lot * fairs[k]
            # the ladder at the widest spreads it quotes; its withdrawal check is off here (stress x calm / calm
            # can round a hair above the threshold the stress was capped at)
            bids, bsz, asks, asz = ladder(fairs[k], float(inventory), stress * p.calm_vol_bps,
                                          dataclasses.replace(p, withdraw_threshold=math.inf))
            px, usd = (asks, asz) if keep == SELL else (bids, bsz)
            tick = v.books[k].tick_size
            v.replace_ladder(self.account, k, [(keep, float(x), int(u * stress / (x * lot)))
                                                for x, u in zip(px, usd) if x >= tick])   # cancel_all, post_ladder

    def requote_spot(self, t: int) -> None:
        """Spot ladders around the venue's index as of the previous minute (the synthetic dollar: its
        redemption value, 1.00); asks limited to the inventory held; a book whose volatility passes the
        threshold is left empty this minute."""
        v, model = self.venue, self.model
        nb = _maker_nb() if self.spot_params else None
        for s, name in enumerate(v.spot_names):
            if name not in self.spot_params or self.spot_params[name].depth_usd <= 0:
                continue   # a book it does not quote
            book = v.spot_books[s]
            v.cancel_all_spot(self.account, s)
            mid = book.mid() or book.last_trade()
            hist = self.spot_mids[name]
            if mid is not None:
                hist.append(mid)
                del hist[:-15]
            fair = 1.0 if name == "SYNTH" else float(v.index[v.perp_names.index(name)])
            held = v.balance(self.account, v.params.spots[name].base)
            target = 2.0 * self.spot_params[name].depth_usd / fair
            if name == "SYNTH" and held - target > 0.5 * self.spot_params[name].inventory_limit_usd:
                # bought far more synthetic dollars than it quotes from: redeem the excess at 1.00 (lands
                # after the redemption delay), which frees its bid again
                if model.redeem(self, self.venue_name, self.account, held - target):
                    held = target
            inventory, vol = (held - target) * fair, realised_vol_bps(np.array(hist))
            r = None if nb is None else nb.requote_spot(v, self.account, s, fair, inventory, vol,
                                                        self.spot_params[name], held)   # agents/maker_nb.py
            if r is not None:
                if r < 0:
                    self.spot_withdrawals.append((t, name))
                continue
            orders = spot_orders(fair, inventory, vol, self.spot_params[name], held, book.lot_size, book.tick_size)
            if orders is None:
                self.spot_withdrawals.append((t, name))
                continue
            v.post_spot_ladder(self.account, s, orders)
