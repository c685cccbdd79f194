"""Venue parameters as validated dataclasses (numbers and names only; presets live in conf/venue_preset/).

Every parameter of a venue's mechanics is here, with its unit; `from_dict` refuses an unknown key or a
value out of range with one line naming the key (`ConfigError`). Settled rules cited are those of
shared/MECHANICS.md ("Settled rules").
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Literal

MarkRule = Literal["binance_like", "hyperliquid_like", "lighter_like"]
AdlRanking = Literal["pnl_leverage", "pnl", "leverage", "pro_rata"]
CollateralOracle = Literal["market", "redemption"]
AdlPrice = Literal["bankruptcy", "previous_mark"]

USD = "USD"
SYNTH = "SYNTH"  # the synthetic dollar (USDe-like) that some accounts post as collateral
ASSETS = ("BTC", "ALT")
"""The model's assets: each has a fundamental and a perpetual market on every venue (conf/schema.py checks)."""


class ConfigError(ValueError):
    """A config key or value that is not allowed; the message is one line naming the key."""


@dataclass
class Tier:
    """One notional bracket of a market's tier table (settled rule 7)."""

    max_notional_usd: float
    """Upper bound of the bracket, USD of position notional at mark (the last tier may be inf)."""
    max_leverage: float
    """Largest leverage allowed for a position whose notional falls in this bracket."""
    maintenance_rate: float
    """Maintenance margin as a fraction of notional; must be below 1 / max_leverage."""


@dataclass
class PerpMarket:
    """A perpetual market on one venue."""

    tick_size: float
    """USD per price tick."""
    lot_size: float
    """Base-asset units per lot."""
    tiers: list[Tier]
    """Tier table, brackets in ascending notional (settled rule 7)."""
    oi_cap_usd: float = math.inf
    """Cap on the market's long open interest (USD at mark); new positions past it are refused."""


@dataclass
class SpotMarket:
    """A spot book (no margin) of `base` against USD on the venue."""

    base: str
    """The asset bought and sold (BTC, ALT, SYNTH)."""
    tick_size: float
    """USD per price tick."""
    lot_size: float
    """Base-asset units per lot."""


