"""The agents' parameter classes (the config groups under `population.*` and `incentives`), apart from the agents so
that reading and checking a config (conf/schema.py, run.py's preflight) needs no Mesa: a command line refused in
one line, or a sweep's parent process, starts without importing it. Each agent module re-exports its own.

The defaults are conf/population/default.yaml's values (what `python run.py` runs), so a class built in Python and
a population file that leaves a key out get what the command line gets (tests/test_config_defaults.py holds them
to the file). Where a mechanism can be switched off, its field's text says by which value.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ArbParams:
    """The arbitrageur population's parameters."""

    capital_usd: float = 5_000_000.0
    """Capital of each arbitrageur, USD, split evenly over the venues."""
    threshold_bps: float = 10.0
    """Gap beyond fees needed to trade, bps."""
    outside_fee_bps: float = 5.0
    """Fee of the hedge in the outside spot market, bps."""
    clip_usd: float = 500_000.0
    """Largest notional per trade, USD."""
    max_position_usd: float = 3_000_000.0
    """Largest position per venue and asset, USD."""
    leverage: float = 5.0
    """Leverage of its perp accounts."""
    peg_threshold: float = 0.005
    """Buys the synthetic dollar below 1 - this (and redeems it), fraction."""
    peg_budget_usd: float = 1_000_000.0
    """Most USD each arbitrageur bids for the synthetic dollar on one venue at a time."""
    peg_levels: int = 7
    """Bid levels of its synthetic-dollar ladder: level j at 1 - peg_threshold x 2^j, so at most the levels priced
    above 0 (8 with peg_threshold 0.005)."""
    redemption_minutes: float = 60.0
    """Minutes from a redemption request to USD at 1.00 (minting takes the same time)."""
    hedge_impact_share: float = 0.5
    """Finite capacity of the outside hedge: a trade's hedge may move the outside price (as it stands this minute,
    after the flow already sent to it) at most this share of the way to the perp's price less the band; an
    unwind may move it at most this share of half the band. 0 turns arbitrage off."""


@dataclass
class DirectionalParams:
    """The directional population's parameters."""

    capital_median_usd: float = 5_000.0
    """Median account capital, USD (lognormal)."""
    capital_sigma: float = 1.0
    """Log-standard deviation of capital."""
    leverage_min: float = 2.0
    """Smallest leverage drawn."""
    leverage_tail: float = 3.0
    """Pareto tail index of leverage (smaller: more high-leverage traders)."""
    momentum_share: float = 0.6
    """Share of traders following momentum; the rest are contrarian."""
    signal_minutes: int = 60
    """Look-back of the signal, minutes."""
    stop_loss_pct: float = 5.0
    """Exit when the price moves this far against the position, percent (before liquidation at high leverage)."""
    take_profit_pct: float = 5.0
    """Exit when the price moves this far in favour, percent."""
    mean_wait_minutes: float = 240.0
    """Mean of the exponential wait between a trader's decisions, minutes: its next decision falls half a minute plus
    the wait later and is taken at the next minute's half (the traders decide together), so decisions are at least
    a minute apart."""
    synth_exit_depeg: float = 0.01
    """A holder of the synthetic dollar acts when its spot mid is this far below 1.00 (fraction)."""
    synth_reaction_minutes: float = 10.0
    """Mean delay from the depeg alert to a holder's action, minutes (exponential)."""
    synth_sell_floor: float = 0.5
    """Lowest price a holder who sells accepts for the synthetic dollar, USD."""
    stop_share: float = 1.0
    """Share of traders who set a stop-loss and take-profit; the others close at their next decision."""
    stop_trigger: str = "mark"
    """Price that triggers stops: mark (the venue's mark price) or last (the book's last trade)."""
    entry_band_pct: float | None = 5.0
    """A trader's entry is sent as an IOC order no worse than this far from the mark, percent (front ends' slippage
    caps, venues' price protection); null: a market order."""
    exit_band_pct: float | None = 25.0
    """Likewise for its armed exits (stop-loss, take-profit, horizon); null: a market order, as a stop-market order
    is (re-tried every minute until the position is closed either way, settled rule 13c)."""


@dataclass
class FarmerParams:
    """The farmer population's parameters."""

    capital_median_usd: float = 50_000.0
    """Median capital, USD (lognormal)."""
    capital_sigma: float = 0.8
    """Log-standard deviation of capital."""
    leverage_min: float = 2.0
    """Smallest leverage per leg."""
    leverage_max: float = 8.0
    """Largest leverage per leg."""
    leverage_dist: str = "loguniform"
    """Distribution of leverage per leg between min and max: uniform or loguniform."""
    hurdle_daily_pct_mean: float = 0.05
    """Mean hurdle: the daily return on capital a farmer needs to enter, percent (exponential draw)."""
    hold_days: float = 14.0
    """Expected holding period, days (spreads the round-trip fees and volume points)."""
    alert_margin_ratio: float = 1.5
    """A leg whose equity falls below this multiple of maintenance margin triggers a transfer from the other."""
    reaction_minutes: float = 10.0
    """Delay before a farmer reacts to a broken hedge, minutes."""
    policy: str = "close_other"
    """Reaction to a broken hedge: close_other, rehedge or hold."""
    check_minutes: float = 60.0
    """Mean time between an idle farmer's looks at the pairs' yields, minutes (a hedged farmer's margin is watched
    every minute)."""


