"""A venue's accounts: opening them, deposits and withdrawals (settled rule 6), the leverage an account trades at
(settled rule 7), what an agent may read of its account, and the margin helpers the order checks share.

`Accounts` is one of the parts `Venue` (venues/venue.py) is built from; it works on the state `Venue.__init__`
sets up (the clearinghouse `ch`, the books, the spot reservations `_spot_locked`, the event log).
"""

from __future__ import annotations

import math

import numpy as np

from . import events as ev
from .margin_nb import withdrawable_any
from .orderbook import BUY, SELL
from .params import USD


class Accounts:
    """Accounts, balances and the margin they hold (a part of `Venue`)."""

    @property
    def n_accounts(self) -> int:
        return self.ch.n

    @property
    def spot_locked(self) -> np.ndarray:
        """Base units each account has reserved for its resting spot asks, (accounts x assets): read only (the
        compiled order and margin passes read it; orders change it)."""
        return self._spot_locked

    def open_account(self, isolated: bool = False) -> int:
        i = self.ch.open_account(isolated, self._default_lev)
        if self._spot_locked.shape[0] < self.ch.cap:
            grown = np.zeros((self.ch.cap, len(self.assets)))
            grown[: self._spot_locked.shape[0]] = self._spot_locked
            self._spot_locked = grown
        return i

    def market_index(self, market: int | str) -> int:
        if type(market) is int:
            return market
        return market if isinstance(market, np.integer) else self.perp_names.index(market)

    def spot_index(self, market: int | str) -> int:
        return market if isinstance(market, (int, np.integer)) else self.spot_names.index(market)

    def deposit(self, account: int, amount: float, asset: str = USD) -> None:
        a = self.asset_index[asset]
        if not (amount > 0 and math.isfinite(amount)):
            raise ValueError(f"venue {self.name}: deposit must be a positive finite amount, got {amount!r}")
        self.ch.bal[account, a] += amount
        self.ch.deposits[a] += amount
        self.events.append(ev.DEPOSIT, -1, account, 0, 0, 0.0, amount, info=a)

    def withdrawable(self, account: int) -> float:
        """USD value that may leave (settled rule 6): max(0, collateral value + min(0, unrealised PnL)
        - initial margin of open positions); with withdraw_unrealized_profit the profit counts too.
        An agent asks before most orders: with fewer than 8 markets one compiled call (margin_nb.withdrawable_any)
        with the operations of the Python form `_withdrawable_py`, which are those of the numpy form
        `_withdrawable_np` (its sums over fewer than 8 markets are sequential): the same bits."""
        ch = self.ch
        if ch.M >= 8:
            return self._withdrawable_np(account)
        # the Python form below (_withdrawable_py), in one compiled call (venues/margin_nb.py)
        return withdrawable_any(account, ch.lots, ch.qty, ch.entry, ch.bal, ch.weight_array, ch.leverage, ch.lot_size,
                                ch.isolated, ch._mark, bool(self.params.withdraw_unrealized_profit),
                                self._spot_locked, ch.asset_value, ch.asset_haircut)

    def _withdrawable_py(self, i: int) -> float:
        """withdrawable in Python floats (the form the compiled one mirrors; fewer than 8 markets)."""
        ch = self.ch
        coll = ch._collateral_float(i)
        locked = self._spot_locked[i]
        if locked.any():
            coll -= float(locked @ (ch.asset_value * (1.0 - ch.asset_haircut)))
        if ch.isolated[i]:  # isolated positions keep their own margin; only the free balance may leave
            return max(0.0, coll)
        mark = ch.mark_list
        upnl = 0.0
        im = 0.0
        for q, mk, e, n, ls, lev in zip(ch.qty[i].tolist(), mark, ch.entry[i].tolist(), ch.lots[i].tolist(),
                                        ch._lot_list, ch.leverage[i].tolist()):
            upnl += q * (mk - e)
            im += abs(n) * ls * mk / lev
        counted = upnl if self.params.withdraw_unrealized_profit else min(0.0, upnl)
        return max(0.0, coll + counted - im)

    def _withdrawable_np(self, i: int) -> float:
        """withdrawable in numpy (the form for 8 markets or more; tests hold the float form to it)."""
        ch = self.ch
        coll = float(ch.collateral_value(slice(i, i + 1))[0])
        coll -= float(self._spot_locked[i] @ (ch.asset_value * (1.0 - ch.asset_haircut)))
        upnl_pos = ch.qty[i] * (ch.mark - ch.entry[i])
        if ch.isolated[i]:
            return max(0.0, coll)
        upnl = float(upnl_pos.sum())
        counted = upnl if self.params.withdraw_unrealized_profit else min(0.0, upnl)
        return max(0.0, coll + counted - self._initial_margin(i, ch.lots[i]))

    def withdraw(self, account: int, amount: float, asset: str = USD) -> bool:
        """Withdraw `amount` of `asset` if settled rule 6 allows; a refusal is logged as a rejection."""
        a = self.asset_index[asset]
        ch = self.ch
        if not (amount > 0 and math.isfinite(amount)):
            self._reject(account, -1, 0, 0, "invalid")
            return False
        if self.halted:
            self._reject(account, -1, 0, 0, "halted")
            return False
        if amount > ch.bal[account, a] - self._spot_locked[account, a] + 1e-12:
            self._reject(account, -1, 0, 0, "insufficient_balance")
            return False
        value = amount * ch.asset_value[a] * (1.0 - ch.asset_haircut[a])
        if value > self.withdrawable(account) + 1e-9:
            self._reject(account, -1, 0, 0, "withdrawal_limit")
            return False
        ch.bal[account, a] -= amount
        ch.withdrawals[a] += amount
        self.events.append(ev.WITHDRAWAL, -1, account, 0, 0, 0.0, amount, info=a)
        return True

    def set_leverage(self, account: int, market: int | str, leverage: float) -> bool:
        """Choose the leverage an account trades at on a market; refused above the effective max for the
        account's current notional (settled rule 7)."""
        m = self.market_index(market)
        worst = self._worst_notional(account, m, 0, 0)
        if not (leverage >= 1) or leverage > self.ch.tiers[m].max_leverage_at(worst):
            self._reject(account, m, 0, 0, "tier_max_leverage")
            return False
        self.ch.leverage[account, m] = leverage
        return True

    def account(self, account: int) -> dict:
        """A readable snapshot of one account."""
        ch = self.ch
        i = account
        return {
            "balances": {a: float(ch.bal[i, k]) for k, a in enumerate(self.assets)},
            "isolated": bool(ch.isolated[i]),
            "positions": {m: float(ch.qty[i, k]) for k, m in enumerate(self.perp_names)},
            "lots": {m: int(ch.lots[i, k]) for k, m in enumerate(self.perp_names)},
            "entry": {m: float(ch.entry[i, k]) for k, m in enumerate(self.perp_names)},
            "iso_margin": {m: float(ch.iso_margin[i, k]) for k, m in enumerate(self.perp_names)},
            "equity": float(ch.equity(slice(i, i + 1))[0]),
            "maintenance": float(ch.maintenance_matrix(ch.notional(slice(i, i + 1))).sum()),
            "initial_margin": self._initial_margin(i, ch.lots[i]),
            "withdrawable": self.withdrawable(i),
        }

    def equity(self, account: int) -> float:
        return float(self.ch.equity(slice(account, account + 1))[0])

    # ------------------------------------------------------------------ what an agent may read
    def position(self, account: int, market: int | str) -> int:
        """The account's position in lots (signed)."""
        return int(self.ch.lots[account, self.market_index(market)])

    def balance(self, account: int, asset: str = USD) -> float:
        return float(self.ch.bal[account, self.asset_index[asset]])

    def lot_size(self, market: int | str) -> float:
        return self.books[self.market_index(market)].lot_size

    def max_leverage(self, market: int | str, notional_usd: float = 0.0) -> float:
        """The effective max leverage (tier and venue cap, settled rule 7) for a position of that notional."""
        return float(self.ch.tiers[self.market_index(market)].max_leverage_at(notional_usd))

    def margin(self, account: int) -> tuple[float, float]:
        """(equity, maintenance margin) of a cross account, USD."""
        return self.ch.margin_one(account)

    # ================================================================== margin helpers
    def _worst_notional(self, i: int, m: int, side: int, lots: int) -> float:
        """Largest |position| notional (at mark) the account could reach in market m if all its resting
        orders and this order filled."""
        ch = self.ch
        pos = int(ch.lots[i, m])
        up = pos + int(ch.open_buy[i, m]) + (lots if side == BUY else 0)
        dn = pos - int(ch.open_sell[i, m]) - (lots if side == SELL else 0)
        return max(abs(up), abs(dn)) * ch.lot_size[m] * ch.mark[m]

    def _initial_margin(self, i: int, lots_row: np.ndarray) -> float:
        ch = self.ch
        notional = np.abs(lots_row) * ch.lot_size * ch.mark
        return float((notional / ch.leverage[i]).sum())

    def _locked_value(self, i: int) -> float:
        """Collateral value (USD) reserved by the account's resting spot orders."""
        if not self.spot_books:
            return 0.0
        return sum(a * w for a, w in zip(self._spot_locked[i].tolist(), self.ch.collateral_weight) if a)

