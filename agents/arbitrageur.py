"""Arbitrageurs: capital-limited traders who close gaps between a venue's perp and the index, hedging in the
outside spot market (their flow moves the outside reference, settled rule 4), and who buy the synthetic
dollar below its peg to redeem it at 1.00 after a delay (which pulls its price back).

A gap is traded when it exceeds the venue's taker fee, the outside market's fee and the arbitrage threshold;
the position is unwound when the gap is back inside half that band. Each arbitrageur holds margin on every
venue it trades; moving it between venues is subject to the same transfer delay as anyone's.
"""

from __future__ import annotations

import math

import mesa

from venues.orderbook import BUY, SELL

from .base import stream, take
from .params import ArbParams  # noqa: F401  (defined there, without Mesa: conf/schema.py reads them)


def gap_side(bid: float | None, ask: float | None, index: float, band: float) -> int:
    """SELL the perp when its best bid (price, None on an empty side) is above index x (1 + band) (rich: the bid
    can be hit at more than the band above the index), else BUY when its best ask is below index x (1 - band)
    (cheap), else 0. `band` a fraction: the taker fee plus the outside fee and the threshold."""
    if bid is not None and bid > index * (1 + band):
        return SELL
    if ask is not None and ask < index * (1 - band):
        return BUY
    return 0


def peg_ladder(budget_usd: float, threshold: float, levels: int) -> list[tuple[float, float]]:
    """(price, USD) bids for the synthetic dollar: level j at a discount of threshold x 2^j (0.5%, 1%, 2%, ...
    for a 0.5% threshold), the budget split evenly: a capital-limited buyer keeps dollars back for deeper
    discounts. Levels whose price would be at or below zero are dropped."""
    if budget_usd <= 0 or levels <= 0:
        return []
    out = [(1.0 - threshold * 2.0**j, budget_usd / levels) for j in range(levels)]
    return [(px, usd) for px, usd in out if px > 0]


def hedge_cap_usd(perp_px: float, outside_px: float, band: float, depth_usd: float, share: float) -> float:
    """Largest hedge, USD, whose impact leaves the outside price at most `share` of the way from where it stands
    (`outside_px`) to the perp's price less the band: depth x share x max(0, |log(perp / outside)| - log(1 + band)).
    Without it every arbitrageur hedges its full clip on the same signal and the outside price overshoots."""
    if not (perp_px > 0 and outside_px > 0):
        return 0.0
    return depth_usd * share * max(0.0, abs(math.log(perp_px / outside_px)) - math.log1p(band))


def clip_lots(gap_usd_value: float, clip_usd: float, room_usd: float, price: float, lot: float) -> int:
    """Lots of one arbitrage trade: the smaller of the clip and the room left under the position limit."""
    usd = min(clip_usd, room_usd, gap_usd_value)
    if usd <= 0 or price <= 0:
        return 0
    return int(usd / (price * lot))

