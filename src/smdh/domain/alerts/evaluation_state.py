"""What the evaluator remembers between batches, with bounded memory per (rule, device).

* ``RuleDeviceState``: raised or not, the current episode number, when a sustained
  condition started holding (``pending_since``), and the kind-specific memory: the recent
  (time, value) pairs of a rate-of-change rule (capped), the running mean and variance of
  an anomaly rule (Welford, or exponentially weighted when the rule has a ``window``), the
  per-bucket sums of a window average (at most ``WINDOW_BUCKETS`` + 1 buckets).
* ``EvaluationState``: those per key, plus the last time each device was seen, and which
  keys changed since the last snapshot, so persisting after every batch costs only what
  changed. ``to_json``/``restore`` round-trip it for a restart.

Pure: no I/O, no clock; the application snapshots and stores it.
"""

from __future__ import annotations

import itertools
import math
import threading
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from smdh.domain.telemetry import DeviceSample

RuleKey = tuple[str, str, str]  # tenant, rule id, device id
DeviceKey = tuple[str, str]  # tenant, device id
LastSeen = tuple[float, str, str]  # timestamp, site id, sensor type

RATE_HISTORY_CAP = 512
WINDOW_BUCKETS = 60
SEP = "|"  # never valid in tenant, rule or device ids


def key_text(key: tuple[str, ...]) -> str:
    return SEP.join(key)


def key_of(text: str) -> tuple[str, ...]:
    return tuple(text.split(SEP))


class RuleDeviceState:
    __slots__ = (
        "active",
        "buckets",
        "closed",
        "count",
        "episode",
        "first_t",
        "history",
        "last_t",
        "m2",
        "mean",
        "pending_since",
        "pending_value",
    )

    def __init__(self) -> None:
        self.active = False
        self.episode = 0
        self.pending_since: float | None = None
        self.pending_value: float | str | None = None
        self.history: deque[tuple[float, float]] | None = None
        self.count = 0
        self.mean = 0.0
        self.m2 = 0.0  # Welford: sum of squared deviations; weighted: the variance itself
        self.buckets: deque[list[float]] | None = None  # [start, sum, count]
        self.closed: tuple[float, float] | None = None  # sums of all buckets but the newest
        self.first_t: float | None = None
        self.last_t: float | None = None

    # --- anomaly statistics -----------------------------------------------------------------

    def observe(self, value: float, window: int) -> None:
        self.count += 1
        if window <= 0 or self.count == 1:
            delta = value - self.mean
            self.mean += delta / self.count
            self.m2 += delta * (value - self.mean)
            if window > 0:  # switch the accumulator to a variance from the next sample
                self.m2 = 0.0
            return
        alpha = 2.0 / (window + 1.0)
        delta = value - self.mean
        increment = alpha * delta
        self.mean += increment
        self.m2 = (1.0 - alpha) * (self.m2 + delta * increment)

    def variance(self, window: int) -> float:
        if window > 0:
            return self.m2
        return self.m2 / (self.count - 1) if self.count > 1 else 0.0

    def z_score(self, value: float, window: int) -> float:
        std = math.sqrt(max(self.variance(window), 0.0))
        if std < 1e-12:
            return (
                0.0
                if abs(value - self.mean) < 1e-12
                else math.copysign(math.inf, value - self.mean)
            )
        return (value - self.mean) / std

    # --- window average ---------------------------------------------------------------------

    def add_to_window(self, t: float, value: float, window_s: int) -> float:
        """Adds the sample; returns the average over the last ``window_s`` seconds.

        The sums of the buckets before the newest are cached (``closed``) until a bucket is
        added or dropped, so a sample costs O(1); the result is the same float as summing
        every bucket in order."""
        width = max(1.0, window_s / WINDOW_BUCKETS)
        start = math.floor(t / width) * width
        buckets = self.buckets
        if buckets is None:
            buckets = self.buckets = deque()
        if buckets and buckets[-1][0] >= start:  # a late sample counts in the newest bucket
            last = buckets[-1]
            last[1] += value
            last[2] += 1
        else:
            last = [start, value, 1.0]
            buckets.append(last)
            self.closed = None
        horizon = t - window_s
        while buckets[0][0] + width <= horizon:  # never the newest: it holds ``t``
            buckets.popleft()
            self.closed = None
        closed = self.closed
        if closed is None:
            closed = self.closed = (
                sum(b[1] for b in itertools.islice(buckets, len(buckets) - 1)),
                sum(b[2] for b in itertools.islice(buckets, len(buckets) - 1)),
            )
        count = closed[1] + last[2]
        return (closed[0] + last[1]) / count if count else value

    # --- rate of change ---------------------------------------------------------------------

    def rate(self, t: float, value: float, window_s: int) -> float | None:
        """Units per second from the oldest sample still in the window; None if too few."""
        if self.history is None:
            self.history = deque(maxlen=RATE_HISTORY_CAP if window_s > 0 else 1)
        history = self.history
        if window_s > 0:
            while history and t - history[0][0] > window_s:
                history.popleft()
        rate = None
        if history and t > history[0][0]:
            rate = (value - history[0][1]) / (t - history[0][0])
        if not history or t > history[-1][0]:
            history.append((t, value))
        return rate

    # --- persistence ------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"a": self.active, "e": self.episode}
        if self.pending_since is not None:
            data["ps"] = self.pending_since
            data["pv"] = self.pending_value
        if self.history:
            data["h"] = [list(p) for p in self.history]
            data["hm"] = self.history.maxlen
        if self.count:
            data["n"], data["mu"], data["m2"] = self.count, self.mean, self.m2
        if self.buckets:
            data["b"] = [list(b) for b in self.buckets]
        if self.first_t is not None:
            data["ft"] = self.first_t
        if self.last_t is not None:
            data["lt"] = self.last_t
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> RuleDeviceState:
        st = cls()
        st.active = bool(data.get("a", False))
        st.episode = int(data.get("e", 0))
        st.pending_since = data.get("ps")
        st.pending_value = data.get("pv")
        if "h" in data:
            st.history = deque(((float(t), float(v)) for t, v in data["h"]), maxlen=data["hm"])
        st.count = int(data.get("n", 0))
        st.mean = float(data.get("mu", 0.0))
        st.m2 = float(data.get("m2", 0.0))
        if "b" in data:
            st.buckets = deque([float(x) for x in b] for b in data["b"])
        st.first_t = data.get("ft")
        st.last_t = data.get("lt")
        return st


