"""The world: exogenous fundamentals and the random streams of settled rule 10.

(Issue "Agents and the model" grows this into `CascadeModel(mesa.Model)`; what is here is its exogenous part.)

Randomness (settled rule 10): one master seed; each consumer (the fundamental, each population draw, each
agent's decisions) draws from its own generator, spawned from the master seed by a fixed key, so changing one
part of a config shifts no one else's draws and paired runs stay paired.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from agents.base import stream  # noqa: F401  (re-exported: the streams of settled rule 10)


@dataclass
class ShockScript:
    """The exogenous part of a crash (scenario oct10): only the fundamentals move; everything else emerges."""

    start_minute: int = 180
    """Minute the shock begins (after the warm-up of settled rule 9)."""
    fall_minutes: int = 45
    """Minutes from the start to the low ("12% in 45 minutes", MECHANICS event figures)."""
    depth_pct: dict[str, float] | None = None
    """Fall of each asset's fundamental from its pre-shock level to the low, percent (BTC 14, ALT 35)."""
    recovery_pct: float = 50.0
    """Share of the fall recovered by the end of the recovery, percent (BTC back to 112-115k from 105k)."""
    recovery_minutes: int = 600
    """Minutes from the low to the end of the recovery."""

    def path(self, asset: str, steps: int) -> np.ndarray:
        """Multiplicative overlay (1 before the shock) on the asset's fundamental, per step."""
        depth = (self.depth_pct or {"BTC": 14.0, "ALT": 35.0}).get(asset, 0.0) / 100.0
        t = np.arange(steps, dtype=float)
        low = 1.0 - depth
        out = np.ones(steps)
        fall = (t >= self.start_minute) & (t < self.start_minute + self.fall_minutes)
        # a convex fall: slow at first, fastest near the low (the cascade's own part is not scripted)
        x = (t[fall] - self.start_minute) / self.fall_minutes
        out[fall] = 1.0 - depth * x**2
        after = t >= self.start_minute + self.fall_minutes
        y = np.minimum(1.0, (t[after] - self.start_minute - self.fall_minutes) / max(1, self.recovery_minutes))
        out[after] = low + depth * (self.recovery_pct / 100.0) * (1.0 - (1.0 - y) ** 2)
        return out


def fundamental_paths(seed: int, steps: int, initial: dict[str, float], vol_daily: dict[str, float],
                      correlation: float, tail_df: float, shock: ShockScript | None) -> dict[str, np.ndarray]:
    """Per-minute fundamental prices of each asset: correlated log returns with Student-t tails
    (`tail_df`; inf is Gaussian, settled rule 4), scaled to `vol_daily`, times the shock overlay."""
    assets = list(initial)
    rng = stream(seed, "fundamental")
    n = len(assets)
    if abs(correlation) < 1.0:
        cov = np.full((n, n), correlation) + (1.0 - correlation) * np.eye(n)
        chol = np.linalg.cholesky(cov)
    elif correlation == 1.0 or (correlation == -1.0 and n == 2):
        # |rho| = 1: the covariance is singular and has no Cholesky factor; its rank-one factor makes every
        # other asset's shock the first one's times rho (the same draws are consumed as for |rho| < 1)
        chol = np.zeros((n, n))
        chol[:, 0] = correlation
        chol[0, 0] = 1.0
    else:
        raise ValueError(f"market.correlation: expected a number in [-1, 1] (-1 only with two assets), "
                         f"got {correlation!r}")
    z = rng.standard_normal((steps, n))
    if math.isfinite(tail_df):
        # Student-t with unit variance: normal / sqrt(chi2 / df), rescaled by sqrt((df - 2) / df)
        if tail_df <= 2:
            raise ValueError(f"shock_tail_df: expected a number > 2 or inf, got {tail_df!r}")
        w = np.sqrt(rng.chisquare(tail_df, (steps, 1)) / tail_df)
        z = z / w * math.sqrt((tail_df - 2.0) / tail_df)
    eps = z @ chol.T
    out = {}
    for j, a in enumerate(assets):
        sigma = vol_daily[a] / math.sqrt(1440.0)
        log_ret = sigma * eps[:, j] - 0.5 * sigma**2
        log_ret[0] = 0.0
        path = initial[a] * np.exp(np.cumsum(log_ret))
        if shock is not None:
            path = path * shock.path(a, steps)
        out[a] = path
    return out