class Arbitrageur(mesa.Agent):
    """An arbitrageur with an account on every venue; acts every minute (its own schedule)."""

    def __init__(self, model, index: int, params: ArbParams):
        super().__init__(model)
        self.index = index
        self.own_rng = stream(model.cfg.seed, "agent", "arbitrageur", index)
        self.p = params
        self.accounts: dict[str, int] = {}
        share = params.capital_usd / len(model.venues)
        for name, v in model.venues.items():
            acct = v.open_account()
            v.deposit(acct, share)
            for k in range(v.M):
                v.set_leverage(acct, k, min(params.leverage, v.max_leverage(k, params.max_position_usd)))
            self.accounts[name] = acct
        self._peg_posted: dict[str, list[int]] = {}   # venue -> ids of the peg bids it last posted
        self._peg_book: dict[str, tuple | None] = {}    # venue -> (spot index, book) of SYNTH, or None

    def act(self) -> None:
        # Reads hoisted out of the inner loop (the same values: a venue's index and the account's positions do not
        # change within this call except by its own orders, each in its own market); the outside price and depth
        # are read only where a branch uses them.
        model, p = self.model, self.p
        extra = (p.outside_fee_bps + p.threshold_bps) * 1e-4
        depths = model.cfg.outside_depth_usd
        for name, v in model.venues.items():
            acct = self.accounts[name]
            if v.halted:
                continue
            band = v.fee_taker + extra
            up, dn = 1 + band, 1 - band   # (gap_side's bounds: the same floats)
            indexes = v.index.tolist()
            # its positions, read once: its orders in one market change no other market's position
            held = v.ch.lots[acct].tolist() if hasattr(v, "ch") else \
                [v.position(acct, k) for k in range(len(v.perp_names))]
            for k, asset in enumerate(v.perp_names):
                book = v.books[k]
                bb, ba = book.best_bid(), book.best_ask()
                index = indexes[k]
                tick = book.tick_size
                gap = gap_side(None if bb is None else bb * tick, None if ba is None else ba * tick, index, band)
                if gap == SELL:                                                         # perp rich: sell it
                    lot = book.lot_size
                    pos_usd = held[k] * lot * index
                    room = p.max_position_usd + pos_usd
                    cap = hedge_cap_usd(bb * tick, model.outside_price(asset), band, depths[asset],
                                        p.hedge_impact_share)
                    n = clip_lots(cap, p.clip_usd, room, bb * tick, lot)
                    if n:
                        filled = take(v, acct, k, SELL, n, index * up, "ioc")
                        model.outside_flow(asset, +filled * lot * index)                 # hedge: buy outside
                elif gap == BUY:                                                        # perp cheap: buy it
                    lot = book.lot_size
                    pos_usd = held[k] * lot * index
                    room = p.max_position_usd - pos_usd
                    cap = hedge_cap_usd(ba * tick, model.outside_price(asset), band, depths[asset],
                                        p.hedge_impact_share)
                    n = clip_lots(cap, p.clip_usd, room, ba * tick, lot)
                    if n:
                        filled = take(v, acct, k, BUY, n, index * dn, "ioc")
                        model.outside_flow(asset, -filled * lot * index)                 # hedge: sell outside
                elif bb is not None and ba is not None:
                    pos = held[k]
                    if pos == 0:
                        continue
                    mid = 0.5 * (bb + ba) * tick
                    if abs(mid / index - 1.0) < band / 2:                           # gap closed: unwind
                        # the unwind's outside trade (buy back a short hedge when long the perp, and the
                        # reverse) may move the outside price at most the share of half the band this minute
                        lot = book.lot_size
                        sign = 1.0 if pos > 0 else -1.0
                        moved = sign * math.log(model.outside_price(asset) / model.reference[asset])
                        cap = depths[asset] * p.hedge_impact_share * max(0.0, 0.5 * band - moved)
                        n = min(abs(pos), clip_lots(cap, p.clip_usd, p.clip_usd, mid, lot))
                        if n:
                            side = SELL if pos > 0 else BUY
                            filled = take(v, acct, k, side, n, None, "market", reduce_only=True)
                            model.outside_flow(asset, sign * filled * lot * index)
            self._peg(name, v, acct)
        model.schedule_event(self.act, after=1.0)

    def _peg(self, name: str, v, acct: int) -> None:
        """Bid for the synthetic dollar below its peg and send what it bought to redemption (USD at 1.00 after
        the delay): `peg_ladder`, a capital-limited ladder that asks a larger discount for its deeper dollars.
        Capital tied up in redemption is not bid again until it lands. The ladder is left in place (keeping its
        queue priority) while none of it has filled; after a fill it is cancelled, re-sized and posted again.
        """
        spot = self._peg_book.get(name, False)
        if spot is False:   # the venue's synthetic-dollar book (index, book), or None: fixed for a venue
            spot = self._peg_book[name] = (v.spot_index("SYNTH"), v.spot_books[v.spot_index("SYNTH")]) \
                if "SYNTH" in v.spot_names else None
        if spot is None:
            return
        s, book = spot
        held = v.balance(acct, "SYNTH")
        resting = book.orders_of(acct)
        if held < book.lot_size and resting and resting == self._peg_posted.get(name):
            return   # none of the ladder has filled: the bids stay where they are, keeping their queue priority
        for oid in resting:
            v.cancel_spot(acct, oid, s)
        if held >= book.lot_size:
            self.model.redeem(self, name, acct, held)
        p = self.p
        budget = min(p.peg_budget_usd, 0.5 * v.withdrawable(acct))
        # the bids in turn as one post_spot_ladder (the results and events of submit_spot_order(kind="limit")
        # sent in turn, with one balance check while the ladder fits: it asks at most half of what may leave)
        bids = []
        for px, usd in peg_ladder(budget, p.peg_threshold, p.peg_levels):
            lots = int(usd / (px * book.lot_size))
            if lots > 0:
                bids.append((BUY, px, lots))
        if bids:
            v.post_spot_ladder(acct, s, bids)
        self._peg_posted[name] = book.orders_of(acct)
