"""The configuration's schema: one dataclass per group, a docstring per field with its unit and meaning.

Hydra composes `conf/config.yaml` and its groups into a plain tree; `load(tree)` turns that tree into a
`RunConfig`, refusing an unknown key, a wrong type or a value out of range with one line naming the key and
what is allowed (`ConfigError`), before anything runs. `RunConfig.model_config()` gives the model's own
plain config (`model.ModelConfig`).

Groups (conf/<group>/<option>.yaml): venues (the set of venues, each naming a preset), venue_preset
(binance_like, hyperliquid_like, lighter_like: the venue mechanics, validated by venues.params.VenueParams),
population, scenario (calm, oct10), incentives (none, points_season), experiment (named studies).
"""

from __future__ import annotations

import dataclasses
import math
import sys
from dataclasses import dataclass, field
from typing import Any, Literal

from agents.params import (ArbParams, DirectionalParams, FarmerParams, Incentives, LiquidityParams, MakerParams,
                           ValueParams)
from venues.params import ASSETS, AdlRanking, CollateralOracle, ConfigError, VenueParams, from_dict
from venues.presets import PRESETS, load_preset

METRIC_KINDS = ("totals", "venues")

# ------------------------------------------------------------------------------------- what a run can hold
# Bounds derived from what the code holds, so that every value the schema accepts runs (or is refused here).
MEMORY_BUDGET_BYTES = 4 * 2**30
"""A run's estimated peak memory may not pass this: what a SLURM job gets (conf/hydra/launcher/slurm.yaml,
mem_gb 4); on a laptop two such jobs run side by side."""
BASE_BYTES = 256 * 2**20
"""The interpreter, the libraries and a world's fixed part (measured: 170 MB for population=small)."""
ROW_BYTES = 700
"""Per minute, venue and asset of the time series: the model's preallocated series (settled rule 12) and the
results table built from them at the end (measured: 590 B over a 21,000-minute run before the per-minute trade
bars and quote-time mids were added: 5 series and 6 table columns more, about 90 B)."""
AGENT_BYTES = {"market_makers": 40_000, "directional": 3_000, "farmers": 3_000, "arbitrageurs": 8_000}
"""Per agent, with three venues (measured: 34 kB a maker with its ladders, 2.7 kB a directional trader with its
preallocated account rows, 2.4 kB a farmer, 5.4 kB an arbitrageur)."""
EXACT_LOTS = 2**53
"""Largest count of lots (or of ticks) a float64 holds exactly; the venues' USD accounting multiplies lots by
lot size and price in float64 (settled rule 1 to 1e-9), and lots are stored as int64."""
NORMAL_DRAW_MAX = 9.0
"""Largest standard-normal draw a population is sized for: P(|z| > 9) x a million draws < 1e-12."""
LOG_FLOAT_MAX = math.log(sys.float_info.max)   # 709.8: exp() beyond it overflows
LOG_FLOAT_MIN = math.log(sys.float_info.min)   # -708.4: below it a float is no longer normal
DIRECTIONAL_LEVERAGE_CAP = 200.0
"""The directional traders' drawn leverage is capped here (model.CascadeModel._build_directional)."""


# ---------------------------------------------------------------------------------------------- groups
@dataclass
class VenueChoice:
    """One venue of the run (venues.<name>): a preset and the design knobs most studies turn.
    A knob left null keeps the preset's value."""

    preset: str = "binance_like"
    """Venue mechanics from conf/venue_preset/: binance_like, hyperliquid_like or lighter_like."""
    max_leverage: float | None = None
    """Venue-wide leverage cap (settled rule 7: effective max = min(cap, tier max)); >= 1."""
    insurance_fund_usd: float | None = None
    """Starting insurance fund, USD; 0 means no fund."""
    backstop_vault_usd: float | None = None
    """Starting backstop vault capital, USD; 0 means no vault."""
    vault_max_drawdown_pct: float | None = None
    """The vault declines takeovers past this drawdown of its starting capital, percent in [0, 100]."""
    adl_ranking: AdlRanking | None = None
    """ADL counterparty ranking: pnl_leverage, pnl, leverage or pro_rata (settled rule 2e)."""
    collateral_oracle: CollateralOracle | None = None
    """How the synthetic dollar is valued as collateral: market (the venue's spot book) or redemption (1.00)."""
    halt: list[int] | None = None
    """[start, end) minutes during which the venue is halted (settled rule 8); null: never."""
    overrides: dict[str, Any] = field(default_factory=dict)
    """Any other key of venues.params.VenueParams, merged over the preset (e.g. taker_fee_bps, tiers)."""
    liquidity_scale: dict[str, float] = field(default_factory=lambda: {"BTC": 1.0, "ALT": 1.0})
    """Depth of this venue's makers and far liquidity relative to the population's, per asset (the thin venues
    of 10 October 2025 had a fraction of the CEX's depth, least in the alts); >= 0, 1 for an asset not named."""
    index_weights: dict[str, float] = field(default_factory=lambda: {"outside": 2.0, "spot": 1.0})
    """Weights of the outside reference and of each spot book's mid in this venue's index (a weighted median,
    settled rule 4; Hyperliquid's oracle weights its CEX sources, Binance highest), >= 0, outside > 0."""


@dataclass
class ShockConfig:
    """The exogenous part of the oct10 crash (MECHANICS event figures); unused in calm."""

    start_minute: int | None = None
    """Minute the shock begins; null: 60 minutes after the warm-up."""
    fall_minutes: int = 45
    """Minutes from the start to the low ("12% in 45 minutes")."""
    depth_pct: dict[str, float] = field(default_factory=lambda: {"BTC": 14.0, "ALT": 35.0})
    """Fall of each asset's fundamental to the low, percent in [0, 100) (BTC 14, ALT 35)."""
    recovery_pct: float = 50.0
    """Share of the fall recovered by the end of the recovery, percent in [0, 100]."""
    recovery_minutes: int = 600
    """Minutes from the low to the end of the recovery."""
    synth_wave_usd: float = 30_000_000.0
    """Synthetic dollars an exogenous seller sells on the CEX-like venue's spot book from the shock's start, USD."""
    synth_wave_floor: float = 0.5
    """Lowest price that seller accepts, USD in (0, 1]."""


