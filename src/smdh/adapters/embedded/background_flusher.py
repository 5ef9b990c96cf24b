"""A daemon thread that runs a flush every interval, or sooner when woken.

Why: the rollup flush recomputes the buckets of every series a period touched (about half
a second of work for 1,500 devices). Run inline by the ingest pipeline's after-store hook,
it held up the batch that happened to trigger it, and with it every device's PUBACK, once
per period (measured with benchmarks/bench_mqtt_end_to_end.py: 500 ms spikes every 5 s).
In its own thread it only shares the interpreter with the hot path.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)


class BackgroundFlusher:
    def __init__(self, flush: Callable[[], object], interval_s: float, name: str) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self._flush = flush
        self._interval = interval_s
        self._wake = threading.Event()
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        with self._lock:
            if not self._started and not self._stopping:
                self._started = True
                self._thread.start()

    def wake(self) -> None:
        """Flush now rather than at the end of the interval (once started)."""
        self._wake.set()

    def stop(self) -> None:
        """Stop the thread once its current flush, if any, is done (no final flush)."""
        with self._lock:
            self._stopping = True
            started = self._started
        self._wake.set()
        if started and self._thread is not threading.current_thread():
            self._thread.join()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._stopping:
                return
            try:
                self._flush()
            except Exception:  # the next period retries; the marks of this one are kept
                log.exception("background flush failed")