@dataclass
class VenueParams:
    """Everything that defines one venue's mechanics. Units in each docstring."""

    mark_rule: MarkRule = "binance_like"
    """Mark price rule (settled rule 4)."""
    perps: dict[str, PerpMarket] = field(default_factory=dict)
    """Perpetual markets by asset name."""
    spots: dict[str, SpotMarket] = field(default_factory=dict)
    """Spot books by asset name (base against USD)."""

    # fees and leverage
    maker_fee_bps: float = 2.0
    """Maker fee, bps of notional (negative is a rebate)."""
    taker_fee_bps: float = 5.0
    """Taker fee, bps of notional."""
    max_leverage: float = math.inf
    """Venue-wide leverage cap: effective max = min(cap, tier max) (settled rule 7)."""
    default_leverage: float = 20.0
    """Leverage an account trades at until it sets its own (capped by the effective max)."""

    # prices and funding
    funding_interval_hours: float = 8.0
    """Hours between funding payments (settled rule 5)."""
    funding_interest_rate_8h: float = 0.0001
    """Interest rate i per 8 hours (settled rule 5)."""
    funding_clamp: float = 0.0005
    """Clamp on (i - P) per 8 hours (settled rule 5)."""
    funding_cap_per_hour: float = 0.04
    """Cap on |funding rate| per hour (settled rule 5)."""
    basis_ma_minutes: float = 1.0
    """Window of the basis moving average in binance_like Price 2 (30 s on Binance; one step is a minute)."""
    premium_ema_minutes: float = 2.5
    """Half-life-free EMA span of the premium in hyperliquid_like / lighter_like marks (150 s on Hyperliquid)."""

    # collateral and withdrawals
    synthetic_collateral: bool = False
    """Whether the synthetic dollar is accepted as collateral."""
    collateral_oracle: CollateralOracle = "market"
    """How the synthetic dollar is valued: its spot book on this venue, or 1.00 while redemption works."""
    synthetic_haircut: float = 0.0
    """Haircut on the synthetic dollar's collateral value, fraction."""
    spot_collateral_haircut: float = 0.1
    """Haircut on spot-held BTC / ALT valued at the index, fraction."""
    withdraw_unrealized_profit: bool = False
    """Whether unrealised profit may be withdrawn (settled rule 6)."""

    # liquidation waterfall (settled rule 2; used by the waterfall)
    max_liquidation_rounds: int = 5
    """Waterfall rounds per step (settled rule 2)."""
    liquidation_fee_bps: float = 0.0
    """Liquidation (clearance) fee, bps of notional, to the insurance fund (or fees kept where there is none)."""
    liquidation_max_slippage_bps: float = 0.0
    """How far past the bankruptcy price / mark a liquidation order's limit may go when a fund can pay (2b)."""
    remainder_to_insurance: bool = False
    """Margin left after a book liquidation goes to the insurance fund (binance_like) instead of the trader."""
    partial_liquidation_usd: float = math.inf
    """Positions above this notional are liquidated in part first (hyperliquid_like: 100k)."""
    partial_liquidation_fraction: float = 1.0
    """Share of such a position sent to the book first (hyperliquid_like: 0.2)."""
    partial_liquidation_cooldown_minutes: float = 0.0
    """Wait before the whole position is sent after a partial liquidation (hyperliquid_like: 0.5)."""
    insurance_fund_usd: float = 0.0
    """Starting insurance fund, USD; 0 means no fund (settled rule 2)."""
    backstop_vault_usd: float = 0.0
    """Starting backstop vault capital, USD; 0 means no vault (settled rule 2)."""
    backstop_threshold: float = 2.0 / 3.0
    """Takeover when equity < threshold x maintenance margin and not negative (2c)."""
    vault_max_drawdown_pct: float = 20.0
    """The vault declines takeovers while its equity is below (1 - this/100) x its starting capital (2c)."""
    vault_unwind_pct_per_step: float = 10.0
    """Largest share of each held position the vault offers per step while unwinding, percent (2c)."""
    adl_ranking: AdlRanking = "pnl_leverage"
    """ADL counterparty ranking (2e)."""
    adl_price: AdlPrice = "bankruptcy"
    """ADL fill price: the bankrupt position's bankruptcy price, or the previous mark (Hyperliquid's docs)."""

    def validate(self, where: str = "venue") -> "VenueParams":
        _check(self.max_leverage >= 1, f"{where}.max_leverage", "a leverage cap of at least 1", self.max_leverage)
        _check(self.default_leverage >= 1 and math.isfinite(self.default_leverage),
               f"{where}.default_leverage", "a finite number >= 1", self.default_leverage)
        for key in ("maker_fee_bps", "taker_fee_bps", "liquidation_fee_bps", "liquidation_max_slippage_bps"):
            v = getattr(self, key)
            lo = -100.0 if key == "maker_fee_bps" else 0.0
            _check(math.isfinite(v) and lo <= v < 10_000, f"{where}.{key}", f"a number in [{lo:g}, 10000)", v)
        _check(self.maker_fee_bps + self.taker_fee_bps >= 0, f"{where}.maker_fee_bps",
               "a rebate no larger than the taker fee", self.maker_fee_bps)
        _check(self.funding_interval_hours > 0 and math.isfinite(self.funding_interval_hours),
               f"{where}.funding_interval_hours", "a positive number of hours", self.funding_interval_hours)
        for key in ("funding_clamp", "funding_cap_per_hour", "basis_ma_minutes", "premium_ema_minutes",
                    "partial_liquidation_cooldown_minutes"):
            v = getattr(self, key)
            _check(math.isfinite(v) and v >= 0, f"{where}.{key}", "a finite number >= 0", v)
        _check(math.isfinite(self.funding_interest_rate_8h), f"{where}.funding_interest_rate_8h", "a finite number",
               self.funding_interest_rate_8h)
        for key in ("insurance_fund_usd", "backstop_vault_usd"):
            v = getattr(self, key)
            _check(math.isfinite(v) and v >= 0, f"{where}.{key}", "a finite amount >= 0 (0 means none)", v)
        for key in ("synthetic_haircut", "spot_collateral_haircut"):
            v = getattr(self, key)
            _check(0 <= v < 1, f"{where}.{key}", "a fraction in [0, 1)", v)
        _check(0 < self.backstop_threshold <= 1, f"{where}.backstop_threshold", "a fraction in (0, 1]",
               self.backstop_threshold)
        _check(0 <= self.vault_max_drawdown_pct <= 100, f"{where}.vault_max_drawdown_pct", "a percent in [0, 100]",
               self.vault_max_drawdown_pct)
        _check(0 < self.vault_unwind_pct_per_step <= 100, f"{where}.vault_unwind_pct_per_step",
               "a percent in (0, 100]", self.vault_unwind_pct_per_step)
        _check(0 < self.partial_liquidation_fraction <= 1, f"{where}.partial_liquidation_fraction",
               "a fraction in (0, 1]", self.partial_liquidation_fraction)
        _check(self.partial_liquidation_usd > 0, f"{where}.partial_liquidation_usd", "a positive amount (inf: never)",
               self.partial_liquidation_usd)
        _check(isinstance(self.max_liquidation_rounds, int) and self.max_liquidation_rounds >= 1,
               f"{where}.max_liquidation_rounds", "an integer >= 1", self.max_liquidation_rounds)
        _check(bool(self.perps), f"{where}.perps", "at least one perpetual market", "none")
        for name, m in self.perps.items():
            k = f"{where}.perps.{name}"
            _check(m.tick_size > 0 and math.isfinite(m.tick_size), f"{k}.tick_size", "a positive number", m.tick_size)
            _check(m.lot_size > 0 and math.isfinite(m.lot_size), f"{k}.lot_size", "a positive number", m.lot_size)
            _check(m.oi_cap_usd > 0, f"{k}.oi_cap_usd", "a positive amount (inf: no cap)", m.oi_cap_usd)
            _check(len(m.tiers) >= 1, f"{k}.tiers", "at least one tier", "none")
            prev = None
            for j, t in enumerate(m.tiers):
                tk = f"{k}.tiers[{j}]"
                _check(t.max_leverage >= 1 and math.isfinite(t.max_leverage), f"{tk}.max_leverage",
                       "a finite leverage >= 1", t.max_leverage)
                _check(0 < t.maintenance_rate < 1.0 / t.max_leverage, f"{tk}.maintenance_rate",
                       f"a rate in (0, 1/max_leverage = {1.0 / t.max_leverage:g})", t.maintenance_rate)
                _check(t.max_notional_usd > 0, f"{tk}.max_notional_usd", "a positive notional", t.max_notional_usd)
                if prev is not None:
                    _check(t.max_notional_usd > prev.max_notional_usd, f"{tk}.max_notional_usd",
                           "brackets in ascending notional", t.max_notional_usd)
                    _check(t.maintenance_rate >= prev.maintenance_rate, f"{tk}.maintenance_rate",
                           "rates that do not fall as notional grows", t.maintenance_rate)
                    _check(t.max_leverage <= prev.max_leverage, f"{tk}.max_leverage",
                           "max leverage that does not rise as notional grows", t.max_leverage)
                prev = t
        for name, s in self.spots.items():
            k = f"{where}.spots.{name}"
            _check(s.base in (SYNTH,) or s.base in self.perps, f"{k}.base",
                   f"{SYNTH} or one of the venue's perp assets {sorted(self.perps)}", s.base)
            _check(s.tick_size > 0 and s.lot_size > 0, f"{k}.tick_size", "positive tick_size and lot_size",
                   (s.tick_size, s.lot_size))
        if self.synthetic_collateral and self.collateral_oracle == "market":
            _check(any(s.base == SYNTH for s in self.spots.values()), f"{where}.collateral_oracle",
                   "'redemption', or a SYNTH spot book on the venue for 'market'", self.collateral_oracle)
        return self


