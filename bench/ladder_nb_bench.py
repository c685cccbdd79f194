"""Per-call cost of a maker's requote of one market on OrderBookNB books, old (cancel_all + post_ladder) vs new
(replace_ladder), and of a spot book (Python cancel_all_spot + post_spot_ladder vs the kernels), on the ladders
the default run's makers send after WARM steps (recorded over REC more), each timed alternately on the live state
(both forms leave the same state, so the repeats replace a ladder by itself; a spot rung that trades moves
balances a little); min and median over REPS repeats
per call, averaged over the recorded calls.

Run: nice -n 19 .venv/bin/python bench/ladder_nb_bench.py [WARM REC REPS]   (default 60 5 15)
"""
import sys, os, time, statistics
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import logging
import venues.venue
import venues.orders as vo
from venues.orderbook_nb import OrderBookNB
import venues.ladder_nb
venues.venue.OrderBook = OrderBookNB
from run import build_model
logging.getLogger("MESA").setLevel(logging.WARNING)
WARM, REC, REPS = (int(x) for x in sys.argv[1:4]) if len(sys.argv) > 3 else (60, 5, 15)
O = vo.Orders
m = build_model([])
m.run_for(WARM)
rec, srec = [], []
real_rl, real_psl = O.replace_ladder, O.post_spot_ladder
def rl(self, a, mk, orders, post_only=True):
    rec.append((self, a, mk, list(orders)))
    return real_rl(self, a, mk, orders, post_only)
def psl(self, a, s, orders):
    srec.append((self, a, s, list(orders)))
    return real_psl(self, a, s, orders)
O.replace_ladder, O.post_spot_ladder = rl, psl
m.run_for(REC)
O.replace_ladder, O.post_spot_ladder = real_rl, real_psl
def py_cas(v, a, s):
    for side, p, n in v.spot_books[s].cancel_all_of(a):
        v._unlock_spot(a, s, side, p, n)
pc = time.perf_counter
def bench(calls, old, new):
    mins_o, mins_n, med_o, med_n = [], [], [], []
    for args in calls:
        to, tn = [], []
        for r in range(REPS):
            t = pc(); old(*args); to.append(pc() - t)
            t = pc(); new(*args); tn.append(pc() - t)
        mins_o.append(min(to))
        mins_n.append(min(tn))
        med_o.append(statistics.median(to))
        med_n.append(statistics.median(tn))
    k = len(calls)
    return (sum(mins_o) / k * 1e6, sum(mins_n) / k * 1e6, sum(med_o) / k * 1e6, sum(med_n) / k * 1e6)
def old_perp(v, a, mk, orders):
    v.cancel_all(a, mk); v.post_ladder(a, mk, orders)
def new_perp(v, a, mk, orders):
    v.replace_ladder(a, mk, orders)
def old_spot(v, a, s, orders):
    py_cas(v, a, s); v._post_spot_ladder_py(a, s, orders)
def new_spot(v, a, s, orders):
    v.cancel_all_spot(a, s); v.post_spot_ladder(a, s, orders)
r = bench(rec, old_perp, new_perp)
print(f"perp requote of one market, {len(rec)} recorded calls x {REPS}: old min {r[0]:.1f} us, new min {r[1]:.1f} us "
      f"(ratio {r[1] / r[0]:.3f}); medians old {r[2]:.1f}, new {r[3]:.1f} (ratio {r[3] / r[2]:.3f})")
r = bench(srec, old_spot, new_spot)
print(f"spot cancel + ladder of one book, {len(srec)} recorded calls x {REPS}: old min {r[0]:.1f} us, "
      f"new min {r[1]:.1f} us "
      f"(ratio {r[1] / r[0]:.3f}); medians old {r[2]:.1f}, new {r[3]:.1f} (ratio {r[3] / r[2]:.3f})")
