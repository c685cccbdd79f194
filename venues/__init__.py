"""Venues: pure numpy exchanges (order book, clearinghouse, prices and funding, liquidation waterfall).

No Mesa import and no agent import here: agents act on a venue through `Venue`'s public methods (what they
may read directly is in venues/venue.py's docstring).
Presets are chosen by name from `PRESETS` (data in conf/venue_preset/), never by a callable from user config.
"""

from . import nb_cache

nb_cache.use_digest_cache()   # before any kernel is defined: numba's cache folder named by the kernel sources

from .adl import adl_haircut  # noqa: E402
from .events import KIND_NAMES, REJECT_REASONS, EventLog  # noqa: E402
from .orderbook import BUY, SELL, OrderBook  # noqa: E402
from .params import ConfigError, VenueParams  # noqa: E402
from .presets import PRESETS, load_preset  # noqa: E402
from .venue import InvariantError, OrderResult, Venue  # noqa: E402

__all__ = ["BUY", "SELL", "KIND_NAMES", "PRESETS", "REJECT_REASONS", "ConfigError", "EventLog", "InvariantError",
           "OrderBook", "OrderResult", "Venue", "VenueParams", "adl_haircut", "load_preset"]
