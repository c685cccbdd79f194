"""The ADL queues of one waterfall round (settled rule 2e; SPEC 8.6): the ranking and the walks over it.

The ADL queue is a ranking of all opposite positions, scored once per round per (market, side) and put in order
only as far as the walks read it (a partition and a sort of the next smallest keys, `RankedQueue.extend`);
coverage walks it in order, and a position found flat or turned is dropped from the round's later walks (`RankedQueue`), so a
round's ADL costs the ranking plus work linear in its fills (capped candidates aside: see RankedQueue).

`AdlQueues` is a part of `Waterfall` (venues/waterfall.py): it reads the venue's clearinghouse `self.v.ch` and
its `adl_ranking`, keeps the round's queues in `self._queues` and counts `self.adl_queue_visits`.
"""

from __future__ import annotations

from bisect import insort
from typing import Iterator

import numpy as np


class RankedQueue:
    """One round's ADL queue of market k (SPEC 8.6): the candidates holding a position of sign `sign` when it was
    ranked, best first (`head`: those put in order so far, of `n`; `accounts`: all of them), and what the
    round's walks have learnt about it.

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

    __slots__ = ("head", "n", "_idx", "_key", "k", "sign", "skip", "gone", "back")

    FIRST = 256
    """Entries put in order when the queue is made; each extension doubles what is ordered."""

    def __init__(self, idx: np.ndarray, key: np.ndarray, k: int, sign: int):
        self.n = int(idx.size)
        self.head: list[int] = []   # the accounts put in rank order so far
        # the rest, not yet ordered: candidates (ascending) and sort keys (ascending key first, ties by account)
        self._idx, self._key = idx, key
        self.k = k
        self.sign = sign
        self.skip: dict[int, int] = {}
        self.gone: dict[int, int] = {}
        self.back: list[int] = []
        self.extend()

    def extend(self) -> None:
        """Put the next entries in order: the FIRST (then as many as are ordered) smallest keys of the rest, with
        every entry tied with the largest of them, by a partition and a sort of those alone (a walk rarely goes
        past a few hundred entries of a queue of 100,000: the rest is never sorted)."""
        idx, key = self._idx, self._key
        c = max(self.FIRST, len(self.head))
        if idx.size > c:
            thr = np.partition(key, c - 1)[c - 1]
            if thr == thr:   # not NaN (NaN sorts last: then everything is ordered at once, below)
                take = key <= thr
                order = np.argsort(key[take], kind="stable")   # ties by account: idx is ascending
                self.head.extend(idx[take][order].tolist())
                rest = ~take
                self._idx, self._key = idx[rest], key[rest]
                return
        self.head.extend(idx[np.argsort(key, kind="stable")].tolist())
        self._idx = self._key = idx[:0]

    @property
    def accounts(self) -> list[int]:
        """The whole queue in rank order (orders the rest first)."""
        while len(self.head) < self.n:
            self.extend()
        return self.head

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
            q = self._queues[key] = RankedQueue(*self._rank_keys(k, cand_sign, self.v.params.adl_ranking), k,
                                                cand_sign)
        return q

    def _pl_queue(self, k: int, cand_sign: int) -> RankedQueue:
        """The round's pnl_leverage queue (for pro_rata's leftover and the bad-debt close at the mark)."""
        if self.v.params.adl_ranking in ("pnl_leverage", "pro_rata"):
            return self._queue(k, cand_sign)
        key = ("pnl_leverage", k, cand_sign)
        q = self._queues.get(key)
        if q is None:
            q = self._queues[key] = RankedQueue(*self._rank_keys(k, cand_sign, "pnl_leverage"), k, cand_sign)
        return q

    def _walk(self, q: RankedQueue) -> Iterator[int]:
        """The accounts of q holding a position of q's sign in its market when the walk reaches them, in rank
        order: what the walk from the head of SPEC 8.6 keeps after skipping flat and turned positions. The
        caller may fill each one before asking for the next. Entries found exhausted (before or after the
        caller's fill) are dropped for the rest of the round (RankedQueue)."""
        lots = self.v.ch.lots
        k, sign, acc = q.k, q.sign, q.head
        n = q.n
        gone, back = q.gone, q.back
        j = q.find(0)
        b = 0
        while True:
            if b < len(back) and back[b] < j:
                idx, revived = back[b], True
            elif j < n:
                idx, revived = j, False
                if j >= len(acc):
                    q.extend()
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
        """The ADL ranking (settled rule 2e): accounts holding a position of sign `cand_sign` in market k, highest
        score first, ties by account."""
        return RankedQueue(*self._rank_keys(k, cand_sign, ranking), k, cand_sign).accounts

    def _rank_keys(self, k: int, cand_sign: int, ranking: str) -> tuple[np.ndarray, np.ndarray]:
        """(candidates in ascending order, their sort keys: minus the ranking's score) in one vectorized pass."""
        ch = self.v.ch
        n = ch.n
        lots = ch.lots[:n, k]
        idx = np.flatnonzero(lots > 0) if cand_sign > 0 else np.flatnonzero(lots < 0)
        if idx.size == 0:
            return idx, np.zeros(0)
        mark = ch.mark
        # the candidates' unrealised PnL and gross notional over all markets, a market (a contiguous column of the
        # clearinghouse's column-major arrays) at a time: a row-wise sum of 10 markets over 100,000 gathered
        # rows costs twice as much
        upnl_sum = np.zeros(idx.size)
        gross_all = np.zeros(idx.size)
        for j in range(mark.size):
            q_j = ch.qty[:, j].take(idx)
            u_j = q_j * (mark[j] - ch.entry[:, j].take(idx))
            upnl_sum += u_j
            gross_all += np.abs(q_j) * mark[j]
            if j == k:
                q_k, upnl = q_j, u_j
        iso = ch.isolated[idx]
        coll = ch.collateral_value(idx)
        # unit equity and gross notional: the cross account, or the isolated position
        eq = np.where(iso, ch.iso_margin[:, k].take(idx) + upnl, coll + upnl_sum)
        gross = np.where(iso, np.abs(q_k) * mark[k], gross_all)
        with np.errstate(divide="ignore", invalid="ignore"):
            lev = np.where(eq > 0, gross / np.where(eq > 0, eq, 1.0), np.inf)
            if ranking == "pnl":
                score = upnl
            elif ranking == "leverage":
                score = lev
            else:  # pnl_leverage (and the leftover queue of pro_rata)
                pnl_pct = upnl / (np.abs(q_k) * ch.entry[:, k].take(idx))
                score = np.where(pnl_pct > 0, pnl_pct * lev, pnl_pct / lev)
        return idx, -score
