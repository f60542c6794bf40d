"""A linearizability checker for single-register histories (Wing & Gong 1993, with
Lowe's memoisation, "Testing for linearizability", 2017): the algorithm of porcupine,
which etcd's robustness tests run, for the one model chaos.py needs.

A history is a list of `Op`s on one key (the keyspace is checked key by key: a
linearizable map is a map of linearizable registers, Herlihy & Wing's locality). Each op
has an invoke and a complete time (any clock all clients share) and either:

  - a write of `value` that was acknowledged (`complete` finite), or whose outcome is
    unknown (a timeout or a 5xx: `complete` = math.inf, so it may take effect at any
    time after its invoke, or never: linearized after every other op it changes nothing);
  - a read that answered `value` (None: the key was absent).

Failed ops (refused before they could take effect, or reads without an answer) are left
out by the caller. The register starts absent (None). Pure: no I/O, no clock.
"""

import math
from dataclasses import dataclass
from typing import Optional

# The search's bound: a key whose history needs more steps than this is reported as
# undecided (a failed check that says so) rather than left running.
MAX_STEPS_PER_KEY = 2_000_000


@dataclass
class Op:
    """One client operation on one key: kind "w" or "r", the value written or read."""
    kind: str
    value: Optional[str]
    invoke: float
    complete: float
    client: str = "?"

    def __str__(self):
        end = "?" if math.isinf(self.complete) else "%.3f" % self.complete
        return "%s %s(%r) [%.3f, %s]" % (self.client, "write" if self.kind == "w" else "read", self.value,
                                        self.invoke, end)


@dataclass
class Verdict:
    ok: bool
    undecided: bool = False
    steps: int = 0
    reason: str = ""


class _Entry:
    __slots__ = ("op", "index", "is_call", "match", "prev", "next")

    def __init__(self, op, index, is_call):
        self.op, self.index, self.is_call = op, index, is_call
        self.match = self.prev = self.next = None


def prune(history):
    """The history without the unknown writes no read observed: letting such a write
    never take effect explains everything it could, so dropping it loses no verdict and
    spares the search its concurrency with everything after its invoke."""
    read_values = {op.value for op in history if op.kind == "r"}
    return [op for op in history if not (op.kind == "w" and math.isinf(op.complete) and op.value not in read_values)]


def check_register(history, max_steps=MAX_STEPS_PER_KEY):
    """Whether the ops can be ordered, each at one instant between its invoke and its
    complete, so that every read answers the latest write before it (None before any)."""
    ops = prune(history)
    for op in ops:
        if op.kind == "r" and op.value is not None and not any(w.kind == "w" and w.value == op.value for w in ops):
            return Verdict(False, reason="%s read a value no write wrote" % op)
    events = []
    for i, op in enumerate(ops):
        call, ret = _Entry(op, i, True), _Entry(op, i, False)
        call.match, ret.match = ret, call
        # At equal times a call sorts before a return: the two ops count as concurrent,
        # the reading that accuses less.
        events.append((op.invoke, 0, call))
        events.append((op.complete, 1, ret))
    events.sort(key=lambda e: (e[0], e[1]))
    head = _Entry(None, -1, False)
    prev = head
    for _, _, entry in events:
        prev.next, entry.prev = entry, prev
        prev = entry

    def lift(call):
        call.prev.next = call.next
        if call.next:
            call.next.prev = call.prev
        ret = call.match
        ret.prev.next = ret.next
        if ret.next:
            ret.next.prev = ret.prev

    def unlift(call):
        ret = call.match
        ret.prev.next = ret
        if ret.next:
            ret.next.prev = ret
        call.prev.next = call
        if call.next:
            call.next.prev = call

    state = None
    linearized = 0
    cache = set()
    calls = []                  # (call entry, state before it)
    entry = head.next
    steps = 0
    deepest = (0, None, None)   # the furthest attempt: ops ordered, the op it could not place, the value then
    while head.next is not None:
        steps += 1
        if steps > max_steps:
            return Verdict(False, undecided=True, steps=steps,
                           reason="undecided after %d steps (%d ops)" % (max_steps, len(ops)))
        if entry.is_call:
            op = entry.op
            if op.kind == "w":
                legal, new_state = True, op.value
            else:
                legal, new_state = op.value == state, state
            if legal:
                new_linearized = linearized | (1 << entry.index)
                key = (new_linearized, new_state)
                if key not in cache:
                    cache.add(key)
                    calls.append((entry, state))
                    state, linearized = new_state, new_linearized
                    lift(entry)
                    entry = head.next
                    continue
            entry = entry.next
        else:
            # A return before its call was linearized: undo the last choice.
            if len(calls) >= deepest[0]:
                deepest = (len(calls), entry.op, state)
            if not calls:
                ordered, stuck, held = deepest
                return Verdict(False, steps=steps,
                               reason="no linearization: the furthest attempt ordered %d of %d ops, then could not "
                                      "place %s (the register held %r)" % (ordered, len(ops), stuck, held))
            call, state = calls.pop()
            linearized &= ~(1 << call.index)
            unlift(call)
            entry = call.next
    return Verdict(True, steps=steps)