def _check(ok: bool, key: str, allowed: str, got: Any) -> None:
    if not ok:
        raise ConfigError(f"{key}: expected {allowed}, got {got!r}")


# ---------------------------------------------------------------------- building from plain dicts
def from_dict(cls: type, data: Any, where: str) -> Any:
    """Build dataclass `cls` from nested plain data, refusing unknown keys and wrong types by name."""
    if dataclasses.is_dataclass(cls):
        names = [f.name for f in dataclasses.fields(cls)]
        if isinstance(data, (list, tuple)) and len(data) == len(names):  # compact rows, e.g. tiers
            data = dict(zip(names, data))
        if not isinstance(data, dict):
            raise ConfigError(f"{where}: expected a mapping of {cls.__name__} fields, got {type(data).__name__}")
        hints = _type_hints(cls)
        unknown = sorted(set(data) - set(names))
        if unknown:
            raise ConfigError(f"{where}.{unknown[0]}: unknown key; allowed: {', '.join(names)}")
        kwargs = {}
        for f in dataclasses.fields(cls):
            if f.name in data:
                kwargs[f.name] = _convert(hints[f.name], data[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise ConfigError(f"{where}.{f.name}: missing; required by {cls.__name__}")
        return cls(**kwargs)
    return _convert(cls, data, where)


@functools.cache
def _type_hints(cls: type) -> dict:
    """typing.get_type_hints(cls), evaluated once per class (each call compiles every string annotation again)."""
    return typing.get_type_hints(cls)


def _convert(tp: Any, v: Any, where: str) -> Any:
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, v, where)
    if origin is Literal:
        allowed = typing.get_args(tp)
        if v not in allowed:
            raise ConfigError(f"{where}: expected one of {', '.join(map(str, allowed))}, got {v!r}")
        return v
    if origin in (list, tuple):
        (item,) = typing.get_args(tp)[:1]
        if not isinstance(v, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {type(v).__name__}")
        return [_convert(item, x, f"{where}[{i}]") for i, x in enumerate(v)]
    if origin is dict:
        _, item = typing.get_args(tp)
        if not isinstance(v, dict):
            raise ConfigError(f"{where}: expected a mapping, got {type(v).__name__}")
        return {str(k): _convert(item, x, f"{where}.{k}") for k, x in v.items()}
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if v is None and type(None) in args:
            return None
        first = None
        for a in args:
            if a is type(None):
                continue
            try:
                return _convert(a, v, where)
            except ConfigError as e:
                first = first or e
        if first is not None and len([a for a in args if a is not type(None)]) == 1:
            raise ConfigError(f"{first} (or null)") from None
        raise ConfigError(f"{where}: expected {tp}, got {v!r}")
    if tp is bool:
        if not isinstance(v, bool):
            raise ConfigError(f"{where}: expected true or false, got {v!r}")
        return v
    if tp is int:
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{where}: expected an integer, got {v!r}")
        return int(v)
    if tp is float:
        if isinstance(v, str) and v.strip().lower() in ("inf", ".inf", "+inf"):
            return math.inf
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {v!r}")
        v = float(v)
        if math.isnan(v):
            raise ConfigError(f"{where}: expected a number, got nan")
        return v
    if tp is str:
        if not isinstance(v, str):
            raise ConfigError(f"{where}: expected a string, got {v!r}")
        return v
    return v