@dataclass
class MarketConfig:
    """The fundamentals and the outside market (settled rule 4)."""

    initial_prices: dict[str, float] = field(default_factory=lambda: {"BTC": 100_000.0, "ALT": 10.0, "SYNTH": 1.0})
    """Starting price of each asset (BTC, ALT and SYNTH only), USD; from one tick to 2^53 ticks of every book
    listing it."""
    vol_daily: dict[str, float] = field(default_factory=lambda: {"BTC": 0.03, "ALT": 0.06})
    """Daily volatility of each fundamental, fraction (log returns)."""
    correlation: float = 0.7
    """Correlation of the two fundamentals' returns, in [-1, 1] (at 1 or -1 one shock drives both)."""
    outside_depth_usd: dict[str, float] = field(
        default_factory=lambda: {"BTC": 2_000_000_000.0, "ALT": 200_000_000.0})
    """Outside-market notional that moves the outside reference by 1 (log) at once, USD; at least the
    arbitrageurs' largest outside flow a minute (count x venues x clip_usd) / (1 - outside_impact_decay) / half
    of float64's log range around the price, so the reference can never overflow or fall to 0."""
    outside_impact_decay: float = 0.9
    """Share of the outside impact left after a minute, in [0, 1)."""


@dataclass
class TransfersConfig:
    """Moving collateral between venues (each venue is its own clearinghouse)."""

    delay_minutes: float = 30.0
    """Minutes from a withdrawal leaving one venue to its deposit landing on another; >= 0."""


@dataclass
class IncentivesConfig:
    """Points programs (the farmers' expected yield uses them)."""

    point_value_usd: float = 0.02
    """USD value of one point; >= 0."""
    venues: dict[str, Incentives] = field(default_factory=dict)
    """Per venue: points_per_volume_usd and points_per_oi_usd_hour (venues not named have no program)."""


@dataclass
class MarketMakersPop(MakerParams):
    """Market makers: one or more per venue, quoting both perps (and the CEX-like venue's spot books)."""

    count: int = 9
    """Number of makers, assigned to the venues in turn; at least one per venue."""
    capital_usd: float = 20_000_000.0
    """Each maker's margin capital, USD."""
    depth_usd: dict[str, float] = field(default_factory=lambda: {"BTC": 6_000_000.0, "ALT": 1_000_000.0})
    """Quoted notional per side in calm conditions, USD, per asset (BTC deep, ALT thin)."""
    withdraw_threshold: float = 5.0
    """Withdraw all quotes when realised volatility passes this multiple of calm volatility; > 1."""
    return_minutes: int = 30
    """Minutes away after a withdrawal."""
    synth_depth_usd: float = 1_000_000.0
    """Quoted notional per side on the synthetic dollar's spot book, USD."""


@dataclass
class DirectionalPop(DirectionalParams):
    """Directional traders: small leveraged accounts on one venue and market each."""

    count: int = 9000
    """Number of traders, spread evenly at random over the venues."""
    btc_share: float = 0.7
    """Share trading the major (the rest trade the alt), fraction."""
    synth_holder_share: float = 0.3
    """Share posting the synthetic dollar as collateral where their venue accepts it, fraction."""


@dataclass
class FarmersPop(FarmerParams):
    """Delta-neutral points farmers: long on one venue, short on another."""

    count: int = 1000
    """Number of farmers (they need at least two venues)."""


@dataclass
class ArbitrageursPop(ArbParams):
    """Arbitrageurs with an account on every venue."""

    count: int = 6
    """Number of arbitrageurs."""


@dataclass
class LiquidityPop(LiquidityParams):
    """Limit-order traders resting bids and asks far from the mid, re-placed on a slow clock."""


@dataclass
class ValuePop(ValueParams):
    """Value traders: they see the fundamental with a delay and noise and trade it with finite capital."""


@dataclass
class PopulationConfig:
    """The four kinds of agents (population.<kind>)."""

    market_makers: MarketMakersPop = field(default_factory=MarketMakersPop)
    directional: DirectionalPop = field(default_factory=DirectionalPop)
    farmers: FarmersPop = field(default_factory=FarmersPop)
    arbitrageurs: ArbitrageursPop = field(default_factory=ArbitrageursPop)
    liquidity: LiquidityPop = field(default_factory=LiquidityPop)
    value: ValuePop = field(default_factory=ValuePop)


@dataclass
class AnalysisConfig:
    """What a run records beyond its metrics."""

    adl_counterfactuals: bool = False
    """Record what adl_haircut's queue, pro-rata and capped pro-rata would have taken on each ADL event."""
    adl_cap_pct: float = 50.0
    """Cap of the capped pro-rata rule: most of one winner's profit taken, percent in (0, 100]."""


@dataclass
class SensitivityConfig:
    """A global sensitivity design (Sobol indices by Saltelli's scheme without second-order terms, SALib),
    run as a sweep over its rows: `python run.py -m experiment=sobol` sweeps `sensitivity.index`."""

    index: int | None = None
    """Row of the design this run takes; its values replace the keys in `params` (null: not a design run)."""
    n_base: int = 16
    """Base samples N, a power of 2; the design has N x (D + 2) rows for D parameters and must fit the run's
    memory budget (4 GiB)."""
    params: dict[str, list[float]] = field(default_factory=dict)
    """Dotted config key -> [low, high]: each sampled uniformly (e.g. max_leverage: [3, 50])."""
    seed_per_base: bool = True
    """The runs of one base sample share a seed (its number): common random numbers across a base's rows;
    false keeps the run's own seed for every row."""
    design_seed: int = 0
    """Scrambling seed of the Sobol sequence."""


