"""The waterfall's money moves on a venue's clearinghouse (settled rules 1 and 2; SPEC section 8), each a double
entry: what leaves one place (an account's balance or isolated margin, the insurance fund, the vault, the fees
kept) lands on another in the same call, so each move keeps the identity of settled rule 1 by itself. The one
single entry is `keep_fee`, the other half of `Clearinghouse.settle_maker`'s debit of the maker, and the one
write-off is `write_off` (a negative margin closed at zero against the bad-debt ledger, which the identity
subtracts). These are the only writes of the waterfall (venues/waterfall.py) to balances and ledgers; positions
move through `Clearinghouse.apply_fill` and `settle_maker` (tests/test_layout.py checks that it writes nothing
else of the clearinghouse). Each function does the floating-point operations the waterfall did in place, in the
same order: results are unchanged to the bit.
"""

from __future__ import annotations

from .clearinghouse import Clearinghouse


def keep_fee(ch: Clearinghouse, fee: float) -> None:
    """A liquidation fill's maker fee, debited from the maker by settle_maker, booked as the venue's fees kept."""
    ch.fees_kept[0] += fee


def fund_pays(ch: Clearinghouse, i: int, m: int, k: int, amount: float) -> None:
    """The insurance fund pays `amount` USD of a liquidation's shortfall into the unit (i, m): to its isolated
    margin in market k (m >= 0) or its USD balance (cross)."""
    ch.insurance[0] -= amount
    if m >= 0:
        ch.iso_margin[i, k] += amount
    else:
        ch.bal[i, 0] += amount


def charge(ch: Clearinghouse, i: int, m: int, k: int, amount: float, to_fund: bool) -> None:
    """The liquidation fee `amount` USD taken from the unit (i, m) (as in fund_pays) to the insurance fund, or to
    the fees kept where the venue has none."""
    if m >= 0:
        ch.iso_margin[i, k] -= amount
    else:
        ch.bal[i, 0] -= amount
    if to_fund:
        ch.insurance[0] += amount
    else:
        ch.fees_kept[0] += amount


def release_isolated(ch: Clearinghouse, i: int, m: int, to_fund: bool) -> float:
    """What is left of account i's isolated margin in market m after the book closed it, to the insurance fund
    or to the account's USD balance; returns the amount."""
    left = float(ch.iso_margin[i, m])
    ch.iso_margin[i, m] = 0.0
    if to_fund:
        ch.insurance[0] += left
    else:
        ch.bal[i, 0] += left
    return left


def collateral_to_fund(ch: Clearinghouse, i: int) -> None:
    """Every asset of cross account i's balance to the insurance fund (the binance-like remainder)."""
    for a in range(ch.A):
        ch.insurance[a] += float(ch.bal[i, a])
        ch.bal[i, a] = 0.0


def vault_takes_margin(ch: Clearinghouse, vault: int, i: int, m: int) -> None:
    """The backstop vault takes over the collateral of the unit (i, m) with its positions: account i's whole
    balance row (cross, m < 0) or its isolated margin in market m, into the vault's balance."""
    if m < 0:
        ch.bal[vault] += ch.bal[i]
        ch.bal[i] = 0.0
    else:
        ch.bal[vault, 0] += ch.iso_margin[i, m]
        ch.iso_margin[i, m] = 0.0


def write_off(ch: Clearinghouse, i: int, m: int) -> float:
    """A unit (i, m) with no positions left closed at zero: a negative USD balance (cross) or isolated margin
    set to 0 and its size added to the bad-debt ledger. Returns what it held (negative: the debt written off)."""
    if m < 0:
        usd = float(ch.bal[i, 0])
        if usd < 0:
            ch.bal[i, 0] = 0.0
    else:
        usd = float(ch.iso_margin[i, m])
        if usd < 0:
            ch.iso_margin[i, m] = 0.0
    if usd < 0:
        ch.bad_debt[0] += -usd
    return usd


def take_collateral(ch: Clearinghouse, i: int, a: int, amount: float, value: float, fund: bool,
                    vault: int | None) -> None:
    """Account i's `amount` of asset a turned into `value` USD (its oracle value after haircut, settled rule 2f)
    by the insurance fund when `fund` (it has a fund) and the fund holds the value, else by the vault when it
    holds it, else by the venue's fees kept; the taker receives the asset."""
    if ch.touched is not None:   # balances move without a fill: keep the round's bookkeeping exact
        ch.touched.add(i)
        if vault is not None:
            ch.touched.add(vault)
    ch.bal[i, a] = 0.0
    ch.bal[i, 0] += value
    if fund and ch.insurance[0] >= value:
        ch.insurance[0] -= value
        ch.insurance[a] += amount
    elif vault is not None and ch.bal[vault, 0] >= value:
        ch.bal[vault, 0] -= value
        ch.bal[vault, a] += amount
    else:
        ch.fees_kept[0] -= value
        ch.fees_kept[a] += amount
