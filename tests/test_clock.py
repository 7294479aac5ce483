"""The simulated clocks: jumps, pacing, and device threads that wait on their own."""

from __future__ import annotations

import threading

from agent.clock import SimClock

START = 1_767_225_600.0


def test_time_jumps_to_each_deadline_and_never_back() -> None:
    clock = SimClock(start=START)
    assert clock.sleep_until(START + 3600)
    assert clock.now() == START + 3600
    clock.sleep_until(START + 10)
    assert clock.now() == START + 3600


def test_a_set_stop_event_ends_the_wait() -> None:
    clock = SimClock(start=START)
    stop = threading.Event()
    stop.set()
    assert not clock.sleep_until(START + 5, stop)
    assert clock.now() == START


def test_a_device_thread_waiting_does_not_move_the_schedule() -> None:
    clock = SimClock(start=START)
    clock.sleep_until(START + 1)  # this thread owns the schedule
    seen: list[float] = []

    def conversion() -> None:
        clock.sleep_until(clock.now() + 0.0093)  # a BME280's measurement time
        seen.append(clock.now())

    worker = threading.Thread(target=conversion)
    worker.start()
    worker.join(timeout=5)
    assert seen == [START + 1.0093]  # the device saw its time pass...
    assert clock.now() == START + 1  # ...the agent's schedule did not move
    clock.sleep_until(START + 2)
    assert clock.now() == START + 2