@dataclass
class RunConfig:
    """One run (config.yaml and its groups)."""

    seed: int = 0
    """Master seed (settled rule 10); >= 0."""
    steps: int = 1440
    """Minutes simulated (one step is one minute); >= 1, and a run's estimated memory (about 700 bytes a minute,
    venue and asset, plus its agents) within 4 GiB: up to about 950,000 minutes on three venues."""
    check_invariants: bool = True
    """Check settled rule 1 and balanced open interest every step; a break stops the run."""
    warmup_minutes: int = 120
    """Warm-up before anything scheduled happens (settled rule 9); >= 0."""
    scenario: Literal["calm", "oct10"] = "oct10"
    """Set by the scenario group: calm (no shock) or oct10."""
    shock: ShockConfig = field(default_factory=ShockConfig)
    shock_tail_df: float = math.inf
    """Student-t degrees of freedom of the fundamentals' returns, > 2 (inf: Gaussian)."""
    max_leverage: float | None = None
    """When set, caps every venue at once (on top of each venue's own cap); >= 1."""
    market: MarketConfig = field(default_factory=MarketConfig)
    venues: dict[str, VenueChoice] = field(default_factory=dict)
    """The venues, by name (the venues group)."""
    transfers: TransfersConfig = field(default_factory=TransfersConfig)
    incentives: IncentivesConfig = field(default_factory=IncentivesConfig)
    population: PopulationConfig = field(default_factory=PopulationConfig)
    analysis: AnalysisConfig = field(default_factory=AnalysisConfig)
    sensitivity: SensitivityConfig = field(default_factory=SensitivityConfig)
    objective: str = "totals.liquidated_notional_usd"
    """Metric (dotted name in metrics.json) that run.py returns to an optimizing sweeper."""
    experiment: str | None = None
    """Name of the named experiment this run belongs to (set by the experiment group)."""
    dashboard: bool = True
    """Draw dashboard.png into the run's folder."""
    progress: bool = True
    """Show a progress bar on a single run (never in a sweep)."""
    inject_failure_at_step: int | None = None
    """Testing the sweep machinery: raise an error at this step (null: never)."""
    resume: bool = False
    """In a sweep into an existing folder (hydra.sweep.dir=...): skip each job whose folder already holds a
    successful metrics.json for the same config; run the others."""

    # ------------------------------------------------------------------ checks
    def validate(self) -> "RunConfig":
        _rng("seed", self.seed, lo=0)
        _rng("steps", self.steps, lo=1)
        _rng("warmup_minutes", self.warmup_minutes, lo=0)
        if not (self.shock_tail_df > 2):
            _fail("shock_tail_df", "a number > 2 or inf (Gaussian)", self.shock_tail_df)
        if self.max_leverage is not None:
            _rng("max_leverage", self.max_leverage, lo=1, finite=False)
        s = self.shock
        if s.start_minute is not None:
            _rng("shock.start_minute", s.start_minute, lo=0)
        _rng("shock.fall_minutes", s.fall_minutes, lo=1)
        _rng("shock.recovery_minutes", s.recovery_minutes, lo=1)
        _rng("shock.recovery_pct", s.recovery_pct, lo=0, hi=100)
        _assets("shock.depth_pct", s.depth_pct)
        for a, d in s.depth_pct.items():
            _rng(f"shock.depth_pct.{a}", d, lo=0, hi=100, hi_open=True, allowed="a fall in percent in [0, 100)")
        _rng("shock.synth_wave_usd", s.synth_wave_usd, lo=0)
        _rng("shock.synth_wave_floor", s.synth_wave_floor, lo=0, hi=1, lo_open=True)
        m = self.market
        for a in ASSETS + ("SYNTH",):
            if a not in m.initial_prices:
                _fail(f"market.initial_prices.{a}", "a starting price for every asset", "missing")
        for a in m.initial_prices:
            if a not in ASSETS + ("SYNTH",):
                _fail(f"market.initial_prices.{a}", f"a price for one of the model's assets "
                      f"{', '.join(ASSETS + ('SYNTH',))} (each has a fundamental)", a)
        for a, p in m.initial_prices.items():
            _rng(f"market.initial_prices.{a}", p, lo=0, lo_open=True)
        _assets("market.vol_daily", m.vol_daily)
        for a, v in m.vol_daily.items():
            _rng(f"market.vol_daily.{a}", v, lo=0, hi=1)
        _rng("market.correlation", m.correlation, lo=-1, hi=1)
        _assets("market.outside_depth_usd", m.outside_depth_usd)
        for a, v in m.outside_depth_usd.items():
            _rng(f"market.outside_depth_usd.{a}", v, lo=0, lo_open=True)
        _rng("market.outside_impact_decay", m.outside_impact_decay, lo=0, hi=1, hi_open=True)
        if not self.venues:
            _fail("venues", "at least one venue", "none")
        for name, vc in self.venues.items():
            k = f"venues.{name}"
            if vc.preset not in PRESETS:
                _fail(f"{k}.preset", f"one of {', '.join(PRESETS)}", vc.preset)
            if vc.max_leverage is not None:
                _rng(f"{k}.max_leverage", vc.max_leverage, lo=1, finite=False)
            for key in ("insurance_fund_usd", "backstop_vault_usd"):
                if getattr(vc, key) is not None:
                    _rng(f"{k}.{key}", getattr(vc, key), lo=0, allowed="a finite amount >= 0 (0 means none)")
            if vc.vault_max_drawdown_pct is not None:
                _rng(f"{k}.vault_max_drawdown_pct", vc.vault_max_drawdown_pct, lo=0, hi=100)
            if vc.halt is not None:
                h = vc.halt
                if len(h) != 2 or not (0 <= h[0] < h[1] <= self.steps):
                    _fail(f"{k}.halt", f"[start, end) minutes with 0 <= start < end <= steps ({self.steps})", h)
            vp = self.venue_params(name)   # the preset with the knobs and overrides, validated (one-line errors)
            missing = [a for a in ASSETS if a not in vp.perps]
            if missing:
                _fail(f"{k}.perps", f"perpetual markets for {' and '.join(ASSETS)} (every venue lists both)",
                      sorted(vp.perps))
            extra = [a for a in vp.perps if a not in ASSETS]
            if extra:
                _fail(f"{k}.perps.{extra[0]}", f"perpetual markets of the model's assets {', '.join(ASSETS)} only "
                      "(each needs a fundamental and a starting price)", extra[0])
        _rng("transfers.delay_minutes", self.transfers.delay_minutes, lo=0)
        _rng("incentives.point_value_usd", self.incentives.point_value_usd, lo=0)
        for name, inc in self.incentives.venues.items():
            if name not in self.venues:
                _fail(f"incentives.venues.{name}", f"a venue of the run ({', '.join(self.venues)})", name)
            _rng(f"incentives.venues.{name}.points_per_volume_usd", inc.points_per_volume_usd, lo=0)
            _rng(f"incentives.venues.{name}.points_per_oi_usd_hour", inc.points_per_oi_usd_hour, lo=0)
        self._validate_population()
        _rng("analysis.adl_cap_pct", self.analysis.adl_cap_pct, lo=0, hi=100, lo_open=True)
        head = self.objective.split(".")[0]
        if head not in METRIC_KINDS or "." not in self.objective:
            _fail("objective", "a dotted metric name such as totals.liquidated_notional_usd", self.objective)
        self._validate_sensitivity()
        self._validate_lots()
        self._validate_outside_depth()
        self._validate_memory()
        return self

    def _validate_population(self) -> None:
        p = self.population
        nv = len(self.venues)
        mm = p.market_makers
        _rng("population.market_makers.count", mm.count, lo=nv, allowed=f"an integer >= {nv} (a maker per venue)")
        _rng("population.market_makers.capital_usd", mm.capital_usd, lo=0, lo_open=True)
        _assets("population.market_makers.depth_usd", mm.depth_usd)
        for a, d in mm.depth_usd.items():
            _rng(f"population.market_makers.depth_usd.{a}", d, lo=0, lo_open=True)
        _rng("population.market_makers.withdraw_threshold", mm.withdraw_threshold, lo=1, lo_open=True, finite=False)
        _rng("population.market_makers.return_minutes", mm.return_minutes, lo=1)
        _rng("population.market_makers.synth_depth_usd", mm.synth_depth_usd, lo=0)
        d = p.directional
        k = "population.directional"
        _rng(f"{k}.count", d.count, lo=0)
        _rng(f"{k}.capital_median_usd", d.capital_median_usd, lo=0, lo_open=True)
        _rng(f"{k}.capital_sigma", d.capital_sigma, lo=0)
        _rng(f"{k}.leverage_min", d.leverage_min, lo=1)
        _rng(f"{k}.leverage_tail", d.leverage_tail, lo=0, lo_open=True)
        for key in ("momentum_share", "btc_share", "synth_holder_share"):
            _rng(f"{k}.{key}", getattr(d, key), lo=0, hi=1)
        _rng(f"{k}.signal_minutes", d.signal_minutes, lo=1)
        for key in ("stop_loss_pct", "take_profit_pct"):
            _rng(f"{k}.{key}", getattr(d, key), lo=0, lo_open=True, finite=False)
        _rng(f"{k}.mean_wait_minutes", d.mean_wait_minutes, lo=0, lo_open=True)
        _rng(f"{k}.synth_exit_depeg", d.synth_exit_depeg, lo=0, hi=1)
        _rng(f"{k}.synth_reaction_minutes", d.synth_reaction_minutes, lo=0)
        _rng(f"{k}.synth_sell_floor", d.synth_sell_floor, lo=0, hi=1, lo_open=True)
        f = p.farmers
        k = "population.farmers"
        _rng(f"{k}.count", f.count, lo=0)
        if f.count > 0 and nv < 2:
            _fail(f"{k}.count", "0 with a single venue (a farmer's two legs must be on two venues)", f.count)
        _rng(f"{k}.capital_median_usd", f.capital_median_usd, lo=0, lo_open=True)
        _rng(f"{k}.capital_sigma", f.capital_sigma, lo=0)
        _rng(f"{k}.leverage_min", f.leverage_min, lo=1)
        _rng(f"{k}.leverage_max", f.leverage_max, lo=f.leverage_min,
             allowed=f"a leverage >= leverage_min ({f.leverage_min:g})")
        if f.leverage_dist not in ("uniform", "loguniform"):
            _fail(f"{k}.leverage_dist", "one of uniform, loguniform", f.leverage_dist)
        _rng(f"{k}.hurdle_daily_pct_mean", f.hurdle_daily_pct_mean, lo=0)
        _rng(f"{k}.hold_days", f.hold_days, lo=0, lo_open=True)
        _rng(f"{k}.alert_margin_ratio", f.alert_margin_ratio, lo=1)
        _rng(f"{k}.reaction_minutes", f.reaction_minutes, lo=0)
        _rng(f"{k}.check_minutes", f.check_minutes, lo=0, lo_open=True)
        if f.policy not in ("close_other", "rehedge", "hold"):
            _fail(f"{k}.policy", "one of close_other, rehedge, hold", f.policy)
        a = p.arbitrageurs
        k = "population.arbitrageurs"
        _rng(f"{k}.count", a.count, lo=0)
        for key in ("capital_usd", "clip_usd", "max_position_usd"):
            _rng(f"{k}.{key}", getattr(a, key), lo=0, lo_open=True)
        for key in ("threshold_bps", "outside_fee_bps", "redemption_minutes", "peg_budget_usd"):
            _rng(f"{k}.{key}", getattr(a, key), lo=0)
        _rng(f"{k}.leverage", a.leverage, lo=1)
        _rng(f"{k}.hedge_impact_share", a.hedge_impact_share, lo=0, hi=1)
        _rng(f"{k}.peg_threshold", a.peg_threshold, lo=0, hi=1, lo_open=True, hi_open=True)
        top = peg_levels_max(a.peg_threshold)
        _rng(f"{k}.peg_levels", a.peg_levels, lo=0, hi=top,
             allowed=f"an integer in [0, {top}] (level j bids 1 - peg_threshold x 2^j, above 0 for j < {top} "
                     f"with peg_threshold {a.peg_threshold:.10g})")
        k = "population.market_makers"
        for key in ("fair_weight_index", "fair_weight_own", "fair_weight_others"):
            _rng(f"{k}.{key}", getattr(mm, key), lo=0)
        if mm.fair_weight_index + mm.fair_weight_own + mm.fair_weight_others <= 0:
            _fail(f"{k}.fair_weight_index", "weights (index, own, others) that are not all 0", 0)
        _rng(f"{k}.threshold_spread", mm.threshold_spread, lo=0, hi=1, hi_open=True)
        _rng(f"{k}.drift_threshold", mm.drift_threshold, lo=0, lo_open=True, finite=False)
        _rng(f"{k}.ramp_minutes", mm.ramp_minutes, lo=0)
        if mm.withdraw_sides not in ("both", "against_move"):
            _fail(f"{k}.withdraw_sides", "one of both, against_move", mm.withdraw_sides)
        _rng(f"{k}.fair_smoothing", mm.fair_smoothing, lo=0, hi=1, lo_open=True)
        if d.stop_trigger not in ("mark", "last"):
            _fail("population.directional.stop_trigger", "one of mark, last", d.stop_trigger)
        _rng("population.directional.stop_share", d.stop_share, lo=0, hi=1)
        for key in ("entry_band_pct", "exit_band_pct"):
            if getattr(d, key) is not None:
                _rng(f"population.directional.{key}", getattr(d, key), lo=0, hi=100, lo_open=True, hi_open=True)
        lq = p.liquidity
        k = "population.liquidity"
        _rng(f"{k}.per_market", lq.per_market, lo=0)
        for asset, x in lq.depth_usd.items():
            if asset not in ASSETS:
                _fail(f"{k}.depth_usd", f"assets among {', '.join(ASSETS)}", asset)
            _rng(f"{k}.depth_usd.{asset}", x, lo=0)
        _rng(f"{k}.min_pct", lq.min_pct, lo=0, hi=100, lo_open=True, hi_open=True)
        _rng(f"{k}.max_pct", lq.max_pct, lo=lq.min_pct, hi=100, hi_open=True,
             allowed=f"a percent in [min_pct ({lq.min_pct:g}), 100)")
        _rng(f"{k}.profile", lq.profile, lo=-5, hi=5)
        _rng(f"{k}.levels", lq.levels, lo=1, hi=100)
        _rng(f"{k}.replace_minutes", lq.replace_minutes, lo=0, lo_open=True)
        _rng(f"{k}.leverage", lq.leverage, lo=1)
        vp = p.value
        k = "population.value"
        _rng(f"{k}.per_market", vp.per_market, lo=0)
        for key in ("capital_usd", "clip_usd"):
            for asset, x in getattr(vp, key).items():
                if asset not in ASSETS:
                    _fail(f"{k}.{key}", f"assets among {', '.join(ASSETS)}", asset)
                _rng(f"{k}.{key}.{asset}", x, lo=0)
        _rng(f"{k}.leverage", vp.leverage, lo=1)
        _rng(f"{k}.delay_minutes", vp.delay_minutes, lo=0)
        _rng(f"{k}.noise_pct", vp.noise_pct, lo=0, hi=50)
        _rng(f"{k}.noise_minutes", vp.noise_minutes, lo=0)
        _rng(f"{k}.threshold_pct", vp.threshold_pct, lo=0, hi=50, lo_open=True)
        _rng(f"{k}.act_minutes", vp.act_minutes, lo=0, lo_open=True)
        for name, vc in self.venues.items():
            w = vc.index_weights or {}
            for key in w:
                if key not in ("outside", "spot"):
                    _fail(f"venues.{name}.index_weights", "keys outside and spot", key)
            _rng(f"venues.{name}.index_weights.outside", w.get("outside", 2.0), lo=0, lo_open=True)
            _rng(f"venues.{name}.index_weights.spot", w.get("spot", 1.0), lo=0)
            for asset, x in (vc.liquidity_scale or {}).items():
                if asset not in ASSETS:
                    _fail(f"venues.{name}.liquidity_scale", f"assets among {', '.join(ASSETS)}", asset)
                _rng(f"venues.{name}.liquidity_scale.{asset}", x, lo=0)
        if mm.count + d.count + f.count + a.count <= mm.count:
            _fail("population", "at least one trader besides the market makers (directional, farmers or "
                  "arbitrageurs)", "none")

    # ------------------------------------------------------------------ bounds from what the code holds
    def _books(self):
        """(venue, asset, 'perp' or 'spot', market params) of every book of the run."""
        for name in self.venues:
            vp = self.venue_params(name)
            for a, pm in vp.perps.items():
                yield name, a, "perp", pm
            for s in vp.spots.values():
                yield name, s.base, "spot", s

    def _validate_lots(self) -> None:
        """Prices and orders the books and the event log can hold (EXACT_LOTS): a starting price from one tick
        to 2^53 ticks of every book listing it, and every order the agents size from the config at most 2^53
        lots at the asset's scripted low price (the starting price less the shock's fall): a side of a maker's
        ladder, an arbitrageur's clip and the deepest bid of its peg ladder, the synthetic-dollar seller's
        wave, and capital x leverage of the largest capital drawn (NORMAL_DRAW_MAX standard deviations up)."""
        prices = self.market.initial_prices
        p = self.population
        mm, arb = p.market_makers, p.arbitrageurs
        oct10 = self.scenario == "oct10"
        low = {a: prices[a] * (1.0 - (self.shock.depth_pct.get(a, 0.0) / 100.0 if oct10 else 0.0)) for a in prices}
        low["SYNTH"] = min(1.0, prices["SYNTH"])   # the synthetic dollar is quoted around its peg
        lot_usd = math.inf      # the least USD a lot of a perp is worth at the low: orders are sized in it

        limits: dict[str, tuple[float, float, str]] = {}   # key -> (its value, the least bound, why)

        def fits(key: str, usd: float, price: float, lot: float, what: str, share: float = 1.0) -> None:
            top = EXACT_LOTS * price * lot / share
            if key not in limits or top < limits[key][1]:
                limits[key] = (usd, top, f"{what}, at {price:.4g} USD, must be at most 2^53 lots of {lot:g}")

        for name, a, kind, mk in self._books():
            if not (mk.tick_size <= prices[a] <= mk.tick_size * EXACT_LOTS):
                _fail(f"market.initial_prices.{a}", f"a price the {kind} books can quote: from one tick to 2^53 "
                      f"ticks ({mk.tick_size:g} to {mk.tick_size * EXACT_LOTS:.4g} USD on {name})", prices[a])
            where = f"on {name}'s {a} {kind} book"
            if kind == "perp":
                lot_usd = min(lot_usd, low[a] * mk.lot_size)
                fits(f"population.market_makers.depth_usd.{a}", mm.depth_usd[a], low[a], mk.lot_size,
                     f"a side of a maker's ladder {where}")
                fits("population.arbitrageurs.clip_usd", arb.clip_usd, low[a], mk.lot_size,
                     f"an arbitrageur's trade {where}")
            elif a == "SYNTH":
                fits("population.market_makers.synth_depth_usd", mm.synth_depth_usd, low[a], mk.lot_size,
                     f"a side of a maker's ladder {where}")
                if oct10:
                    fits("shock.synth_wave_usd", self.shock.synth_wave_usd, 1.0, mk.lot_size,
                         f"the seller's wave {where}")
                if arb.count and arb.peg_levels:   # the budget bid is at most half its margin on the venue
                    deepest = 1.0 - arb.peg_threshold * 2.0 ** (arb.peg_levels - 1)
                    bid = min(arb.peg_budget_usd, arb.capital_usd / len(self.venues) / 2.0)
                    if bid > EXACT_LOTS * deepest * mk.lot_size * arb.peg_levels:
                        fits("population.arbitrageurs.peg_budget_usd", arb.peg_budget_usd, deepest, mk.lot_size,
                             f"a level's share of the peg budget {where}, at the deepest level", 1 / arb.peg_levels)
            else:
                fits(f"population.market_makers.depth_usd.{a}", mm.depth_usd[a], low[a], mk.lot_size,
                     f"a side of a maker's ladder {where}", share=1 / 3)
        for key, (usd, top, why) in limits.items():
            if not usd <= top:
                _fail(key, f"at most {top:.4g} USD ({why})", usd)
        if not math.isfinite(lot_usd):
            return
        room = math.log(EXACT_LOTS * lot_usd)
        for key, pop, lev, lev_key in (("population.directional", p.directional, DIRECTIONAL_LEVERAGE_CAP, None),
                                       ("population.farmers", p.farmers, p.farmers.leverage_max,
                                        "population.farmers.leverage_max")):
            if pop.count == 0:
                continue
            terms = {f"{key}.capital_median_usd": math.log(pop.capital_median_usd),
                     f"{key}.capital_sigma": NORMAL_DRAW_MAX * pop.capital_sigma, lev_key: math.log(lev)}
            if sum(terms.values()) > room:
                blame = max((k for k in terms if k is not None), key=lambda k: terms[k])
                rest = sum(v for k, v in terms.items() if k != blame)
                top = (room - rest) / NORMAL_DRAW_MAX if blame.endswith("sigma") else math.exp(room - rest)
                _fail(blame, f"at most {top:.4g} (an order of capital_median_usd x e^({NORMAL_DRAW_MAX:g} "
                      f"capital_sigma) x leverage {lev:g} must be at most 2^53 lots worth {lot_usd:.4g} USD)",
                      getattr(pop, blame.rpartition(".")[2]))
            if terms[f"{key}.capital_median_usd"] - NORMAL_DRAW_MAX * pop.capital_sigma < LOG_FLOAT_MIN:
                top = (terms[f"{key}.capital_median_usd"] - LOG_FLOAT_MIN) / NORMAL_DRAW_MAX
                _fail(f"{key}.capital_sigma", f"at most {top:.4g} (capital_median_usd x e^(-{NORMAL_DRAW_MAX:g} "
                      "capital_sigma) must stay a positive deposit)", pop.capital_sigma)

    def _validate_outside_depth(self) -> None:
        """The outside impact (settled rule 4): imp <- decay x imp + flow / depth, reference = fundamental x
        e^imp. The arbitrageurs are the only outside flow, at most about one clip per arbitrageur, venue and
        minute (F), so |imp| <= F / (depth x (1 - decay)). The reference is quoted on the books (the makers'
        fair values and spot ladders follow the index it sets), so it must stay a price every book listing the
        asset can hold: from one tick to 2^53 ticks. Half of that log range around the starting price is left
        to the impact (the other half is the fundamental's own path)."""
        a = self.population.arbitrageurs
        m = self.market
        flow = a.count * len(self.venues) * a.clip_usd
        ticks: dict[str, float] = {}
        for _, asset, _, pm in self._books():
            ticks[asset] = max(ticks.get(asset, 0.0), pm.tick_size)
        for asset, depth in m.outside_depth_usd.items():
            p = m.initial_prices[asset]
            tick = ticks.get(asset)
            room = 0.5 * min(LOG_FLOAT_MAX - math.log(p), math.log(p) - LOG_FLOAT_MIN)
            if tick is not None and tick < p < EXACT_LOTS * tick:   # (a price outside is refused by _validate_lots)
                room = min(room, 0.5 * min(math.log(p / tick), math.log(EXACT_LOTS * tick / p)))
            need = flow / ((1.0 - m.outside_impact_decay) * room)
            if depth < need:
                _fail(f"market.outside_depth_usd.{asset}",
                      f"at least {need:.4g} USD (the arbitrageurs' outside flow, {a.count} x {len(self.venues)} "
                      f"venues x clip_usd {a.clip_usd:g} a minute, decaying by {m.outside_impact_decay:.10g} a minute, "
                      f"may move the reference by at most e^{room:.3g}: half the log range its books can price)",
                      depth)

    def _validate_sensitivity(self) -> None:
        s = self.sensitivity
        _rng("sensitivity.design_seed", s.design_seed, lo=0, allowed="an integer >= 0")
        if s.params:
            problem = sobol_problem(s.params)
            _check_n_base(s.n_base, problem["num_vars"])

    def memory_estimate(self) -> dict[str, int]:
        """Estimated peak memory, bytes, of what grows with a key: the time series (steps), each population
        (its count) and a sensitivity design (n_base); BASE_BYTES comes on top."""
        V, A = len(self.venues), len(ASSETS)
        out = {"steps": (self.steps + 1) * V * A * ROW_BYTES}
        for kind, b in AGENT_BYTES.items():
            out[f"population.{kind}.count"] = getattr(self.population, kind).count * b
        if self.sensitivity.params:
            out["sensitivity.n_base"] = design_bytes(self.sensitivity.n_base, len(self.sensitivity.params))
        return out

    def _validate_memory(self) -> None:
        est = self.memory_estimate()
        if BASE_BYTES + sum(est.values()) <= MEMORY_BUDGET_BYTES:
            return
        key = max(est, key=est.get)
        left = MEMORY_BUDGET_BYTES - BASE_BYTES - sum(v for k, v in est.items() if k != key)
        if key == "steps":
            per = len(self.venues) * len(ASSETS) * ROW_BYTES
            allowed = (f"at most {max(0, left // per - 1):,} minutes with {len(self.venues)} venues and this "
                       f"population (about {ROW_BYTES} bytes a minute, venue and asset")
            got = self.steps
        elif key == "sensitivity.n_base":
            n, D = 2, len(self.sensitivity.params)
            while design_bytes(2 * n, D) <= left:
                n *= 2
            allowed = f"a power of 2 of at most {n} with D = {D} parameters (the design"
            got = self.sensitivity.n_base
        else:
            kind = key.split(".")[1]
            allowed = f"at most {max(0, left // AGENT_BYTES[kind]):,} (about {AGENT_BYTES[kind]:,} bytes an agent"
            got = getattr(self.population, kind).count
        _fail(key, f"{allowed}; a run's estimated memory, {(BASE_BYTES + sum(est.values())) / 2**30:.3g} GiB "
              f"here, may not pass {MEMORY_BUDGET_BYTES / 2**30:g} GiB)", got)

    # ------------------------------------------------------------------ to the model
    def venue_params(self, name: str):
        """The validated VenueParams of venue `name`: preset, then the named knobs, then `overrides`."""
        vc = self.venues[name]
        over = dict(vc.overrides or {})
        fields = [f.name for f in dataclasses.fields(VenueParams)]
        unknown = sorted(set(over) - set(fields))
        if unknown:   # named by its own path (the merged dict below would name it venues.<name>.<key>)
            raise ConfigError(f"venues.{name}.overrides.{unknown[0]}: unknown key; allowed: {', '.join(fields)}")
        for key in ("insurance_fund_usd", "backstop_vault_usd", "vault_max_drawdown_pct", "adl_ranking",
                    "collateral_oracle"):
            if getattr(vc, key) is not None:
                over[key] = getattr(vc, key)
        caps = [c for c in (vc.max_leverage, self.max_leverage, over.get("max_leverage")) if c is not None]
        if caps:
            over["max_leverage"] = min(caps)
        return load_preset(vc.preset, over, where=f"venues.{name}")

    def model_config(self):
        """The model's plain config (model.ModelConfig), from this validated tree."""
        from fundamentals import ShockScript
        from model import ModelConfig
        p = self.population
        s = self.shock
        shock = ShockScript(start_minute=s.start_minute if s.start_minute is not None else self.warmup_minutes + 60,
                            fall_minutes=s.fall_minutes, depth_pct=dict(s.depth_pct),
                            recovery_pct=s.recovery_pct, recovery_minutes=s.recovery_minutes)
        return ModelConfig(
            seed=self.seed, steps=self.steps, scenario=self.scenario, check_invariants=self.check_invariants,
            warmup_minutes=self.warmup_minutes,
            venues={name: {"params": self.venue_params(name)} for name in self.venues},
            halts={name: tuple(vc.halt) for name, vc in self.venues.items() if vc.halt is not None},
            initial_prices=dict(self.market.initial_prices), vol_daily=dict(self.market.vol_daily),
            correlation=self.market.correlation, shock_tail_df=self.shock_tail_df,
            outside_depth_usd=dict(self.market.outside_depth_usd),
            outside_impact_decay=self.market.outside_impact_decay,
            n_market_makers=p.market_makers.count, mm_depth_usd=dict(p.market_makers.depth_usd),
            mm_capital_usd=p.market_makers.capital_usd, mm_withdraw_threshold=p.market_makers.withdraw_threshold,
            mm_return_minutes=p.market_makers.return_minutes, mm_synth_depth_usd=p.market_makers.synth_depth_usd,
            n_directional=p.directional.count, directional=p.directional,
            directional_btc_share=p.directional.btc_share, synth_holder_share=p.directional.synth_holder_share,
            n_farmers=p.farmers.count, farmers=p.farmers,
            n_arbitrageurs=p.arbitrageurs.count, arbitrageurs=p.arbitrageurs,
            incentives=dict(self.incentives.venues), point_value_usd=self.incentives.point_value_usd,
            transfer_delay_minutes=self.transfers.delay_minutes,
            synth_wave_usd=s.synth_wave_usd, synth_wave_floor=s.synth_wave_floor, shock=shock,
            adl_counterfactuals=self.analysis.adl_counterfactuals, adl_cap_pct=self.analysis.adl_cap_pct,
            makers=MakerParams(**{f.name: getattr(p.market_makers, f.name) for f in dataclasses.fields(MakerParams)}),
            venue_scale={name: dict(vc.liquidity_scale or {}) for name, vc in self.venues.items()},
            liquidity=p.liquidity, value=p.value,
            index_weights={name: dict(vc.index_weights or {}) for name, vc in self.venues.items()},
        )


