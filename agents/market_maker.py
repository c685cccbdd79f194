"""Market makers: the quoting rule (a pure function) and the agent that uses it.

A maker quotes a ladder of bids and asks around its fair value, skewed against its inventory; it widens and
cuts size as realised volatility and inventory grow, and withdraws entirely past a threshold (the thin books
of 10 October 2025: "market makers pulled quotes"; Vuorenmaa and Wang, JASSS 27(2):8, on inventory limits
and withdrawal speed setting the depth of flash crashes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import mesa
import numpy as np

from venues.orderbook import BUY, SELL

from .base import stream


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


def ladder(fair: float, inventory_usd: float, vol_bps: float, p: QuoteParams) -> tuple[np.ndarray, np.ndarray,
                                                                                         np.ndarray, np.ndarray]:
    """(bid prices, bid notionals, ask prices, ask notionals) in USD, best first; all empty when withdrawn.

    Stress s = vol / calm vol (at least 1): spreads and level steps scale with s, size per side with 1 / s.
    Inventory share u = inventory / limit in [-1, 1]: the ladder shifts by -u x skew (a long maker lowers its
    prices to sell), and the side that would add to the inventory shrinks by (1 - |u|) (none at the limit).
    """
    stress = max(1.0, vol_bps / p.calm_vol_bps)
    empty = np.zeros(0)
    if p.depth_usd <= 0:   # a market it does not quote
        return empty, empty, empty, empty
    if stress > p.withdraw_threshold or not (fair > 0 and math.isfinite(fair)):
        return empty, empty, empty, empty
    u = max(-1.0, min(1.0, inventory_usd / p.inventory_limit_usd))
    centre = fair * (1.0 - u * p.skew_bps * 1e-4)
    k = np.arange(p.levels)
    offsets = (p.half_spread_bps + k * p.level_step_bps) * stress * 1e-4
    bids = centre * (1.0 - offsets)
    asks = centre * (1.0 + offsets)
    per_level = p.depth_usd / p.levels / stress
    bid_size = np.full(p.levels, per_level * (1.0 - max(0.0, u)))
    ask_size = np.full(p.levels, per_level * (1.0 - max(0.0, -u)))
    return bids, bid_size, asks, ask_size


def realised_vol_bps(prices: np.ndarray) -> float:
    """Standard deviation of one-step log returns over the window, bps (0 with fewer than 3 prices)."""
    x = np.asarray(prices, dtype=float)
    x = x[np.isfinite(x) & (x > 0)]
    if x.size < 3:
        return 0.0
    return float(np.std(np.diff(np.log(x))) * 1e4)


ASSETS = ("BTC", "ALT")


class MarketMaker(mesa.Agent):
    """Quotes ladders on one venue's perp books (settled rule 9: the other side of the warm-up), withdraws
    past its volatility threshold and returns later; its account can itself be liquidated."""

    def __init__(self, model, index: int, venue_name: str):
        super().__init__(model)
        cfg = model.cfg
        self.venue = model.venues[venue_name]
        self.venue_name = venue_name
        self.own_rng = stream(cfg.seed, "agent", "market_maker", index)
        self.account = self.venue.open_account()
        self.venue.deposit(self.account, cfg.mm_capital_usd)
        self.params = {a: QuoteParams(depth_usd=cfg.mm_depth_usd[a], withdraw_threshold=cfg.mm_withdraw_threshold,
                                      inventory_limit_usd=2.0 * cfg.mm_depth_usd[a]) for a in ASSETS}
        for k, a in enumerate(self.venue.perp_names):
            # a leverage the tier table allows at the largest position its quotes and inventory limit can reach
            worst = self.params[a].depth_usd * 1.5 + self.params[a].inventory_limit_usd
            self.venue.set_leverage(self.account, k, min(10.0, self.venue.max_leverage(k, worst)))
        self.withdrawn_until = -1
        self.withdrawals: list[int] = []   # steps at which it pulled its perp quotes
        self.spot_withdrawals: list[tuple[int, str]] = []   # (step, spot book) left empty for a minute
        # spot books on its venue (the CEX's BTC, ALT and synthetic dollar): inventory to quote asks from
        self.spot_params = {}
        self.spot_mids: dict[str, list[float]] = {}
        for name in self.venue.spot_names:
            depth = cfg.mm_synth_depth_usd if name == "SYNTH" else cfg.mm_depth_usd.get(name, 0.0) / 3.0
            price = 1.0 if name == "SYNTH" else cfg.initial_prices[name]
            if depth > 0:   # a book it does not quote (depth 0) needs no inventory
                self.venue.deposit(self.account, 2.0 * depth / price, asset=self.venue.params.spots[name].base)
            self.spot_params[name] = QuoteParams(depth_usd=depth, withdraw_threshold=cfg.mm_withdraw_threshold,
                                                 inventory_limit_usd=4.0 * depth, calm_vol_bps=5.0)
            self.spot_mids[name] = []

    def requote(self, t: int) -> None:
        self.requote_spot(t)
        v, model = self.venue, self.model
        if t < self.withdrawn_until:
            return
        for k, a in enumerate(v.perp_names):
            fair = model.reference[a]
            lot = v.books[k].lot_size
            # volatility over the last 15 minutes, but only since it last came back: the minutes it was away
            # (an empty, jumpy book) do not count, or it would leave again at once
            window = model.mid_history(self.venue_name, k, max(0, min(15, t - max(self.withdrawn_until, 0))))
            vol = realised_vol_bps(window)
            inventory = v.position(self.account, k) * lot * fair
            bids, bsz, asks, asz = ladder(fair, float(inventory), vol, self.params[a])
            v.cancel_all(self.account, k)
            if bids.size == 0:
                v.cancel_all(self.account)
                self.withdrawn_until = t + model.cfg.mm_return_minutes
                self.withdrawals.append(t)
                return
            ladder_orders = [(BUY, float(px), int(usd / (px * lot))) for px, usd in zip(bids, bsz)]
            ladder_orders += [(SELL, float(px), int(usd / (px * lot))) for px, usd in zip(asks, asz)]
            v.post_ladder(self.account, k, ladder_orders)

    def requote_spot(self, t: int) -> None:
        """Spot ladders around the reference (the synthetic dollar: its redemption value, 1.00); asks limited
        to the inventory held; a book whose volatility passes the threshold is left empty this minute."""
        v, model = self.venue, self.model
        for s, name in enumerate(v.spot_names):
            if self.spot_params[name].depth_usd <= 0:
                continue   # a book it does not quote
            book = v.spot_books[s]
            for oid in book.orders_of(self.account):
                v.cancel_spot(self.account, oid, s)
            mid = book.mid() or book.last_trade()
            hist = self.spot_mids[name]
            if mid is not None:
                hist.append(mid)
                del hist[:-15]
            fair = 1.0 if name == "SYNTH" else model.reference[name]
            held = v.balance(self.account, v.params.spots[name].base)
            target = 2.0 * self.spot_params[name].depth_usd / fair
            if name == "SYNTH" and held - target > 0.5 * self.spot_params[name].inventory_limit_usd:
                # bought far more synthetic dollars than it quotes from: redeem the excess at 1.00 (lands
                # after the redemption delay), which frees its bid again
                if model.redeem(self, self.venue_name, self.account, held - target):
                    held = target
            bids, bsz, asks, asz = ladder(fair, (held - target) * fair, realised_vol_bps(np.array(hist)),
                                          self.spot_params[name])
            if bids.size == 0:
                self.spot_withdrawals.append((t, name))
                continue
            lot = book.lot_size
            orders = [(BUY, float(px), int(usd / (px * lot))) for px, usd in zip(bids, bsz)]
            left = held
            for px, usd in zip(asks, asz):
                n = int(min(usd / px, left) / lot)
                if n > 0:
                    orders.append((SELL, float(px), n))
                    left -= n * lot
            v.post_spot_ladder(self.account, s, orders)
