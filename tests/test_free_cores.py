"""The default number of torch threads: the cores less the machine's load, between 1 and 8 (both scripts)."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import ppo_gru  # noqa: E402
import ppo_trxl  # noqa: E402


@pytest.mark.parametrize("script", [ppo_trxl, ppo_gru], ids=["ppo_trxl", "ppo_gru"])
@pytest.mark.parametrize("cores, load, threads", [
    (2, 0.1, 2),   # a quiet machine: every core
    (2, 1.2, 1),   # one busy process: the other core
    (2, 2.9, 1),   # fully busy: one thread, never zero
    (16, 3.4, 8),  # at most 8
    (16, 10.6, 5),
])
def test_free_cores_are_the_cores_less_the_load(script, cores, load, threads, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, 0.0, 0.0), raising=False)
    assert script.free_cores() == threads


def test_without_a_load_average_half_the_cores_are_taken_as_busy(monkeypatch):
    def unobtainable():
        raise OSError("Load averages are unobtainable")

    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(6)), raising=False)
    monkeypatch.setattr(os, "getloadavg", unobtainable, raising=False)
    assert ppo_gru.free_cores() == 3