# ---------------------------------------------------------------------------------------------- loading
def load(tree: Any) -> RunConfig:
    """A validated RunConfig from Hydra's composed config (a DictConfig or a plain dict); `hydra` is ignored."""
    from omegaconf import DictConfig, OmegaConf
    if isinstance(tree, DictConfig):
        if "hydra" in tree:   # Hydra's own section resolves only inside a job
            tree = OmegaConf.masked_copy(tree, [k for k in tree.keys() if k != "hydra"])
        tree = OmegaConf.to_container(tree, resolve=True)
    if not isinstance(tree, dict):
        raise ConfigError(f"config: expected a mapping, got {type(tree).__name__}")
    tree = {k: v for k, v in tree.items() if k != "hydra"}
    for k, v in tree.items():
        _no_nan(v, k)
    sens = tree.get("sensitivity")
    if isinstance(sens, dict) and sens.get("index") is not None:
        tree = apply_design_row(tree)
    try:
        rc = from_dict(RunConfig, tree, "config")
    except ConfigError as e:
        raise ConfigError(str(e).removeprefix("config.")) from None
    return rc.validate()


def sobol_problem(params: dict[str, list[float]]) -> dict:
    """SALib's problem for a `sensitivity.params` mapping (names in the mapping's order)."""
    if not isinstance(params, dict) or not params:
        _fail("sensitivity.params", "a mapping of dotted keys to [low, high], at least one", params)
    bounds = []
    for k, b in params.items():
        if not (isinstance(b, (list, tuple)) and len(b) == 2 and all(isinstance(x, (int, float)) for x in b)
                and math.isfinite(b[0]) and math.isfinite(b[1]) and b[0] < b[1]):
            _fail(f"sensitivity.params.{k}", "[low, high] with low < high", b)
        bounds.append([float(b[0]), float(b[1])])
    return {"num_vars": len(params), "names": list(params), "bounds": bounds}