class EvaluationState:
    """Per-(rule, device) states, devices' last-seen times and what changed since a snapshot.

    ``lock`` serializes evaluation in one process (hook threads and the scheduler tick);
    across processes the event store's optimistic concurrency keeps alerts unique.
    """

    def __init__(self) -> None:
        self.rules: dict[RuleKey, RuleDeviceState] = {}
        self.last_seen: dict[DeviceKey, LastSeen] = {}
        self.pending: set[RuleKey] = set()  # sustained conditions waiting for their duration
        self.dirty: set[RuleKey] = set()  # decisions, pending times, episodes: save now
        self.touched: set[RuleKey] = set()  # statistics of stateful kinds: save now and then
        self.dirty_seen: set[DeviceKey] = set()
        self.removed: set[RuleKey] = set()
        self.bindings: dict[DeviceKey, Any] = {}  # the evaluator's per-device caches
        self._seen_texts: dict[DeviceKey, str] = {}  # snapshot keys of devices, made once
        self.lock = threading.RLock()

    def unseen(self, samples: Sequence[DeviceSample]) -> Sequence[DeviceSample]:
        """The samples newer than what was evaluated before this batch, per device.

        Delivery is at least once (MQTT QoS 1, HTTP retries, Kinesis redelivery): storing a
        sample twice is harmless, evaluating it twice is not (replaying ``[900, 6000]`` ppm
        would clear the open alert with the old 900 and raise a new episode with the old
        6000). A late sample older than the device's newest one is stored, not evaluated.
        """
        before: dict[DeviceKey, float] = {}
        for sample in samples:
            key = (sample.tenant_id, sample.device_id)
            if key not in before:
                seen = self.last_seen.get(key)
                before[key] = -math.inf if seen is None else seen[0]
        if all(s.timestamp > before[(s.tenant_id, s.device_id)] for s in samples):
            return samples
        return [s for s in samples if s.timestamp > before[(s.tenant_id, s.device_id)]]

    def forget_tenant(self, tenant_id: str, device_id: str | None = None) -> int:
        """Drop everything kept about a tenant (or one of its devices), for erasure;
        returns how many rule states went. Nothing of it is saved again."""

        def mine(key: tuple[str, ...]) -> bool:
            return key[0] == tenant_id and (device_id is None or key[-1] == device_id)

        gone = [k for k in self.rules if mine(k)]
        for key in gone:
            del self.rules[key]
        for keys in (self.pending, self.dirty, self.touched, self.removed):
            keys.difference_update([k for k in keys if mine(k)])
        for table in (self.last_seen, self.bindings, self._seen_texts):
            for dkey in [k for k in table if mine(k)]:
                del table[dkey]
        self.dirty_seen.difference_update([k for k in self.dirty_seen if mine(k)])
        return len(gone)

    def get(self, key: RuleKey) -> RuleDeviceState:
        st = self.rules.get(key)
        if st is None:
            st = self.rules[key] = RuleDeviceState()
        return st

    def set_episode(self, key: RuleKey, episode: int, *, active: bool | None = None) -> None:
        """The application's correction after reading the store (restart, latched alert)."""
        st = self.get(key)
        st.episode = episode
        if active is not None:
            st.active = active
            self.bindings.pop((key[0], key[2]), None)  # its groups count raised alerts
        self.dirty.add(key)

    def forget(self, key: RuleKey) -> None:
        self.rules.pop(key, None)
        self.bindings.pop((key[0], key[2]), None)
        self.pending.discard(key)
        self.dirty.discard(key)
        self.touched.discard(key)
        self.removed.add(key)

    def active_keys(self) -> Iterator[RuleKey]:
        return (k for k, st in self.rules.items() if st.active)

    # --- snapshots --------------------------------------------------------------------------

    def take_changes(
        self, *, statistics: bool = False
    ) -> tuple[dict[str, dict[str, Any] | None], dict[str, list[Any]]]:
        """Changed rule states (None = removed) and last-seen entries since the last call.

        Statistics (rate histories, anomaly moments, window sums) change with every sample;
        they are included only when ``statistics`` is true (the service does so once a
        minute): losing a minute of them on a crash only lengthens warm-up.
        """
        if statistics:
            self.dirty |= self.touched
            self.touched.clear()
        changes: dict[str, dict[str, Any] | None] = {key_text(k): None for k in self.removed}
        for key in self.dirty:
            st = self.rules.get(key)
            changes[key_text(key)] = st.to_json() if st is not None else None
        texts = self._seen_texts
        seen = {
            texts.get(k) or texts.setdefault(k, key_text(k)): list(self.last_seen[k])
            for k in self.dirty_seen
        }
        self.dirty.clear()
        self.dirty_seen.clear()
        self.removed.clear()
        return changes, seen

    def to_json(self) -> dict[str, Any]:
        return {
            "rules": {key_text(k): st.to_json() for k, st in self.rules.items()},
            "last_seen": {key_text(k): list(v) for k, v in self.last_seen.items()},
        }

    @classmethod
    def restore(
        cls, rules: Mapping[str, Mapping[str, Any]], last_seen: Mapping[str, list[Any]]
    ) -> EvaluationState:
        state = cls()
        for text, data in rules.items():
            parts = key_of(text)
            if len(parts) != 3:
                continue
            key: RuleKey = (parts[0], parts[1], parts[2])
            st = RuleDeviceState.from_json(data)
            state.rules[key] = st
            if st.pending_since is not None:
                state.pending.add(key)
        for text, value in last_seen.items():
            parts = key_of(text)
            if len(parts) == 2 and len(value) == 3:
                state.last_seen[(parts[0], parts[1])] = (
                    float(value[0]),
                    str(value[1]),
                    str(value[2]),
                )
        return state

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> EvaluationState:
        return cls.restore(data.get("rules", {}), data.get("last_seen", {}))
