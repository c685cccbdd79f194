"""Venues: pure numpy exchanges (order book, clearinghouse, prices and funding, liquidation waterfall).

No Mesa import and no agent import here: agents act on a venue through `Venue`'s public methods (what they
may read directly is in venues/venue.py's docstring).
Presets are chosen by name from `PRESETS` (data in conf/venue_preset/), never by a callable from user config.
"""

from .adl import adl_haircut
from .events import KIND_NAMES, REJECT_REASONS, EventLog
from .orderbook import BUY, SELL, OrderBook
from .params import ConfigError, VenueParams
from .presets import PRESETS, load_preset
from .venue import InvariantError, OrderResult, Venue

__all__ = ["BUY", "SELL", "KIND_NAMES", "PRESETS", "REJECT_REASONS", "ConfigError", "EventLog", "InvariantError",
           "OrderBook", "OrderResult", "Venue", "VenueParams", "adl_haircut", "load_preset"]
