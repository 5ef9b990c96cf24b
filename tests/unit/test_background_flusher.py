"""The background flusher: runs on its interval or when woken, survives a failing flush,
and stops cleanly."""

from __future__ import annotations

import threading

import pytest

from smdh.adapters.embedded.background_flusher import BackgroundFlusher


def test_wake_flushes_now_and_a_failure_does_not_stop_the_thread() -> None:
    calls: list[str] = []
    flushed = threading.Semaphore(0)

    def flush() -> None:
        calls.append(threading.current_thread().name)
        flushed.release()
        if len(calls) == 1:
            raise RuntimeError("disk full")

    flusher = BackgroundFlusher(flush, interval_s=3600.0, name="test-flusher")
    flusher.ensure_started()
    flusher.wake()
    assert flushed.acquire(timeout=10)
    flusher.wake()  # after the failure the thread still serves wake-ups
    assert flushed.acquire(timeout=10)
    flusher.stop()
    assert calls == ["test-flusher", "test-flusher"]


def test_interval_flushes_without_a_wake_and_stop_is_idempotent() -> None:
    flushed = threading.Event()
    flusher = BackgroundFlusher(flushed.set, interval_s=0.01, name="test-interval")
    flusher.ensure_started()
    assert flushed.wait(timeout=10)
    flusher.stop()
    flusher.stop()
    flushed.clear()
    flusher.ensure_started()  # a stopped flusher does not start again
    assert not flushed.wait(timeout=0.05)


def test_interval_must_be_positive() -> None:
    with pytest.raises(ValueError, match="interval_s"):
        BackgroundFlusher(lambda: None, interval_s=0, name="x")