_DESIGNS: dict = {}


def design_bytes(n_base: int, num_vars: int) -> int:
    """Peak bytes of building a design: SALib's base sequence (N x 2D, made twice by scipy) and the design
    (N x (D + 2) rows of D floats)."""
    return 8 * n_base * (4 * num_vars + (num_vars + 2) * num_vars)


def _check_n_base(n_base: Any, num_vars: int) -> None:
    if not (isinstance(n_base, int) and not isinstance(n_base, bool) and n_base >= 2 and n_base & (n_base - 1) == 0):
        _fail("sensitivity.n_base", "a power of 2, at least 2", n_base)
    if BASE_BYTES + design_bytes(n_base, num_vars) > MEMORY_BUDGET_BYTES:
        n = 2
        while BASE_BYTES + design_bytes(2 * n, num_vars) <= MEMORY_BUDGET_BYTES:
            n *= 2
        _fail("sensitivity.n_base", f"a power of 2 of at most {n} with D = {num_vars} parameters (the design, "
              f"N x (D + 2) rows, is built in every run and must fit the memory budget of "
              f"{MEMORY_BUDGET_BYTES / 2**30:g} GiB)", n_base)


def peg_levels_max(threshold: float) -> int:
    """Levels of the arbitrageurs' peg ladder whose price, 1 - threshold x 2^j, stays above 0 (at most 1024:
    2.0**1024 overflows)."""
    n = 0
    while n < 1024 and threshold * 2.0**n < 1.0:
        n += 1
    return n