# ====================================================================================== the model
import mesa  # noqa: E402

from agents.directional import DirectionalParams, DirectionalTrader, draw_leverage  # noqa: E402
from agents.arbitrageur import Arbitrageur, ArbParams  # noqa: E402
from agents.farmer import Farmer, FarmerParams, Incentives, pair_yield_per_day  # noqa: E402
from agents.liquidity import LimitTrader, LiquidityParams, ValueParams, ValueTrader  # noqa: E402
from agents.market_maker import MakerParams, MarketMaker  # noqa: E402
from venues.orderbook import BUY, SELL  # noqa: E402
from venues.params import ConfigError  # noqa: E402
from venues.presets import load_preset  # noqa: E402
from venues.prices import weighted_median  # noqa: E402
from venues.venue import Venue  # noqa: E402
from venues.waterfall import ADL_LEVERAGE_BUCKETS  # noqa: E402

ASSETS = ("BTC", "ALT")


@dataclass
class ModelConfig:
    """A run's settings (issue "Experiments" moves these into validated Hydra groups)."""

    seed: int = 0
    steps: int = 1440
    scenario: str = "oct10"
    check_invariants: bool = True
    warmup_minutes: int = 120
    venues: dict | None = None
    """name -> {"preset": str, "overrides": dict} or {"params": VenueParams}; default binance/hyperliquid/lighter
    on their presets."""
    halts: dict | None = None
    """venue name -> (start, end) minutes of a halt window (settled rule 8)."""
    initial_prices: dict | None = None
    vol_daily: dict | None = None
    correlation: float = 0.7
    shock_tail_df: float = math.inf
    n_market_makers: int = 3
    n_directional: int = 1000
    directional_btc_share: float = 0.7
    """Share of directional traders on the major (the rest on the alt)."""
    mm_depth_usd: dict | None = None
    """Quoted notional per side per venue, USD, by asset (BTC deep, ALT thin)."""
    mm_capital_usd: float = 20_000_000.0
    mm_withdraw_threshold: float = 5.0
    mm_return_minutes: int = 30
    directional: DirectionalParams | None = None
    n_farmers: int = 200
    farmers: FarmerParams | None = None
    incentives: dict | None = None
    """venue name -> Incentives (points per USD of volume and per USD of open interest per hour)."""
    point_value_usd: float = 0.02
    """USD value of one point (the farmers' expected yield uses it)."""
    transfer_delay_minutes: float = 30.0
    """Minutes between a withdrawal leaving one venue and its deposit landing on another."""
    n_arbitrageurs: int = 6
    arbitrageurs: ArbParams | None = None
    outside_depth_usd: dict | None = None
    """Notional that moves the outside reference by 1 (log) at once, USD, by asset (impact rule, settled rule 4)."""
    outside_impact_decay: float = 0.9
    """Share of the outside impact left after a minute (half-life about 6.6 minutes)."""
    synth_holder_share: float = 0.3
    """Share of directional traders on a venue accepting the synthetic dollar who post it as collateral."""
    synth_wave_usd: float = 30_000_000.0
    """oct10: synthetic dollars sold at market on the CEX's spot book over the shock's fall (exogenous)."""
    synth_wave_floor: float = 0.5
    """Lowest price the oct10 seller of the synthetic dollar accepts; what it cannot sell waits a minute."""
    mm_synth_depth_usd: float = 1_000_000.0
    """Quoted notional per side on the synthetic dollar's spot book, USD."""
    shock: ShockScript | None = None
    adl_counterfactuals: bool = False
    """Record what adl_haircut's rules would have taken on each ADL event (experiment venue_designs)."""
    adl_cap_pct: float = 50.0
    """Cap of the capped pro-rata counterfactual, percent of a winner's profit."""
    makers: MakerParams | None = None
    """The makers' fair value, stress and return (agents/market_maker.py)."""
    liquidity: LiquidityParams | None = None
    """Limit-order traders resting far from the mid (agents/liquidity.py)."""
    value: ValueParams | None = None
    """Value traders, the only agents that see the fundamental (agents/liquidity.py)."""
    venue_scale: dict | None = None
    """venue name -> asset -> depth of its makers and far liquidity relative to the population's (1 if absent)."""
    index_weights: dict | None = None
    """venue name -> {"outside": w, "spot": w}: weights of the outside reference and of each spot book's mid in
    that venue's index (settled rule 4); default 2 and 1."""

    def resolved(self) -> "ModelConfig":
        if self.scenario not in ("calm", "oct10"):
            raise ConfigError(f"scenario: expected one of calm, oct10, got {self.scenario!r}")
        if self.steps < 1 or self.warmup_minutes < 0:
            raise ConfigError(f"steps: expected a positive number of minutes, got {self.steps!r}")
        self.venues = self.venues or {"binance": {"preset": "binance_like"},
                                      "hyperliquid": {"preset": "hyperliquid_like"},
                                      "lighter": {"preset": "lighter_like"}}
        self.initial_prices = self.initial_prices or {"BTC": 100_000.0, "ALT": 10.0, "SYNTH": 1.0}
        self.vol_daily = self.vol_daily or {"BTC": 0.03, "ALT": 0.06}
        self.mm_depth_usd = self.mm_depth_usd or {"BTC": 3_000_000.0, "ALT": 300_000.0}
        self.directional = self.directional or DirectionalParams()
        self.farmers = self.farmers or FarmerParams()
        self.arbitrageurs = self.arbitrageurs or ArbParams()
        self.outside_depth_usd = self.outside_depth_usd or {"BTC": 2_000_000_000.0, "ALT": 50_000_000.0}
        self.makers = self.makers or MakerParams()
        self.liquidity = self.liquidity or LiquidityParams()
        self.value = self.value or ValueParams()
        self.index_weights = self.index_weights or {}
        if self.directional.stop_trigger not in ("mark", "last"):
            raise ConfigError("population.directional.stop_trigger: expected one of mark, last, got "
                              f"{self.directional.stop_trigger!r}")
        if self.incentives is None:   # a points season on the two on-chain venues (config)
            self.incentives = {"hyperliquid": Incentives(0.0, 0.0), "lighter": Incentives(1e-3, 1e-3)}
        if self.farmers.policy not in ("close_other", "rehedge", "hold"):
            raise ConfigError(f"farmers.policy: expected one of close_other, rehedge, hold, got {self.farmers.policy!r}")
        if not self.transfer_delay_minutes >= 0:
            raise ConfigError(f"transfers.delay_minutes: expected a number >= 0, got {self.transfer_delay_minutes!r}")
        if not self.point_value_usd >= 0:
            raise ConfigError(f"incentives.point_value_usd: expected a number >= 0, got {self.point_value_usd!r}")
        if self.scenario == "oct10" and self.shock is None:
            self.shock = ShockScript(start_minute=self.warmup_minutes + 60)
        return self


