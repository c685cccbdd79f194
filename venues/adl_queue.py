"""The ADL queues of one waterfall round (settled rule 2e; SPEC 8.6): the ranking and the walks over it.

The ADL queue is a sort over all opposite positions, computed once per round per (market, side); coverage walks
it in order, and a position found flat or turned is dropped from the round's later walks (`RankedQueue`), so a
round's ADL costs the ranking plus work linear in its fills (capped candidates aside: see RankedQueue).

`AdlQueues` is a part of `Waterfall` (venues/waterfall.py): it reads the venue's clearinghouse `self.v.ch` and
its `adl_ranking`, keeps the round's queues in `self._queues` and counts `self.adl_queue_visits`.
"""

from __future__ import annotations

from bisect import insort
from typing import Iterator

import numpy as np


class RankedQueue:
    """One round's ADL queue of market k (SPEC 8.6): `accounts`, the candidates holding a position of sign
    `sign` when it was ranked, best first; and what the round's walks have learnt about it.

    A walk (`AdlQueues._walk`) yields, in rank order, the entries whose position in k has sign `sign` now:
    exactly those the walk from the head of SPEC 8.6 does not skip. An entry it finds exhausted (flat, or of
    the other sign) is dropped from the later walks of the round: `skip` maps a dropped index to a later one
    (a next-pointer forest with path compression, so a run of dropped entries costs about one step, wherever
    it lies; the head of the queue is the cursor), and `gone` keeps the dropped accounts by index. Within a
    round a position grows again only by a fill outside ADL (a maker's resting order hit by a book liquidation,
    the vault's takeover): `AdlQueues._revive` then puts a dropped entry that holds `sign` again back into
    `back` (sorted indices), which walks merge in at its rank (any other fill a round may come to make that can
    open or grow a position must call it too, or a walk would miss that position). An entry skipped because its cap at this
    unit's ADL price is 0 is not exhausted (another unit's ADL price may leave it room) and is never dropped.

    Cost: each walk visits the entries it fills, the capped entries it passes, each entry it drops (once per
    round, or once more per revival) and, at most once, the entry its predecessor's last fill used up (a walk
    stops at its last fill without looking again). Capped entries are visited again by every walk that passes
    them: a round in which many candidates near the head stay capped (little equity, while many units go to ADL
    beyond the mark: below zero, or at `previous_mark`) is still quadratic (capped entries x ADL'd units);
    fills and exhausted entries are not. pro_rata's cuts look at every candidate of the market on every call
    (the rule's own cost); only its leftover walks the queue. The counterfactual record (analysis only) lists
    every live entry on every call.
    """

    __slots__ = ("accounts", "k", "sign", "skip", "gone", "back")

    def __init__(self, accounts: list[int], k: int, sign: int):
        self.accounts = accounts
        self.k = k
        self.sign = sign
        self.skip: dict[int, int] = {}
        self.gone: dict[int, int] = {}
        self.back: list[int] = []

    def find(self, j: int) -> int:
        """The first index >= j not dropped (len(accounts) past the end); compresses the path it followed."""
        skip = self.skip
        r = skip.get(j)
        if r is None:
            return j
        path = [j]
        nxt = skip.get(r)
        while nxt is not None:
            path.append(r)
            r = nxt
            nxt = skip.get(r)
        for x in path:
            skip[x] = r
        return r


