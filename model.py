"""The model: `ModelConfig` (a run's plain settings) and `CascadeModel(AgendaModel, mesa.Model)` (agenda.py), the siloed venues and the
agents on them under the exogenous fundamentals (fundamentals.py), stepped a minute at a time (the step's order
is in `CascadeModel.step`). A run's metrics are computed from the model afterwards (metrics.py).

Re-exported for code that imports them from here: ASSETS (venues/params.py), ShockScript, fundamental_paths,
shock_start, stream (fundamentals.py) and compute_metrics (metrics.py).
"""

from __future__ import annotations

import gc
import math
from contextlib import contextmanager
from dataclasses import dataclass

import mesa
import numpy as np

# the compiled order paths (else imported on their first use): their kernels load from numba's cache with their
# modules (venues/nb_cache.py), at import, not inside a run's first minutes
import agents.maker_nb  # noqa: F401
import venues.batch_nb  # noqa: F401
import venues.ladder_nb  # noqa: F401
import venues.orders_nb  # noqa: F401
from agenda import AgendaModel
from agents.base import stream_words
from agents.arbitrageur import Arbitrageur, ArbParams
from agents.directional import DirectionalParams, DirectionalPopulation, DirectionalTrader, draw_leverage
from agents.directional_nb import k_stops_due
from agents.farmer import Farmer, FarmerParams, FarmWatch, Incentives, pair_yield_per_day
from agents.liquidity import LimitTrader, LiquidityParams, ValueParams, ValueTrader
from agents.market_maker import MakerParams, MarketMaker, requote_all
try:   # the directional traders' streams as one array; without numba's copy of numpy's ziggurat tables (a private
    # module of numba's), each trader's own Generator: the same numbers (DirectionalTrader.own_rng)
    from agents.streams_nb import Streams
except ImportError:   # pragma: no cover
    Streams = None
from fundamentals import ShockScript, fundamental_paths, shock_start, stream
from metrics import compute_metrics
from venues.adl import AdlCounterfactuals
from venues.orderbook import BUY, SELL
from venues.params import ASSETS
from venues.presets import load_preset
from venues.prices import weighted_median
from venues.venue import Venue

__all__ = ["ASSETS", "CascadeModel", "ModelConfig", "ShockScript", "compute_metrics", "fundamental_paths",
           "shock_start", "stream"]