class CascadeModel(mesa.Model):
    """Siloed perp venues, market makers and directional traders under an exogenous shock."""

    def __init__(self, cfg: ModelConfig):
        super().__init__(rng=cfg.seed)
        self.cfg = cfg = cfg.resolved()
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
            from venues.adl import AdlCounterfactuals
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
        self._farm_cache = None   # arrays over self.hedged's legs, rebuilt when the list changes
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
        for mm in self.makers:
            mm.requote(0)
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
        self.stop_side = np.zeros(n, dtype=np.int8)
        self.stop_sl = np.zeros(n)
        self.stop_tp = np.zeros(n)
        self.stop_venue = venue_idx.astype(np.int16)
        self.stop_market = np.where(market == "BTC", 0, 1).astype(np.int16)
        self.exit_armed = np.zeros(n, dtype=bool)   # settled rule 13c: an exit stays armed until closed
        self.traders = []
        for k in range(n):
            tr = DirectionalTrader(self, k, self.venue_names[venue_idx[k]], str(market[k]), float(capital[k]),
                                   float(leverage[k]), bool(momentum[k]), bool(synth[k]), bool(stops[k]))
            self.traders.append(tr)
            self.schedule_event(tr.act, at=float(first[k]) + 0.5)
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
        self.hedged: list[Farmer] = []
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
        self.hedged.append(f)
        self._farm_cache = None

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

    def _farm_rows(self) -> tuple:
        """Arrays over the watched farmers (self.hedged, in order): (venue, account, market) of each leg."""
        if self._farm_cache is None:
            vidx = {n: i for i, n in enumerate(self.venue_names)}
            for f in self.hedged:
                if getattr(f, "_row", None) is None:
                    lv, sv = self.venues[f.long_venue], self.venues[f.short_venue]
                    f._row = (vidx[f.long_venue], f.legs[f.long_venue], lv.market_index(f.market),
                              vidx[f.short_venue], f.legs[f.short_venue], sv.market_index(f.market))
            arr = np.array([f._row for f in self.hedged], dtype=np.int64).reshape(-1, 6)
            self._farm_cache = tuple(arr[:, j] for j in range(6))
        return self._farm_cache

    def _gather(self, venue: np.ndarray, acct: np.ndarray, per_venue: list[np.ndarray]) -> np.ndarray:
        """out[j] = per_venue[venue[j]][acct[j]] (one fancy index per venue)."""
        out = np.zeros(venue.size)
        for vi, arr in enumerate(per_venue):
            sel = venue == vi
            if sel.any():
                out[sel] = arr[acct[sel]]
        return out

    def _watch_farmers(self) -> None:
        """Broken hedges (a leg closed by the waterfall) and margin alerts, from one vectorized pass over the
        watched farmers' legs; Python runs only for the farmers that must act."""
        if not self.hedged:
            return
        lv, la, lk, sv, sa, sk = self._farm_rows()
        vs = list(self.venues.values())
        lots = [v.ch.lots for v in vs]
        l_lots = np.zeros(la.size)
        s_lots = np.zeros(sa.size)
        l_px = np.zeros(la.size)
        s_px = np.zeros(sa.size)
        for vi, v in enumerate(vs):
            px = v.ch.lot_size * v.ch.mark          # USD per lot, per market
            sel = lv == vi
            if sel.any():
                l_lots[sel] = lots[vi][la[sel], lk[sel]]
                l_px[sel] = px[lk[sel]]
            sel = sv == vi
            if sel.any():
                s_lots[sel] = lots[vi][sa[sel], sk[sel]]
                s_px[sel] = px[sk[sel]]
        state = np.array([f.state for f in self.hedged])
        hedged = state == "hedged"
        broken_now = hedged & ((l_lots == 0) != (s_lots == 0))
        closed_now = hedged & (l_lots == 0) & (s_lots == 0)
        still_hedged = hedged & ~broken_now & ~closed_now
        alert = np.zeros(la.size, dtype=bool)
        if still_hedged.any():
            margins = [v.ch.account_margins() for v in vs]
            ratio = self.cfg.farmers.alert_margin_ratio
            for venue, acct in ((lv, la), (sv, sa)):
                eq = self._gather(venue, acct, [m[0] for m in margins])
                mm = self._gather(venue, acct, [m[1] for m in margins])
                alert |= (mm > 0) & (eq < ratio * mm)
            alert &= still_hedged
        for j in np.flatnonzero(broken_now).tolist():
            f = self.hedged[j]
            closed = f.long_venue if l_lots[j] == 0 else f.short_venue
            self.broken_log.append((self.steps, f.index, closed))
            f.on_broken(self.steps)
        for j in np.flatnonzero(closed_now).tolist():
            self.hedged[j].state = "closed"
        for j in np.flatnonzero(alert).tolist():
            self.hedged[j].rebalance()
        broken = (state == "broken") | broken_now
        self.ts_naked_usd[self.steps] = float((np.abs(l_lots) * l_px + np.abs(s_lots) * s_px)[broken].sum())
        keep = hedged | (state == "broken")
        keep &= ~closed_now
        if not keep.all():
            self.hedged = [f for f, k in zip(self.hedged, keep.tolist()) if k]
            self._farm_cache = None

    def adl_counterfactual_summary(self) -> dict:
        """Per venue: what adl_haircut's queue, pro-rata and capped pro-rata would have taken on its ADL events."""
        return {name: v.waterfall.counterfactuals.summary() for name, v in self.venues.items()
                if v.waterfall.counterfactuals is not None}

    def set_stops(self, k: int, side: int, sl: float, tp: float) -> None:
        self.stop_side[k], self.stop_sl[k], self.stop_tp[k] = side, sl, tp

    def mid_history(self, venue_name: str, k: int, n: int) -> np.ndarray:
        v = self.venue_names.index(venue_name)
        t = self.steps
        return self.ts_mid[max(0, t - n): t + 1, v, k]

    # ------------------------------------------------------------------ one minute
    def run_for(self, duration: float | int) -> None:
        """Run `duration` more minutes; past the run's `steps` is refused before anything runs (the series are
        sized for `steps`)."""
        self._check_room(self.steps + int(duration))
        super().run_for(duration)

    def run_until(self, end_time: float | int) -> None:
        self._check_room(int(end_time))
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
        for mm in self.makers:
            mm.requote(t)
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
        self._watch_farmers()
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
                self.ts_depth1[t, vi, k] = book.depth_usd(100)
                self.ts_depth5[t, vi, k] = book.depth_usd(500)
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
        self.stop_side[k] = 0
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
        px = trig[self.stop_venue, self.stop_market]
        s = self.stop_side
        hit = ((s == BUY) & ((px <= self.stop_sl) | (px >= self.stop_tp))) | \
              ((s == SELL) & ((px >= self.stop_sl) | (px <= self.stop_tp)))
        todo = np.flatnonzero(hit | self.exit_armed).tolist()
        for k in todo:
            self.stop_side[k] = 0
            self.exit_armed[k] = not self.traders[k].exit()