@dataclass
class Incentives:
    """A venue's points program (incentives.<venue>)."""

    points_per_volume_usd: float = 0.0
    """Points per USD of traded notional."""
    points_per_oi_usd_hour: float = 0.0
    """Points per USD of open notional held for an hour."""


@dataclass
class LiquidityParams:
    """Limit-order traders (population.liquidity)."""

    per_market: int = 8
    """Traders per venue and perp market (0: none)."""
    depth_usd: dict[str, float] = field(default_factory=lambda: {"BTC": 100_000_000.0, "ALT": 8_000_000.0})
    """Resting notional per side per venue (before the venue's scale), USD, by asset, over all its traders."""
    min_pct: float = 0.3
    """Nearest level, percent from the observed price."""
    max_pct: float = 60.0
    """Farthest level, percent from the observed price."""
    profile: float = 0.0
    """Size of a level grows with its distance as distance^profile (0: flat)."""
    levels: int = 6
    """Levels per side per trader, at distances drawn log-uniformly between min_pct and max_pct."""
    replace_minutes: float = 20.0
    """Mean time between a trader's re-placements, minutes (exponential): the slow clock."""
    leverage: float = 3.0
    """Leverage its account is set to (its capital is sized so that its whole ladder fits)."""


@dataclass
class ValueParams:
    """Value traders (population.value)."""

    per_market: int = 3
    """Traders per venue and perp market (0: none)."""
    capital_usd: dict[str, float] = field(default_factory=lambda: {"BTC": 10_000_000.0, "ALT": 2_000_000.0})
    """Capital of each trader, USD, by asset (before the venue's scale)."""
    leverage: float = 3.0
    """Most notional per unit of capital."""
    delay_minutes: int = 3
    """Age of the fundamental it observes, minutes."""
    noise_pct: float = 0.5
    """Standard deviation of its multiplicative estimation error, percent (see noise_minutes)."""
    threshold_pct: float = 1.0
    """Gap between its estimate and the book that makes it trade, percent."""
    clip_usd: dict[str, float] = field(default_factory=lambda: {"BTC": 5_000_000.0, "ALT": 1_000_000.0})
    """Most notional per order, USD, by asset."""
    act_minutes: float = 1.0
    """Mean time between looks, minutes (exponential)."""
    noise_minutes: float = 60.0
    """Time constant of its estimation error, minutes: an Ornstein-Uhlenbeck error in log price with standard
    deviation noise_pct, so a trader's view stays wrong (and its flow one-sided) for a while; 0: drawn afresh at
    each look (memoryless noise flow)."""
    rest_exit: bool = True
    """While it holds a position, a resting limit order closes it at half the threshold beyond its estimate (a
    dip buyer's take-profit at fair value), re-placed at each look: the asks a buyer meets after a crash. false:
    none (it closes only by its IOC orders)."""


@dataclass
class MakerParams:
    """What the makers of a run share beyond their quoting parameters (population.market_makers)."""

    fair_weight_index: float = 0.5
    """Weight of the venue's index (as of the previous minute) in a maker's fair value (log-linear blend; weights
    1, 0, 0: quotes around the index alone)."""
    fair_weight_own: float = 0.3
    """Weight of its own book's last trade price (as of the previous minute)."""
    fair_weight_others: float = 0.2
    """Weight of the median of the other venues' perp mids (as of the previous minute)."""
    threshold_spread: float = 0.5
    """Makers of one venue get withdrawal thresholds spread evenly over threshold x (1 -+ this): depth thins
    gradually rather than all at once; in [0, 1) (0: one threshold for all)."""
    drift_threshold: float = 4.0
    """Withdraw when the 15-minute move of its own book is this many calm 15-minute standard deviations (a
    one-sided fall, which the standard deviation of returns alone does not see), scaled like withdraw_threshold
    (.inf: off)."""
    fair_smoothing: float = 0.5
    """Weight of the newest observation in a maker's fair value (an exponential average over minutes), in (0, 1]
    (1: no averaging)."""
    ramp_minutes: int = 20
    """Minutes over which a returning maker's size grows back from a quarter to full (0: full size at once)."""
    withdraw_sides: str = "against_move"
    """What a withdrawn maker pulls: both (every quote) or against_move (the side the move runs into: its bids in
    a fall, its asks in a rise; the other side stays quoted at the widest spreads it quotes, at calm size, so a
    buyer after a crash meets asks near fair value rather than an empty book)."""