def sobol_design(params: dict[str, list[float]], n_base: int, design_seed: int = 0):
    """The design matrix (N x (D + 2) rows, SALib's order: for each base sample A, then A with each column
    from B, then B) and its problem; cached per process."""
    problem = sobol_problem(params)
    _check_n_base(n_base, problem["num_vars"])
    if not (isinstance(design_seed, int) and not isinstance(design_seed, bool) and design_seed >= 0):
        _fail("sensitivity.design_seed", "an integer >= 0", design_seed)
    key = (tuple((k, tuple(b)) for k, b in problem_items(problem)), n_base, design_seed)
    if key not in _DESIGNS:
        from SALib.sample import sobol as sobol_sample
        _DESIGNS[key] = sobol_sample.sample(problem, n_base, calc_second_order=False, scramble=True,
                                            seed=design_seed)
    return _DESIGNS[key], problem


def problem_items(problem: dict):
    return zip(problem["names"], problem["bounds"])


def apply_design_row(tree: dict) -> dict:
    """The tree with `sensitivity.index`'s row of the design written into its keys (and, with seed_per_base,
    the seed set to the row's base sample)."""
    import copy
    sens = tree["sensitivity"]
    params, n = sens.get("params") or {}, sens.get("n_base", SensitivityConfig.n_base)
    X, problem = sobol_design(params, n, sens.get("design_seed", 0))
    i = sens["index"]
    if not (isinstance(i, int) and not isinstance(i, bool) and 0 <= i < len(X)):
        _fail("sensitivity.index", f"an integer in [0, {len(X)}) (N = {n} x (D + 2) = {len(X)} rows)", i)
    tree = copy.deepcopy(tree)
    for name, x in zip(problem["names"], X[i]):
        node = tree
        parts = name.split(".")
        for part in parts[:-1]:
            if not isinstance(node.get(part), dict):
                _fail(f"sensitivity.params.{name}", "a dotted key of the config", name)
            node = node[part]
        if parts[-1] not in node:
            _fail(f"sensitivity.params.{name}", "a dotted key of the config", name)
        node[parts[-1]] = float(x)
    if sens.get("seed_per_base", True):
        tree["seed"] = i // (problem["num_vars"] + 2)
    return tree


