"""Tidy event records in preallocated column buffers that grow in chunks (settled rule 12).

One row per fill (one per account side of a trade), funding payment, deposit, withdrawal, rejection and, with
the waterfall, liquidation stage. Columns: step, venue, market, account, kind, side, lots, price, notional,
fee, plus `info` (a kind-specific number: the funding rate, a rejection reason code, a leverage) and `aux`
(a second one: PnL before an ADL fill, the counterparty account of a fill).
"""

from __future__ import annotations

import numpy as np

# kinds of event
FILL = 0
FUNDING = 1
DEPOSIT = 2
WITHDRAWAL = 3
REJECT = 4
LIQUIDATION = 5
BACKSTOP = 6
INSURANCE = 7
ADL = 8
BAD_DEBT = 9
KIND_NAMES = ("fill", "funding", "deposit", "withdrawal", "reject", "liquidation", "backstop", "insurance",
              "adl", "bad_debt")

# rejection reasons (the `info` column of a REJECT row)
REJECT_REASONS = (
    "initial_margin",        # equity after the order would be below initial margin
    "tier_max_leverage",     # the account's leverage is above the tier's (or venue cap's) max for that notional
    "oi_cap",                # the market's open-interest cap would be passed
    "reduce_only",           # a reduce-only order that would not reduce
    "withdrawal_limit",      # more than settled rule 6 allows
    "insufficient_balance",  # not enough of the asset
    "halted",                # the venue is in a halt window
    "post_only_would_cross",
    "invalid",               # a non-positive size, an unknown market, a price that is not a number
    "no_liquidity",          # a market order met an empty book
)
REASON_CODE = {r: i for i, r in enumerate(REJECT_REASONS)}

_COLUMNS = (
    ("step", np.int32), ("venue", np.int16), ("market", np.int16), ("account", np.int64), ("kind", np.int8),
    ("side", np.int8), ("lots", np.int64), ("price", np.float64), ("notional", np.float64),
    ("fee", np.float64), ("info", np.float64), ("aux", np.float64),
)


class EventLog:
    """Column buffers for event rows; `append` is O(1) amortised, growth is by chunks, never per row.

    With a `sink` (a callable taking a dict of column arrays), the filled rows are handed to it whenever
    `spill_rows` of them have gathered, and dropped from memory: a long run's memory stays flat (settled rule 12)
    while its events go, for instance, to a Parquet file. `drain()` hands over the rest at the end.
    """

    def __init__(self, venue_id: int = 0, chunk: int = 65_536, sink=None, spill_rows: int = 32_768):
        self.venue_id = venue_id
        self.sink = sink
        self.spill_rows = int(spill_rows)
        self.spilled = 0   # rows already handed to the sink
        self.chunk = int(chunk)
        self.n = 0
        self._cap = self.chunk
        self._cols = {name: np.zeros(self._cap, dt) for name, dt in _COLUMNS}
        self._pending: list[tuple] = []
        self.step = 0

    def _grow(self) -> None:
        self._cap += max(self.chunk, self._cap // 2)
        for name, arr in self._cols.items():
            new = np.zeros(self._cap, arr.dtype)
            new[: self.n] = arr[: self.n]
            self._cols[name] = new

    def append(self, kind: int, market: int, account: int, side: int = 0, lots: int = 0, price: float = 0.0,
               notional: float = 0.0, fee: float = 0.0, info: float = 0.0, aux: float = 0.0) -> None:
        # rows queue as tuples (cheap in the per-fill path) and move into the column buffers in blocks
        self._pending.append((self.step, self.venue_id, market, account, kind, side, lots, price, notional, fee,
                              info, aux))
        if len(self._pending) >= 4096:
            self._flush()

    def append_many(self, kind: int, market: int, account: np.ndarray, side, lots, price, notional, fee=0.0,
                    info=0.0, aux=0.0) -> None:
        """Rows of one kind and market at once (arrays or scalars per column), after any queued rows: the same
        rows, in the same order, as that many `append` calls."""
        k = len(account)
        if k == 0:
            return
        self._flush()
        while self.n + k > self._cap:
            self._grow()
        sl = slice(self.n, self.n + k)
        c = self._cols
        c["step"][sl] = self.step
        c["venue"][sl] = self.venue_id
        c["market"][sl] = market
        c["account"][sl] = account
        c["kind"][sl] = kind
        c["side"][sl] = side
        c["lots"][sl] = lots
        c["price"][sl] = price
        c["notional"][sl] = notional
        c["fee"][sl] = fee
        c["info"][sl] = info
        c["aux"][sl] = aux
        self.n += k
        if self.sink is not None and self.n >= self.spill_rows:
            self._spill()

    def _flush(self) -> None:
        """Move the queued rows into the column buffers (and spill them to the sink past `spill_rows`)."""
        rows = self._pending
        if rows:
            k = len(rows)
            while self.n + k > self._cap:
                self._grow()
            # one conversion of the whole block (every value is exact in float64: ints stay far below 2^53)
            block = np.array(rows, dtype=np.float64)
            for j, (name, _dt) in enumerate(_COLUMNS):
                self._cols[name][self.n: self.n + k] = block[:, j]
            self.n += k
            self._pending = []
        if self.sink is not None and self.n >= self.spill_rows:
            self._spill()

    def _spill(self) -> None:
        if self.sink is None or self.n == 0:
            return
        self.sink({name: arr[: self.n].copy() for name, arr in self._cols.items()})
        self.spilled += self.n
        self.n = 0

    def drain(self) -> None:
        """Hand every row still held to the sink and forget it (no-op without a sink)."""
        self._flush()
        self._spill()

    def __len__(self) -> int:
        return self.n + len(self._pending)

    def columns(self) -> dict[str, np.ndarray]:
        """Views of the filled rows (copy before keeping them past the next append)."""
        self._flush()
        return {name: arr[: self.n] for name, arr in self._cols.items()}

    def of_kind(self, kind: int) -> dict[str, np.ndarray]:
        cols = self.columns()
        mask = cols["kind"] == kind
        return {k: v[mask] for k, v in cols.items()}

    def count(self, kind: int) -> int:
        self._flush()
        return int(np.count_nonzero(self._cols["kind"][: self.n] == kind))

    def clear(self) -> None:
        """Forget the rows (after they were written to disk); the buffers are kept."""
        self._pending = []
        self.n = 0
