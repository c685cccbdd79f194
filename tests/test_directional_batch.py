"""The directional traders' orders through compiled batches (agents/directional.py: DirectionalPopulation.decide
and .exits, venues/batch_nb.py: submit_venue_batch) against the per-trader path (one `submit_order` per trader,
DirectionalTrader.exit): two models built alike with every venue book an OrderBookNB, one with the population's
`batched` off, run minute by minute through an oct10 shock; after every minute each venue's clearinghouse arrays
and ledgers, books' buffers, event columns, and the population's stops, armed exits and next decisions are
compared bit for bit. Two worlds: the default bands (IOC entries and exits, stops for all), and market orders
with half the traders without stops (exits armed by their horizon), stops on the last trade and a venue halted
through part of the shock (its traders go order by order: entries rejected, exits not sent); and makers who pull
both sides, so that exits meet empty sides and are not sent."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("numba")

import venues.venue  # noqa: E402
from agents.directional import DirectionalPopulation  # noqa: E402
from run import build_model  # noqa: E402
from venues import events as ev  # noqa: E402
from venues import batch_nb  # noqa: E402
from venues.orderbook_nb import OrderBookNB  # noqa: E402

BASE = ["population=small", "steps=170", "warmup_minutes=30", "dashboard=false", "progress=false",
        "population.directional.count=600", "population.directional.mean_wait_minutes=30"]
WORLDS = {
    "ioc_bands": BASE,
    "market_horizon_halt": BASE + ["population.directional.entry_band_pct=null",
                                   "population.directional.exit_band_pct=null",
                                   "population.directional.stop_share=0.5",
                                   "population.directional.stop_trigger=last", "halt=binance",
                                   "venues.binance.halt=[100,130]"],
    # makers who pull both sides at the first move and no limit-order traders: books with an empty side, where
    # exits are not sent (and re-tried each minute)
    "empty_sides": BASE + ["population.market_makers.withdraw_threshold=1.01",
                           "population.market_makers.withdraw_sides=both", "population.market_makers.return_minutes=60",
                           "population.liquidity.per_market=0"],
}


def state(m) -> dict:
    out = {}
    for name, v in m.venues.items():
        ch = v.ch
        n = ch.n
        for k in ("bal", "lots", "qty", "entry", "iso_margin", "leverage", "open_buy", "open_sell"):
            out[f"{name}.{k}"] = getattr(ch, k)[:n].tobytes()
        out[f"{name}.oi"] = (list(ch.oi_long_lots), list(ch.oi_short_lots))
        for k in ("fees_kept", "insurance", "bad_debt", "deposits", "withdrawals"):   # values (a float or an
            out[f"{name}.{k}"] = np.array(getattr(ch, k), dtype=np.float64).tobytes()  # np.float64 alike)
        out[f"{name}.volume"] = v.volume_usd.tobytes()
        for k, b in enumerate(v.books + v.spot_books):
            out[f"{name}.book{k}"] = b._M.tobytes()
        out[f"{name}.events"] = {c: a.tobytes() for c, a in v.events.columns().items()}
    out["stops"] = (m.stop_lo.tobytes(), m.stop_hi.tobytes(), m.exit_armed.tobytes(),
                    m.directional.next_at.tobytes())
    return out


@pytest.mark.slow
@pytest.mark.parametrize("world", sorted(WORLDS))
def test_batched_directional_orders_equal_the_per_trader_path(world, monkeypatch):
    monkeypatch.setattr(venues.venue, "OrderBook", OrderBookNB)
    sent = {"calls": 0, "orders": 0, "not_sent": 0, "exits": 0}
    real = batch_nb.submit_venue_batch

    def counted(v, accs, ms, sides, lots, limits, kinds, ro, need):
        out = real(v, accs, ms, sides, lots, limits, kinds, ro, need)
        sent["calls"] += 1
        sent["orders"] += len(accs)
        sent["exits"] += int(need.sum())
        sent["not_sent"] += int((out[2] == batch_nb.NOT_SENT).sum())
        return out

    monkeypatch.setattr(batch_nb, "submit_venue_batch", counted)
    a = build_model(WORLDS[world])
    b = build_model(WORLDS[world])
    b.directional.batched = False
    assert a.directional.batched and DirectionalPopulation.batched
    assert state(a) == state(b)
    for t in range(a.cfg.steps):
        a.step()
        calls = sent["calls"]
        b.step()
        assert sent["calls"] == calls   # the per-trader model never batches
        sa, sb = state(a), state(b)
        diff = [k for k in sa if sa[k] != sb[k]]
        assert not diff, (t, diff)
    print(world, sent)
    assert sent["calls"] > 100 and sent["orders"] > 1000 and sent["exits"] > 50, sent
    if world == "empty_sides":
        assert sent["not_sent"] > 100 and sent["exits"] - sent["not_sent"] > 20, sent
    assert sum(v.events.count(ev.LIQUIDATION) for v in a.venues.values()) > 0   # a cascade ran through
    if world == "market_horizon_halt":
        binance = a.venues["binance"].events.columns()
        halted = (binance["kind"] == ev.REJECT) & (binance["info"] == ev.REASON_CODE["halted"])
        assert halted.any()   # the halted venue's entries went order by order and were refused