def _no_nan(v: Any, where: str) -> None:
    if isinstance(v, float) and math.isnan(v):
        raise ConfigError(f"{where}: expected a number, got nan")
    if isinstance(v, dict):
        for k, x in v.items():
            _no_nan(x, f"{where}.{k}")
    elif isinstance(v, list):
        for i, x in enumerate(v):
            _no_nan(x, f"{where}[{i}]")


def _fail(key: str, allowed: str, got: Any) -> None:
    raise ConfigError(f"{key}: expected {allowed}, got {got!r}")


def _rng(key: str, v: Any, lo: float | None = None, hi: float | None = None, lo_open: bool = False,
         hi_open: bool = False, finite: bool = True, allowed: str | None = None) -> None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool) and not math.isnan(v)
    if ok and finite and not math.isfinite(v):
        ok = False
    if ok and lo is not None:
        ok = v > lo if lo_open else v >= lo
    if ok and hi is not None:
        ok = v < hi if hi_open else v <= hi
    if not ok:
        if allowed is None:
            parts = []
            if lo is not None:
                parts.append(f"{'>' if lo_open else '>='} {lo:g}")
            if hi is not None:
                parts.append(f"{'<' if hi_open else '<='} {hi:g}")
            allowed = ("a finite number" if finite else "a number") + (" " + " and ".join(parts) if parts else "")
        _fail(key, allowed, v)