@dataclass(kw_only=True)
class ModelConfig:
    """A run's plain settings, made only from the validated run config (conf/schema.py `RunConfig.model_config`):
    no defaults of its own, so Python and the command line build the same world. From Python:
    `run.build_model(overrides)` (the model) or `run.model_config(run.compose_config(overrides))` (this config),
    with the command line's override syntax; `dataclasses.replace` changes a field past what the config has."""

    seed: int
    steps: int
    scenario: str
    check_invariants: bool
    warmup_minutes: int
    venues: dict
    """name -> {"params": VenueParams} (the schema's), or {"preset": str, "overrides": dict}."""
    halts: dict | None
    """venue name -> (start, end) minutes of a halt window (settled rule 8)."""
    initial_prices: dict
    vol_daily: dict
    correlation: float
    shock_tail_df: float
    n_market_makers: int
    n_directional: int
    directional_btc_share: float
    """Share of directional traders on the major (the rest on the alt)."""
    mm_depth_usd: dict
    """Quoted notional per side per venue, USD, by asset (BTC deep, ALT thin)."""
    mm_capital_usd: float
    mm_withdraw_threshold: float
    mm_return_minutes: int
    directional: DirectionalParams
    n_farmers: int
    farmers: FarmerParams
    incentives: dict
    """venue name -> Incentives (points per USD of volume and per USD of open interest per hour)."""
    point_value_usd: float
    """USD value of one point (the farmers' expected yield uses it)."""
    transfer_delay_minutes: float
    """Minutes between a withdrawal leaving one venue and its deposit landing on another."""
    n_arbitrageurs: int
    arbitrageurs: ArbParams
    outside_depth_usd: dict
    """Notional that moves the outside reference by 1 (log) at once, USD, by asset (impact rule, settled rule 4)."""
    outside_impact_decay: float
    """Share of the outside impact left after a minute (half-life about 6.6 minutes)."""
    synth_holder_share: float
    """Share of directional traders on a venue accepting the synthetic dollar who post it as collateral."""
    synth_wave_usd: float
    """oct10: synthetic dollars sold at market on the CEX's spot book over the shock's fall (exogenous)."""
    synth_wave_floor: float
    """Lowest price the oct10 seller of the synthetic dollar accepts; what it cannot sell waits a minute."""
    mm_synth_depth_usd: float
    """Quoted notional per side on the synthetic dollar's spot book, USD."""
    shock: ShockScript
    """The shock's script (the oct10 scenario uses it)."""
    adl_counterfactuals: bool
    """Record what adl_haircut's rules would have taken on each ADL event (experiment venue_designs)."""
    adl_cap_pct: float
    """Cap of the capped pro-rata counterfactual, percent of a winner's profit."""
    makers: MakerParams
    """The makers' fair value, stress and return (agents/market_maker.py)."""
    liquidity: LiquidityParams
    """Limit-order traders resting far from the mid (agents/liquidity.py)."""
    value: ValueParams
    """Value traders, the only agents that see the fundamental (agents/liquidity.py)."""
    venue_scale: dict | None
    """venue name -> asset -> depth of its makers and far liquidity relative to the population's (1 if absent)."""
    index_weights: dict
    """venue name -> {"outside": w, "spot": w}: weights of the outside reference and of each spot book's mid in
    that venue's index (settled rule 4); default 2 and 1."""


_FROZEN_AT_IMPORT = gc.get_freeze_count()


@contextmanager
def _heap_frozen():
    """While the model runs, the objects alive when it started (the model, its agents, venues, books and their
    ledgers: tens of thousands) are left out of the cyclic garbage collector's passes (gc.freeze), and handed back
    to it after (gc.unfreeze): the collector's full passes over them cost about 2% of a default day and free
    nothing, as they are all in use. Nothing is collected differently, only later; results are unchanged. Left
    alone when something else has frozen objects since this module was imported (their owner unfreezes them;
    the interpreter itself may freeze a few hundred at start-up, which gc.unfreeze hands back with the rest)."""
    if gc.get_freeze_count() > _FROZEN_AT_IMPORT:
        yield
        return
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


