"""A pytest plugin (loaded by conftest.py): SIGTERM or SIGINT ends the whole session, not just the test it lands
in. Lightning's fit catches an interrupt and turns it into one failed test, and the suite went on until SIGKILL
(a CI time-out). The handler records the signal and interrupts; after the test, the session exits."""

from __future__ import annotations

import signal
import threading

import pytest

RECEIVED: list[str] = []


def _stop(signum, frame):
    RECEIVED.append(signal.Signals(signum).name)
    raise KeyboardInterrupt(f"{signal.Signals(signum).name} received")


def pytest_configure(config):
    # Lightning composes its own SIGTERM handler with the one it finds, so this one still runs inside a fit
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)


@pytest.fixture(autouse=True)
def _end_the_session_after_a_signal():
    yield
    if RECEIVED:
        pytest.exit(f"stopped by {RECEIVED[0]}", returncode=128 + getattr(signal, RECEIVED[0]))