# ====================================================================================== metrics
def shock_start(cfg: ModelConfig) -> int:
    return cfg.shock.start_minute if cfg.scenario == "oct10" and cfg.shock is not None else cfg.warmup_minutes


def compute_metrics(m: CascadeModel, wall_s: float, status: str = "ok") -> dict:
    """The run's metrics (names are a public interface, documented in the README)."""
    cfg = m.cfg
    t0 = min(shock_start(cfg), m.steps)
    T = m.steps
    totals = dict(liquidated_notional_usd=0.0, n_liquidations=0, n_accounts_liquidated=0, backstop_notional_usd=0.0,
                  insurance_paid_usd=0.0, adl_notional_usd=0.0, n_adl_fills=0, adl_low_leverage_share=0.0,
                  bad_debt_usd=0.0)
    low_lev_adl = 0.0
    venues = {}
    fund_dd = {a: _drawdown_pct(m.ts_fundamental[t0:T + 1, j]) for j, a in enumerate(ASSETS)}
    for vi, (name, v) in enumerate(m.venues.items()):
        w = v.waterfall   # running totals: the event log of a long run has gone to disk
        oi = m.ts_oi_usd[:, vi, :].sum(axis=1)
        oi_start = float(oi[t0])
        oi_min = float(oi[t0:T + 1].min())
        vd = dict(
            liquidated_notional_usd=w.liquidated_usd,
            adl_notional_usd=w.adl_usd,
            n_adl_fills=w.n_adl_fills,
            insurance_fund_start_usd=float(m.ts_insurance[t0, vi]),
            # the fund's USD plus what else it holds at the collateral oracle's value (SPEC 8.4, 8.7), and the split
            insurance_fund_end_usd=sum(v.insurance_fund_value()),
            insurance_fund_end_cash_usd=v.insurance_fund_value()[0],
            vault_pnl_usd=float(v.equity(v.vault) - v.params.backstop_vault_usd) if v.vault is not None else 0.0,
            bad_debt_usd=float(v.ch.bad_debt[0]),
            oi_start_usd=oi_start, oi_min_usd=oi_min,
            oi_drop_pct=100.0 * (1.0 - oi_min / oi_start) if oi_start > 0 else 0.0,
            markets={},
        )
        vd["maker_withdrawals"] = sum(len(mm.withdrawals) for mm in m.makers if mm.venue_name == name)
        for j, a in enumerate(ASSETS):
            dd = _drawdown_pct(m.ts_mid[t0:T + 1, vi, j])
            vd["markets"][a] = dict(max_drawdown_pct=dd,
                                    amplification=dd / fund_dd[a] if fund_dd[a] > 0 else float("nan"),
                                    **price_formation(m, vi, j, t0, T))
        venues[name] = vd
        totals["liquidated_notional_usd"] += w.liquidated_usd
        totals["n_liquidations"] += w.n_liquidations
        totals["n_accounts_liquidated"] += len(w.liquidated_accounts)
        totals["backstop_notional_usd"] += w.backstop_usd
        totals["insurance_paid_usd"] += w.insurance_paid_usd
        totals["adl_notional_usd"] += w.adl_usd
        totals["n_adl_fills"] += w.n_adl_fills
        totals["bad_debt_usd"] += vd["bad_debt_usd"]
        low_lev_adl += w.adl_low_leverage_usd
    if totals["adl_notional_usd"] > 0:
        totals["adl_low_leverage_share"] = low_lev_adl / totals["adl_notional_usd"]   # settled rule 11
    marks = m.ts_mark[1:T + 1]
    with np.errstate(invalid="ignore", divide="ignore"):
        disl = (np.nanmax(marks, axis=1) / np.nanmin(marks, axis=1) - 1.0) * 100.0
    totals.update(broken_hedges=len(m.broken_log), peak_naked_notional_usd=float(m.ts_naked_usd.max()),
                  max_dislocation_pct=float(np.nanmax(disl)) if disl.size else 0.0,
                  conservation_error_rel=None if m.conservation_error_rel is None   # check_invariants=false
                  else float(m.conservation_error_rel))
    n_agents = len(m.agents)
    return dict(status=status, seed=cfg.seed, steps=T, n_agents=n_agents, wall_s=wall_s, totals=totals,
                venues=venues, stats=validation_stats(m))


