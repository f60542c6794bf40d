"""Unit tests of the register checker chaos.py runs (scripts/faults.sh runs them first):
histories that are linearizable pass, and the ones a broken mesh would produce (a read of
a value never written, a stale read after an acknowledged write, a lost write) are
refused. Run: python3 -m unittest scripts/netns/test_linearizability.py"""

import math
import random
import time
import unittest

from linearizability import Op, check_register

INF = math.inf


def w(value, invoke, complete, client="c1"):
    return Op("w", value, invoke, complete, client)


def r(value, invoke, complete, client="c2"):
    return Op("r", value, invoke, complete, client)


class RegisterChecker(unittest.TestCase):
    def assert_ok(self, history):
        v = check_register(history)
        self.assertTrue(v.ok, v.reason)

    def assert_refused(self, history):
        v = check_register(history)
        self.assertFalse(v.ok)
        self.assertFalse(v.undecided, v.reason)
        return v

    def test_sequential_history(self):
        self.assert_ok([r(None, 0, 1), w("a", 2, 3), r("a", 4, 5), w("b", 6, 7), r("b", 8, 9)])

    def test_concurrent_read_may_see_either_value(self):
        self.assert_ok([w("a", 0, 1), w("b", 2, 6), r("a", 3, 4), r("b", 5, 7)])

    def test_read_of_a_value_never_written_is_refused(self):
        v = self.assert_refused([w("a", 0, 1), r("zzz", 2, 3)])
        self.assertIn("no write wrote", v.reason)

    def test_stale_read_after_an_acknowledged_write_is_refused(self):
        v = self.assert_refused([w("a", 0, 1), w("b", 2, 3), r("a", 4, 5)])
        # The verdict names the read no order can explain and the value the register held.
        self.assertIn("read('a')", v.reason)
        self.assertIn("held 'b'", v.reason)

    def test_absent_after_an_acknowledged_write_is_refused(self):
        self.assert_refused([w("a", 0, 1), r(None, 2, 3)])

    def test_reads_going_back_in_time_are_refused(self):
        # b's write is concurrent with both reads, but once a read saw b, a later read
        # cannot see a again.
        self.assert_refused([w("a", 0, 1), w("b", 2, 10), r("b", 3, 4), r("a", 5, 6)])

    def test_unknown_write_may_take_effect_late(self):
        # A timed-out write first seen long after it was invoked.
        self.assert_ok([w("a", 0, 1), w("b", 2, INF), r("a", 3, 4), r("b", 50, 51)])

    def test_unknown_write_may_never_take_effect(self):
        self.assert_ok([w("a", 0, 1), w("b", 2, INF), r("a", 3, 4), r("a", 50, 51)])

    def test_unknown_write_cannot_take_effect_before_its_invoke(self):
        self.assert_refused([w("a", 0, 1), r("b", 2, 3), w("b", 4, INF)])

    def test_unknown_write_seen_then_unseen_is_refused(self):
        self.assert_refused([w("a", 0, 1), w("b", 2, INF), r("b", 3, 4), r("a", 5, 6)])

    def test_many_unknown_writes_stay_fast(self):
        # 3 clients, 400 ops, a third of the writes unknown: the shape of a chaos run's key.
        rng = random.Random(7)
        history, t, current = [], 0.0, None
        for i in range(400):
            t += rng.random()
            if rng.random() < 0.5:
                value = "v%d" % i
                if rng.random() < 0.3:
                    history.append(w(value, t, INF))
                    if rng.random() < 0.5:
                        current = value        # it took effect at once
                else:
                    history.append(w(value, t, t + 0.5))
                    current = value
                t += 0.6
            else:
                history.append(r(current, t, t + 0.1))
                t += 0.2
        start = time.monotonic()
        v = check_register(history)
        self.assertTrue(v.ok, v.reason)
        self.assertLess(time.monotonic() - start, 10.0)


if __name__ == "__main__":
    unittest.main()