class CascadeModel(AgendaModel, mesa.Model):
    """Siloed perp venues and the agents trading on them (makers, directional traders, farmers, arbitrageurs,
    limit-order and value traders) around exogenous fundamentals (settled rule 13); one step is one minute."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(rng=cfg.seed)
        self.cfg = cfg
        mesa_step = self.step                      # Mesa's wrapper: advance the clock one minute, run its events

        def step() -> None:
            self._check_room(self.steps + 1)
            mesa_step()
        self.step = step
        T = cfg.steps
        self.fund_paths = fundamental_paths(cfg.seed, T + 1, {a: cfg.initial_prices[a] for a in ASSETS},
                                            cfg.vol_daily, cfg.correlation, cfg.shock_tail_df,
                                            cfg.shock if cfg.scenario == "oct10" else None)
        self.venues: dict[str, Venue] = {}
        for vid, (name, spec) in enumerate(cfg.venues.items()):
            params = spec.get("params") or load_preset(spec["preset"], spec.get("overrides"), where=f"venues.{name}")
            self.venues[name] = Venue(name, params, cfg.initial_prices, venue_id=vid, capacity=cfg.n_directional + 64)
        self.reference = {a: cfg.initial_prices[a] for a in ASSETS}
        self.outside_impact = {a: 0.0 for a in ASSETS}      # log impact of agents' outside flow, decaying
        self._outside_flow = {a: 0.0 for a in ASSETS}       # USD bought (+) / sold (-) outside since last step
        self.redemptions: list[tuple[float, str, int, float]] = []   # (arrival, venue, account, USD)
        self.venue_names = list(self.venues)
        self.halts = {n: tuple(w) for n, w in (cfg.halts or {}).items()}
        if cfg.adl_counterfactuals:
            for v in self.venues.values():
                v.waterfall.counterfactuals = AdlCounterfactuals(cfg.adl_cap_pct)
        V = len(self.venue_names)
        # time series, preallocated for the run (settled rule 12)
        self.ts_mid = np.full((T + 1, V, len(ASSETS)), np.nan)        # at the end of the minute
        self.ts_mid_quote = np.full((T + 1, V, len(ASSETS)), np.nan)  # just after the makers' requote
        # book trades per minute (settled rule 13d): open, high, low, close (NaN in a minute without a trade)
        self.ts_open = np.full((T + 1, V, len(ASSETS)), np.nan)
        self.ts_high = np.full((T + 1, V, len(ASSETS)), np.nan)
        self.ts_low = np.full((T + 1, V, len(ASSETS)), np.nan)
        self.ts_close = np.full((T + 1, V, len(ASSETS)), np.nan)
        self.ts_mark = np.full((T + 1, V, len(ASSETS)), np.nan)
        self.ts_index = np.full((T + 1, V, len(ASSETS)), np.nan)
        self.ts_oi_usd = np.zeros((T + 1, V, len(ASSETS)))
        self.ts_fundamental = np.stack([self.fund_paths[a] for a in ASSETS], axis=1)
        self.conservation_error_rel = 0.0 if cfg.check_invariants else None   # None: nothing was checked
        self.ts_insurance = np.zeros((T + 1, V))
        self.ts_vault_equity = np.zeros((T + 1, V))
        self.ts_funding_hour = np.zeros((T + 1, V, len(ASSETS)))
        self.ts_depth1 = np.zeros((T + 1, V, len(ASSETS)))
        self.ts_depth5 = np.zeros((T + 1, V, len(ASSETS)))
        self.ts_naked_usd = np.zeros(T + 1)
        self.ts_liquidated_usd = np.zeros((T + 1, V))   # per step and venue: liquidated notional (all stages)
        self.ts_adl_usd = np.zeros((T + 1, V))          # per step and venue: ADL notional
        self._liq_seen = np.zeros(V)
        # cumulative per venue and market: liquidated notional, of it longs, traded perp notional (differences
        # between steps give the per-minute flows the validation statistics use)
        self.ts_liq_cum = np.zeros((T + 1, V, len(ASSETS)))
        self.ts_liq_long_cum = np.zeros((T + 1, V, len(ASSETS)))
        self.ts_volume_cum = np.zeros((T + 1, V, len(ASSETS)))
        self.ts_liq_book_cum = np.zeros((T + 1, V, len(ASSETS)))
        self._adl_seen = np.zeros(V)
        self.ts_synth_mid = np.full(T + 1, np.nan)   # the synthetic dollar's spot mid on the CEX (its market oracle)
        self.ts_in_flight = np.zeros(T + 1, dtype=np.int64)
        self.transfers: list[tuple[float, int, str, int, float]] = []   # (arrival, farmer, venue, account, USD)
        self.transfer_log: list[tuple] = []                               # (step, farmer, from, to, USD, arrival)
        self.broken_log: list[tuple[int, int, str]] = []                  # (step, farmer, venue of the closed leg)
        per_venue = [len(range(u, cfg.n_market_makers, V)) for u in range(V)]
        self.makers = [MarketMaker(self, k, self.venue_names[k % V], rank=k // V, n_on_venue=per_venue[k % V])
                       for k in range(cfg.n_market_makers)]
        self._build_slow_liquidity()
        self._build_directional()
        self._build_farmers()
        self.arbs = [Arbitrageur(self, k, cfg.arbitrageurs) for k in range(cfg.n_arbitrageurs)]
        for a in self.arbs:
            self.schedule_event(a.act, at=0.75)
        self._build_synth_wave()
        for name, v in self.venues.items():
            self.ts_mid[0, self.venue_names.index(name)] = v.mid
        requote_all(self.makers, 0)
        for lt in self.limit_traders:
            lt.replace()

    # ------------------------------------------------------------------ populations
    def _build_slow_liquidity(self) -> None:
        """Limit-order traders and value traders on every venue and perp market (agents/liquidity.py)."""
        cfg = self.cfg
        lp, vp = cfg.liquidity, cfg.value
        scale = cfg.venue_scale or {}
        self.limit_traders: list[LimitTrader] = []
        self.value_traders: list[ValueTrader] = []
        for name, v in self.venues.items():
            for k, a in enumerate(v.perp_names):
                depth = lp.depth_usd.get(a, 0.0) * (scale.get(name) or {}).get(a, 1.0)
                for _ in range(lp.per_market if depth > 0 else 0):
                    self.limit_traders.append(LimitTrader(self, len(self.limit_traders), name, k,
                                                          depth / lp.per_market, lp))
                cap = vp.capital_usd.get(a, 0.0)   # capital goes where prices are wrong: not scaled by the venue
                for _ in range(vp.per_market if cap > 0 else 0):
                    tr = ValueTrader(self, len(self.value_traders), name, k, a, cap, vp)
                    self.value_traders.append(tr)
                    self.schedule_event(tr.act, at=1.0 + float(tr.own_rng.uniform(0.0, vp.act_minutes)))

    def _build_directional(self) -> None:
        cfg = self.cfg
        n = cfg.n_directional
        p = cfg.directional
        rng = stream(cfg.seed, "population", "directional")
        capital = rng.lognormal(math.log(p.capital_median_usd), p.capital_sigma, n)
        leverage = draw_leverage(rng, n, p, cap=200.0)
        venue_idx = rng.integers(0, len(self.venue_names), n)
        market = np.where(rng.random(n) < cfg.directional_btc_share, "BTC", "ALT")
        momentum = rng.random(n) < p.momentum_share
        first = rng.uniform(0, max(1, cfg.warmup_minutes), n)
        synth = rng.random(n) < cfg.synth_holder_share
        stops = rng.random(n) < p.stop_share
        self.stop_venue = venue_idx.astype(np.int16)
        self.stop_market = np.where(market == "BTC", 0, 1).astype(np.int16)
        self.exit_armed = np.zeros(n, dtype=bool)   # settled rule 13c: an exit stays armed until closed
        # the stops as a band: a trigger price at or below stop_lo or at or above stop_hi fires (a long's
        # stop-loss is its low, a short's its high; none set: an infinite band)
        self.stop_lo = np.full(n, -np.inf)
        self.stop_hi = np.full(n, np.inf)
        # each trader's own stream (settled rule 10), its seed words for all of them in one pass (agents/base.py)
        # and their generators' states as one array, drawn from in compiled calls (agents/streams_nb.py)
        words = stream_words(cfg.seed, ("agent", "directional"), np.arange(n))
        if Streams is not None:
            self.directional_streams = Streams(words)
        else:   # pragma: no cover
            self.directional_words = words
        self.traders = []
        for k in range(n):
            tr = DirectionalTrader(self, k, self.venue_names[venue_idx[k]], str(market[k]), float(capital[k]),
                                   float(leverage[k]), bool(momentum[k]), bool(synth[k]), bool(stops[k]))
            self.traders.append(tr)
        # they decide together once a minute, at its half (agents/directional.py)
        self.directional = DirectionalPopulation(self, self.traders, first + 0.5)
        if n:
            self.schedule_event(self.directional.act, at=0.5)
        self.synth_holders = [tr for tr in self.traders if tr.synth]
        self._depeg_alarm = False

    def _build_farmers(self) -> None:
        cfg = self.cfg
        n = cfg.n_farmers
        p = cfg.farmers
        rng = stream(cfg.seed, "population", "farmers")
        capital = rng.lognormal(math.log(p.capital_median_usd), p.capital_sigma, n)
        if p.leverage_dist == "loguniform":
            leverage = np.exp(rng.uniform(math.log(p.leverage_min), math.log(p.leverage_max), n))
        else:
            leverage = rng.uniform(p.leverage_min, p.leverage_max, n)
        hurdle = rng.exponential(p.hurdle_daily_pct_mean / 100.0, n)
        first = rng.uniform(0, max(1, cfg.warmup_minutes), n)
        self.farmers: list[Farmer] = []
        self.farmer_words = stream_words(cfg.seed, ("agent", "farmer"), np.arange(n))   # their own streams
        self.farm_watch = FarmWatch(self)   # broken hedges and margin alerts (agents/farmer.py)
        for k in range(n):
            f = Farmer(self, k, float(capital[k]), float(leverage[k]), float(hurdle[k]))
            self.farmers.append(f)
            self.schedule_event(f.consider_entry, at=float(first[k]) + 0.5)

    def _build_synth_wave(self) -> None:
        """oct10's exogenous seller of the synthetic dollar on the CEX's spot book (MECHANICS: USDe on Binance)."""
        self.wave = None
        cfg = self.cfg
        if cfg.scenario != "oct10" or cfg.synth_wave_usd <= 0:
            return
        for name, v in self.venues.items():
            if "SYNTH" in v.spot_names:
                acct = v.open_account()
                v.deposit(acct, cfg.synth_wave_usd, asset="SYNTH")
                per_min = cfg.synth_wave_usd / max(1, cfg.shock.fall_minutes)
                self.wave = (name, acct, per_min)
                self.wave_sold = 0.0
                return

    def outside_flow(self, asset: str, usd: float) -> None:
        """Agents' buying (+) or selling (-) in the outside spot market, USD; moves the reference next step."""
        self._outside_flow[asset] += usd

    def outside_price(self, asset: str) -> float:
        """The outside spot price as it stands now: the reference moved by the flow sent to it so far this minute
        (the same impact rule, applied at once for those trading there; the recorded reference moves next step)."""
        return self.reference[asset] * math.exp(self._outside_flow[asset] / self.cfg.outside_depth_usd[asset])

    def redeem(self, agent, venue_name: str, account: int, qty: float) -> bool:
        """Send synthetic dollars to redemption: they leave the venue now, USD 1.00 each lands after the delay."""
        v = self.venues[venue_name]
        if not v.withdraw(account, qty, asset="SYNTH"):
            return False
        self.redemptions.append((self.steps + self.cfg.arbitrageurs.redemption_minutes, venue_name, account, qty))
        return True

    def pair_yields(self, market: str, hold_days: float) -> np.ndarray:
        """Expected daily yield per USD of notional for each (long venue, short venue) pair (agents/farmer.py)."""
        vs = list(self.venues.values())
        none = Incentives()
        inc = [self.cfg.incentives.get(name, none) for name in self.venue_names]
        rate_h = [float(v.last_funding_rate[v.market_index(market)]) / v.params.funding_interval_hours for v in vs]
        y = np.zeros((len(vs), len(vs)))
        for a in range(len(vs)):
            for b in range(len(vs)):
                y[a, b] = pair_yield_per_day(self.cfg.point_value_usd, inc[a], inc[b], rate_h[a], rate_h[b],
                                             vs[a].fee_taker, vs[b].fee_taker, hold_days)
        return y

    def register_farmer(self, f: Farmer) -> None:
        self.farm_watch.add(f)

    @property
    def hedged(self) -> list[Farmer]:
        """The farmers watched for broken hedges and margin alerts (FarmWatch)."""
        return self.farm_watch.hedged

    def transfer(self, farmer: Farmer, src: str, src_acct: int, dst: str, dst_acct: int, usd: float) -> bool:
        """Move collateral between venues: the withdrawal leaves now, the deposit lands after the delay."""
        if not self.venues[src].withdraw(src_acct, usd):
            return False
        arrival = self.steps + self.cfg.transfer_delay_minutes
        self.transfers.append((arrival, farmer.index, dst, dst_acct, usd))
        self.transfer_log.append((self.steps, farmer.index, src, dst, usd, arrival))
        return True

    def transfer_pending(self, farmer: Farmer, dst: str) -> bool:
        return any(f == farmer.index and d == dst for _, f, d, _, _ in self.transfers)

    def _deliver_transfers(self) -> None:
        if self.redemptions:
            keep = []
            for item in self.redemptions:
                arrival, name, acct, usd = item
                if arrival <= self.steps:
                    self.venues[name].deposit(acct, usd)   # redeemed at 1.00
                else:
                    keep.append(item)
            self.redemptions = keep
        if not self.transfers:
            return
        now = self.steps
        keep = []
        for item in self.transfers:
            arrival, _, dst, acct, usd = item
            if arrival <= now:
                self.venues[dst].deposit(acct, usd)
            else:
                keep.append(item)
        self.transfers = keep

    def adl_counterfactual_summary(self) -> dict:
        """Per venue: what adl_haircut's queue, pro-rata and capped pro-rata would have taken on its ADL events."""
        return {name: v.waterfall.counterfactuals.summary() for name, v in self.venues.items()
                if v.waterfall.counterfactuals is not None}

    def set_stops(self, k: int, side: int, sl: float, tp: float) -> None:
        self.stop_lo[k], self.stop_hi[k] = (sl, tp) if side == BUY else (tp, sl) if side == SELL else (-np.inf, np.inf)

    def _clear_stops(self, k: int) -> None:
        self.stop_lo[k], self.stop_hi[k] = -np.inf, np.inf

    def mid_history(self, venue_name: str, k: int, n: int) -> np.ndarray:
        v = self.venue_names.index(venue_name)
        t = self.steps
        return self.ts_mid[max(0, t - n): t + 1, v, k]

    # ------------------------------------------------------------------ one minute
    def run_for(self, duration: float | int) -> None:
        """Run `duration` more minutes; past the run's `steps` is refused before anything runs (the series are
        sized for `steps`)."""
        self._check_room(self.steps + int(duration))
        with _heap_frozen():
            super().run_for(duration)

    def run_until(self, end_time: float | int) -> None:
        self._check_room(int(end_time))
        with _heap_frozen():
            super().run_until(end_time)

    def _check_room(self, last: int) -> None:
        if last > self.cfg.steps:
            raise RuntimeError(f"steps: the model was built for {self.cfg.steps} minutes and is at minute "
                               f"{self.steps}; running to minute {last} is past its end (build it with a larger "
                               f"steps=)")

    def step(self) -> None:
        t = self.steps
        cfg = self.cfg
        # 0. halt windows open and close (settled rule 8: a halted venue takes no orders, matches nothing, pays
        #    no funding and freezes its mark)
        for name, (h0, h1) in self.halts.items():
            v = self.venues[name]
            if v.halted != (h0 <= t < h1):
                v.set_halted(h0 <= t < h1)
        # the previous minute's trades are complete: record them; this minute's events carry step t
        self._close_bars(t - 1)
        for v in self.venues.values():
            v.set_step(t)
        # 1. fundamentals move; the outside reference is the fundamental moved by agents' outside flow through
        #    a decaying impact (settled rule 4: the one impact rule, the outside market not being modelled)
        for j, a in enumerate(ASSETS):
            imp = self.outside_impact[a] * cfg.outside_impact_decay + self._outside_flow[a] / cfg.outside_depth_usd[a]
            self.outside_impact[a] = imp
            self._outside_flow[a] = 0.0
            self.reference[a] = float(self.fund_paths[a][t]) * math.exp(imp)
        # the scripted seller of the synthetic dollar (oct10): exogenous flow while the fundamentals fall
        if self.wave is not None and t >= cfg.shock.start_minute and self.wave_sold < cfg.synth_wave_usd - 1.0:
            name, acct, per_min = self.wave
            v = self.venues[name]
            s = v.spot_index("SYNTH")
            due = per_min * (t - cfg.shock.start_minute + 1) - self.wave_sold   # its quota so far, less what sold
            lots = int(min(due, v.ch.bal[acct, v.asset_index["SYNTH"]]) / v.spot_books[s].lot_size)
            if lots > 0:
                r = v.submit_spot_order(acct, s, SELL, lots, cfg.synth_wave_floor, kind="ioc")
                self.wave_sold += r.filled_lots * v.spot_books[s].lot_size
        # 2. market makers requote around their fair value from the previous minute's observables (rule 13a)
        requote_all(self.makers, t)
        for vi, v in enumerate(self.venues.values()):
            self.ts_mid_quote[t, vi] = [v.book_mid(k) for k in range(len(ASSETS))]
        # 3. index and mark: the weighted median of the outside reference and the spot books' mids, with the
        #    venue's weights (rule 4); other venues' perp mids at the previous step feed the hyperliquid-style marks
        prev_mids = self.ts_mid[t - 1]
        spot_mids = {a: [m for m in (other.spot_mid(a) for other in self.venues.values()) if m is not None]
                     for a in ASSETS}
        for vi, (name, v) in enumerate(self.venues.items()):
            w = self.cfg.index_weights.get(name) or {}
            w_out, w_spot = float(w.get("outside", 2.0)), float(w.get("spot", 1.0))
            index = {}
            for j, a in enumerate(ASSETS):
                refs = [self.reference[a]] + (spot_mids[a] if w_spot > 0 else [])
                index[a] = weighted_median(refs, [w_out] + [w_spot] * (len(refs) - 1))
            others = [[float(prev_mids[u, j]) for u in range(len(self.venues)) if u != vi] for j in range(len(ASSETS))]
            v.update_prices(index, other_mids=others)
        # 4. each venue's liquidation waterfall, then funding (settled rules 2 and 5)
        for v in self.venues.values():
            v.run_liquidations()
            v.unwind_vault()
            v.settle_funding()
        # 5. stops: traders whose trigger price crossed their stop-loss or take-profit arm an exit; armed exits
        #    are tried every minute until their position is closed (rule 13c)
        self._check_stops()
        # 6. transfers between venues arrive; farmers see broken hedges and margin alerts
        self._deliver_transfers()
        self.farm_watch.check()
        self.ts_in_flight[t] = len(self.transfers)
        # 7. record, and the accounting identity when asked (settled rule 1)
        for vi, v in enumerate(self.venues.values()):
            self.ts_mid[t, vi] = v.mid
            self.ts_mark[t, vi] = v.ch.mark
            self.ts_index[t, vi] = v.index
            self.ts_oi_usd[t, vi] = np.array(v.ch.oi_long_lots) * v.ch.lot_size * v.ch.mark
            self.ts_insurance[t, vi] = v.ch.insurance[0]
            self.ts_liquidated_usd[t, vi] = v.waterfall.liquidated_usd - self._liq_seen[vi]
            self.ts_adl_usd[t, vi] = v.waterfall.adl_usd - self._adl_seen[vi]
            self._liq_seen[vi], self._adl_seen[vi] = v.waterfall.liquidated_usd, v.waterfall.adl_usd
            self.ts_liq_cum[t, vi] = v.waterfall.liq_usd_by_market
            self.ts_liq_long_cum[t, vi] = v.waterfall.liq_long_usd_by_market
            self.ts_volume_cum[t, vi] = v.volume_usd
            self.ts_liq_book_cum[t, vi] = v.waterfall.liq_book_usd_by_market

            if v.vault is not None:
                self.ts_vault_equity[t, vi] = v.equity(v.vault)
            self.ts_funding_hour[t, vi] = v.last_funding_rate / v.params.funding_interval_hours
            for k, book in enumerate(v.books):
                self.ts_depth1[t, vi, k], self.ts_depth5[t, vi, k] = book.depth_usd_pair(100, 500)
            if cfg.check_invariants:
                self.conservation_error_rel = max(self.conservation_error_rel, v.check_invariants())
        for v in self.venues.values():
            if "SYNTH" in v.spot_names:
                self.ts_synth_mid[t] = v.spot_mid("SYNTH") or np.nan
                break
        # 8. a depeg alert: when the synthetic dollar's mid first falls past the holders' threshold, each holder
        #    looks after its own reaction delay (agents/directional.py: synth_exit); re-armed once it recovers
        mid = self.ts_synth_mid[t]
        if self.synth_holders and np.isfinite(mid):
            below = mid < 1.0 - cfg.directional.synth_exit_depeg
            if below and not self._depeg_alarm:
                for tr in self.synth_holders:
                    self.schedule_event(tr.on_depeg,
                                        after=0.5 + float(tr.own_rng.exponential(cfg.directional.synth_reaction_minutes)))
            self._depeg_alarm = bool(below)
        if t >= cfg.steps:
            self._close_bars(t)   # the last minute has no next step
            self.running = False

    def _close_bars(self, t: int) -> None:
        """Record minute t's bar of book trades on every venue and perp market and start the next (settled
        rule 13d). Minute t runs from the start of step t to the start of step t + 1: the makers' requote,
        the waterfall and stops of step t, then the agents' orders before the next step; the events of those
        trades carry step t."""
        for vi, v in enumerate(self.venues.values()):
            for k, book in enumerate(v.books):
                if book.bar_open is not None:
                    tick = book.tick_size
                    self.ts_open[t, vi, k] = book.bar_open * tick
                    self.ts_high[t, vi, k] = book.bar_high * tick
                    self.ts_low[t, vi, k] = book.bar_low * tick
                    self.ts_close[t, vi, k] = book.last_trade_ticks * tick
                book.new_bar()

    def arm_exit(self, k: int) -> None:
        """Directional trader k wants out: its exit is tried now and every minute until closed (rule 13c)."""
        self._clear_stops(k)
        if not self.traders[k].exit():
            self.exit_armed[k] = True

    def _check_stops(self) -> None:
        if not len(self.traders):
            return
        if self.cfg.directional.stop_trigger == "last":
            vs = list(self.venues.values())
            trig = np.array([[b.last_trade() or v.ch.mark[k] for k, b in enumerate(v.books)] for v in vs])
        else:
            trig = np.stack([v.ch.mark for v in self.venues.values()])
        cell = self.__dict__.get("_stop_cell")
        if cell is None or cell[0] != trig.shape[1]:   # each trader's (venue, market) cell, made once
            cells = self.stop_venue.astype(np.int64) * trig.shape[1] + self.stop_market
            cell = self._stop_cell = (trig.shape[1], cells, np.empty(len(self.traders), np.int64))
        # the traders whose trigger crossed a stop or whose exit is armed, ascending, in one compiled pass
        k = k_stops_due(np.ascontiguousarray(trig, dtype=np.float64).ravel(), cell[1], self.stop_lo, self.stop_hi,
                        self.exit_armed, cell[2])
        if not k:
            return
        todo = cell[2][:k].tolist()
        self.stop_lo[todo] = -np.inf
        self.stop_hi[todo] = np.inf
        # their exits in this order (venue by venue: in a compiled batch on numba books; agents/directional.py)
        self.exit_armed[todo] = np.logical_not(self.directional.exits(todo))