def _excess_kurtosis(r: np.ndarray) -> float:
    r = r[np.isfinite(r)]
    if r.size < 10:
        return float("nan")
    d = r - r.mean()
    m2 = float(np.mean(d * d))
    return float(np.mean(d ** 4) / (m2 * m2) - 3.0) if m2 > 0 else float("nan")


def _acf(x: np.ndarray, lags) -> np.ndarray:
    """Sample autocorrelation at the given lags (NaN returns dropped first)."""
    x = x[np.isfinite(x)]
    out = np.full(len(lags), np.nan)
    if x.size < 3 * max(lags):
        return out
    d = x - x.mean()
    c0 = float(np.dot(d, d))
    if c0 <= 0:
        return out
    for i, lag in enumerate(lags):
        out[i] = float(np.dot(d[:-lag], d[lag:])) / c0
    return out


ACF_LAGS = tuple(range(1, 31))
ACF_REPORTED = (1, 5, 10, 30)


def validation_stats(m: CascadeModel) -> dict:
    """Stylized facts and event-calibration figures of one run (EXPERIMENTS.md). Returns are one-minute log
    returns of each venue's perp mid after the warm-up; flows are per-minute differences of running totals."""
    cfg = m.cfg
    T = m.steps
    w0 = min(cfg.warmup_minutes, T)
    t0 = min(shock_start(cfg), T)
    V = len(m.venue_names)
    out: dict = {"returns": {}, "oct10": {}, "adl_by_leverage": {}}
    with np.errstate(invalid="ignore", divide="ignore"):
        logmid = np.log(m.ts_mid[w0:T + 1])                     # (t, venue, asset)
        r = np.diff(logmid, axis=0)
        rf = np.diff(np.log(m.ts_fundamental[w0:T + 1]), axis=0)
    for j, a in enumerate(ASSETS):
        kv = [_excess_kurtosis(r[:, vi, j]) for vi in range(V)]
        acf_raw = np.array([_acf(r[:, vi, j], (1,))[0] for vi in range(V)])
        acf_abs = np.array([_acf(np.abs(r[:, vi, j]), ACF_LAGS) for vi in range(V)])   # (venue, lag)
        fund_abs = _acf(np.abs(rf[:, j]), ACF_LAGS)
        d = dict(kurtosis_venue=float(np.nanmean(kv)) if np.isfinite(kv).any() else float("nan"),
                 kurtosis_fundamental=_excess_kurtosis(rf[:, j]),
                 acf1_venue=float(np.nanmean(acf_raw)) if np.isfinite(acf_raw).any() else float("nan"),
                 acf1_fundamental=float(_acf(rf[:, j], (1,))[0]))
        with np.errstate(invalid="ignore"):
            mean_abs = np.nanmean(acf_abs, axis=0) if np.isfinite(acf_abs).any() else np.full(len(ACF_LAGS), np.nan)
        for lag in ACF_REPORTED:
            d[f"abs_acf{lag}_venue"] = float(mean_abs[lag - 1])
            d[f"abs_acf{lag}_fundamental"] = float(fund_abs[lag - 1])
        d["abs_acf_positive_share"] = float(np.mean(mean_abs > 0)) if np.isfinite(mean_abs).all() else float("nan")
        d["abs_acf_mean_1_30_venue"] = float(np.mean(mean_abs))
        d["abs_acf_mean_1_30_fundamental"] = float(np.mean(fund_abs))
        out["returns"][a] = d
    # funding: the stored rate is per hour (the last interval's, held until the next); reported per 8 hours
    # (bps) and annualised (%), counting each venue from its first payment on
    f8, pre, post = [], [], []
    for vi, v in enumerate(m.venues.values()):
        first = int(round(v.params.funding_interval_hours * 60))
        rate = m.ts_funding_hour[:, vi, :]                       # (t, asset)
        f8.append(rate[max(w0, first):T + 1].ravel() * 8.0 * 1e4)
        pre.append(rate[max(first, t0 - 60):t0].ravel())
        post.append(rate[max(first, t0 + 60):T + 1].ravel())
    f8 = np.concatenate(f8)
    pre = np.concatenate(pre) * 24 * 365 * 100.0
    post = np.concatenate(post) * 24 * 365 * 100.0
    nan = float("nan")
    out["funding"] = dict(median_8h_bps=float(np.median(f8)) if f8.size else nan,
                          p99_abs_8h_bps=float(np.percentile(np.abs(f8), 99)) if f8.size else nan,
                          max_abs_8h_bps=float(np.abs(f8).max()) if f8.size else nan,
                          baseline_share=float(np.mean(np.abs(f8 - 1.0) <= 0.25)) if f8.size else nan,
                          pre_shock_annual_pct=float(pre.mean()) if pre.size else nan,
                          post_shock_annual_pct=float(post.mean()) if post.size else nan)
    # venues' marks within the arbitrage band of each other
    gaps = []
    for u in range(V):
        for w in range(u + 1, V):
            with np.errstate(invalid="ignore", divide="ignore"):
                gaps.append(np.abs(m.ts_mark[w0:T + 1, u] / m.ts_mark[w0:T + 1, w] - 1.0).ravel())
    g = np.concatenate(gaps) if gaps else np.zeros(0)
    g = g[np.isfinite(g)]
    p = cfg.arbitrageurs
    band = max(v.fee_taker for v in m.venues.values()) + (p.outside_fee_bps + p.threshold_bps) * 1e-4
    out["venue_gap_p95_pct"] = float(np.percentile(g, 95) * 100.0) if g.size else float("nan")
    out["venue_gap_median_pct"] = float(np.median(g) * 100.0) if g.size else float("nan")
    out["arb_band_pct"] = float(2.0 * band * 100.0)
    # the cascade against the event's figures
    liq = m.ts_liq_cum[T].sum()
    oi0 = m.ts_oi_usd[t0]                                       # (venue, asset)
    o = out["oct10"]
    o["long_share_liquidated"] = float(m.ts_liq_long_cum[T].sum() / liq) if liq > 0 else float("nan")
    o["liquidated_over_oi"] = float(liq / oi0.sum()) if oi0.sum() > 0 else float("nan")
    for j, a in enumerate(ASSETS):
        oi = m.ts_oi_usd[t0:T + 1, :, j].sum(axis=1)
        o[f"oi_drop_pct_{a}"] = float(100.0 * (1.0 - oi.min() / oi[0])) if oi[0] > 0 else float("nan")
        dep = m.ts_depth1[t0:T + 1, :, j]                       # (t, venue)
        with np.errstate(invalid="ignore", divide="ignore"):
            ratio = dep.min(axis=0) / dep[0]
        o[f"depth1_collapse_pct_{a}"] = float(100.0 * (1.0 - dep.sum(axis=1).min() / dep[0].sum())) \
            if dep[0].sum() > 0 else float("nan")
        o[f"depth1_collapse_worst_venue_pct_{a}"] = float(100.0 * (1.0 - np.nanmin(ratio))) \
            if np.isfinite(ratio).any() else float("nan")
        o[f"max_venue_drawdown_pct_{a}"] = max(_drawdown_pct(m.ts_mid[t0:T + 1, vi, j]) for vi in range(V))
        o[f"fundamental_drawdown_pct_{a}"] = _drawdown_pct(m.ts_fundamental[t0:T + 1, j])
        byb = sum(v.waterfall.adl_usd_by_bucket[j] for v in m.venues.values())
        tot = float(byb.sum())
        out["adl_by_leverage"][a] = {b: (float(byb[i] / tot) if tot > 0 else float("nan"))
                                     for i, b in enumerate(ADL_LEVERAGE_BUCKETS)}
        out["adl_by_leverage"][a]["notional_usd"] = tot
    synth = m.ts_synth_mid[t0:T + 1]
    o["synth_low"] = float(np.nanmin(synth)) if np.isfinite(synth).any() else float("nan")
    # where the selling went: perp volume and liquidations per venue in the two hours from the shock
    t1 = min(T, t0 + 120)
    out["shock_window"] = {name: dict(volume_usd=float((m.ts_volume_cum[t1, vi] - m.ts_volume_cum[t0, vi]).sum()),
                                      liquidated_usd=float((m.ts_liq_cum[t1, vi] - m.ts_liq_cum[t0, vi]).sum()))
                           for vi, name in enumerate(m.venue_names)}
    # liquidation flow's share of book volume in the largest one-minute moves (top 1% of |return| per venue
    # and asset) against its share over all minutes (book-stage closes only: backstop and ADL do not trade)
    liq_f = np.diff(m.ts_liq_book_cum[w0:T + 1], axis=0)
    vol_f = np.diff(m.ts_volume_cum[w0:T + 1], axis=0)
    big_l = big_v = 0.0
    for vi in range(V):
        for j in range(len(ASSETS)):
            x = np.abs(r[:, vi, j])
            ok = np.isfinite(x)
            if ok.sum() < 100:
                continue
            cut = np.percentile(x[ok], 99)
            sel = ok & (x >= cut)
            big_l += float(liq_f[sel, vi, j].sum())
            big_v += float(vol_f[sel, vi, j].sum())
    out["liq_share_big_moves"] = big_l / big_v if big_v > 0 else float("nan")
    out["liq_share_all"] = float(liq_f.sum() / vol_f.sum()) if vol_f.sum() > 0 else float("nan")
    return out