def _assets(key: str, d: dict) -> None:
    missing = [a for a in ASSETS if a not in d]
    extra = [a for a in d if a not in ASSETS + ("SYNTH",)]
    if missing:
        _fail(f"{key}.{missing[0]}", f"a value for each of {', '.join(ASSETS)}", "missing")
    if extra:
        _fail(f"{key}.{extra[0]}", f"one of the assets {', '.join(ASSETS)}", extra[0])


def field_docs(cls: type) -> dict[str, str]:
    """Field name -> docstring (the string literal after each field), for the README's reference."""
    import ast
    import inspect
    import textwrap
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError):
            continue
        body = tree.body[0].body
        for a, b in zip(body, body[1:]):
            if isinstance(a, ast.AnnAssign) and isinstance(b, ast.Expr) and isinstance(b.value, ast.Constant):
                out[a.target.id] = " ".join(str(b.value.value).split())
    return out


def reference_markdown() -> str:
    """The README's configuration reference, from the dataclasses and their docstrings
    (`python -m conf.schema`)."""
    sections = [
        ("Top level", "", RunConfig), ("`venues.<name>`", "venues.<name>.", VenueChoice),
        ("`shock` (scenario oct10)", "shock.", ShockConfig), ("`market`", "market.", MarketConfig),
        ("`transfers`", "transfers.", TransfersConfig), ("`incentives`", "incentives.", IncentivesConfig),
        ("`population.market_makers`", "population.market_makers.", MarketMakersPop),
        ("`population.directional`", "population.directional.", DirectionalPop),
        ("`population.farmers`", "population.farmers.", FarmersPop),
        ("`population.arbitrageurs`", "population.arbitrageurs.", ArbitrageursPop),
        ("`population.liquidity`", "population.liquidity.", LiquidityPop),
        ("`population.value`", "population.value.", ValuePop),
        ("`analysis`", "analysis.", AnalysisConfig),
        ("`sensitivity` (experiment sobol)", "sensitivity.", SensitivityConfig),
    ]
    nested = {"shock", "market", "venues", "transfers", "incentives", "population", "analysis", "sensitivity"}
    lines = []
    for title, prefix, cls in sections:
        docs = field_docs(cls)
        lines += [f"#### {title}", "", "| key | default | meaning |", "|---|---|---|"]
        for f in dataclasses.fields(cls):
            if cls is RunConfig and f.name in nested - {"venues"}:
                continue
            if f.default is not dataclasses.MISSING:
                default = f.default
            elif f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            else:
                default = ""
            if dataclasses.is_dataclass(default):
                continue
            shown = "null" if default is None else ("inf" if default == math.inf else default)
            lines.append(f"| `{prefix}{f.name}` | `{shown}` | {docs.get(f.name, '')} |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    print(reference_markdown())