class AdlQueues:
    """The round's ranked ADL queues, their walks and the revival of dropped entries (a part of `Waterfall`)."""

    def _queue(self, k: int, cand_sign: int) -> RankedQueue:
        """Accounts holding a position of sign `cand_sign` in market k, ranked by the venue's adl_ranking
        (pro_rata: the pnl_leverage queue), highest first, ties by account. Once per round (SPEC 8.6)."""
        key = (k, cand_sign)
        q = self._queues.get(key)
        if q is None:
            q = self._queues[key] = RankedQueue(self.rank(k, cand_sign, self.v.params.adl_ranking), k, cand_sign)
        return q

    def _pl_queue(self, k: int, cand_sign: int) -> RankedQueue:
        """The round's pnl_leverage queue (for pro_rata's leftover and the bad-debt close at the mark)."""
        if self.v.params.adl_ranking in ("pnl_leverage", "pro_rata"):
            return self._queue(k, cand_sign)
        key = ("pnl_leverage", k, cand_sign)
        q = self._queues.get(key)
        if q is None:
            q = self._queues[key] = RankedQueue(self.rank(k, cand_sign, "pnl_leverage"), k, cand_sign)
        return q

    def _walk(self, q: RankedQueue) -> Iterator[int]:
        """The accounts of q holding a position of q's sign in its market when the walk reaches them, in rank
        order: what the walk from the head of SPEC 8.6 keeps after skipping flat and turned positions. The
        caller may fill each one before asking for the next. Entries found exhausted (before or after the
        caller's fill) are dropped for the rest of the round (RankedQueue)."""
        lots = self.v.ch.lots
        k, sign, acc = q.k, q.sign, q.accounts
        n = len(acc)
        gone, back = q.gone, q.back
        j = q.find(0)
        b = 0
        while True:
            if b < len(back) and back[b] < j:
                idx, revived = back[b], True
            elif j < n:
                idx, revived = j, False
            else:
                return
            c = acc[idx]
            self.adl_queue_visits += 1
            if lots[c, k] * sign > 0:
                yield c
                if lots[c, k] * sign > 0:
                    if revived:
                        b += 1
                    else:
                        j = q.find(j + 1)
                    continue
            gone[c] = idx   # exhausted: dropped until a fill outside ADL gives it a position of q's sign again
            if revived:
                del back[b]
            else:
                q.skip[j] = j + 1
                j = q.find(j + 1)

    def _revive(self, c: int, k: int) -> None:
        """A fill outside ADL (a maker's order taken by a book liquidation, the vault's takeover) moved c's
        position in market k: a queue of the round that dropped c as exhausted takes it back at its rank when
        c holds that queue's sign again (the walk from the head would find it there)."""
        x = int(self.v.ch.lots[c, k])
        if x == 0:
            return
        sign = 1 if x > 0 else -1
        for q in self._queues.values():
            if q.k == k and q.sign == sign and q.gone:
                idx = q.gone.pop(c, None)
                if idx is not None:
                    insort(q.back, idx)

    def rank(self, k: int, cand_sign: int, ranking: str) -> list[int]:
        """The ADL ranking as one vectorized pass and a sort (settled rule 2e)."""
        ch = self.v.ch
        n = ch.n
        lots = ch.lots[:n, k]
        idx = np.flatnonzero(lots > 0) if cand_sign > 0 else np.flatnonzero(lots < 0)
        if idx.size == 0:
            return []
        mark = ch.mark
        qty = ch.qty[idx]
        upnl_all = qty * (mark - ch.entry[idx])
        upnl = upnl_all[:, k]
        q_k = qty[:, k]
        iso = ch.isolated[idx]
        coll = ch.collateral_value(idx) if idx.size else np.zeros(0)
        # unit equity and gross notional: the cross account, or the isolated position
        eq = np.where(iso, ch.iso_margin[idx, k] + upnl, coll + upnl_all.sum(axis=1))
        gross = np.where(iso, np.abs(q_k) * mark[k], (np.abs(qty) * mark).sum(axis=1))
        with np.errstate(divide="ignore", invalid="ignore"):
            lev = np.where(eq > 0, gross / np.where(eq > 0, eq, 1.0), np.inf)
            if ranking == "pnl":
                score = upnl
            elif ranking == "leverage":
                score = lev
            else:  # pnl_leverage (and the leftover queue of pro_rata)
                pnl_pct = upnl / (np.abs(q_k) * ch.entry[idx, k])
                score = np.where(pnl_pct > 0, pnl_pct * lev, pnl_pct / lev)
        order = np.lexsort((idx, -score))
        return idx[order].tolist()