RECOVERY_BAND_PCT = {"BTC": 3.0, "ALT": 10.0}
"""A venue has recovered once its last trade is back within this of the fundamental, percent."""


def price_formation(m: CascadeModel, vi: int, j: int, t0: int, T: int) -> dict:
    """Settled rule 13d for one venue and perp market, from the shock's start (calm: the warm-up's end) to the
    end: drawdown to the lowest book trade and to the lowest mark, both from the fundamental at the start (as
    `../shared/checks/trades.py` reads them), the cascade multiplier (lowest-trade drawdown over the
    fundamental's), and the minutes from the fundamental's low until the last trade is back within
    RECOVERY_BAND_PCT of the fundamental (null if never)."""
    f = m.ts_fundamental[t0:T + 1, j]
    f0 = float(f[0]) if f.size else math.nan
    low = m.ts_low[t0:T + 1, vi, j]
    trade_dd = 100.0 * (1.0 - float(np.nanmin(low)) / f0) if np.isfinite(low).any() else math.nan
    mark_dd = 100.0 * (1.0 - float(np.nanmin(m.ts_mark[t0:T + 1, vi, j])) / f0) if f.size else math.nan
    fund_dd = 100.0 * (1.0 - float(f.min()) / f0) if f.size else math.nan
    # the last trade price carried forward over minutes without a trade
    close = m.ts_close[t0:T + 1, vi, j]
    idx = np.where(np.isfinite(close), np.arange(close.size), 0)
    np.maximum.accumulate(idx, out=idx)
    last = close[idx]
    f_low = int(np.argmin(f)) if f.size else 0
    band = RECOVERY_BAND_PCT.get(ASSETS[j], 3.0) / 100.0
    ok = np.flatnonzero(np.abs(last[f_low:] / f[f_low:] - 1.0) <= band)
    return dict(trade_drawdown_pct=trade_dd, mark_drawdown_pct=mark_dd,
                cascade_multiplier=trade_dd / fund_dd if fund_dd > 0 else math.nan,
                recovery_minutes=float(ok[0]) if ok.size else None)


def _drawdown_pct(x: np.ndarray) -> float:
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0 or x[0] <= 0:
        return 0.0
    return float(100.0 * (1.0 - x.min() / x[0]))
