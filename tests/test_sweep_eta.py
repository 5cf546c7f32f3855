"""The sweep's time-left estimate weighs experiments by the cost of their env."""

from __future__ import annotations

import pytest

from archgym.sweep._eta import EnvWeightedEta


def test_eta_by_hand_weighs_a_slow_env_more() -> None:
    # 4 cheap experiments (1 s each) and 2 slow ones (10 s each); the cheap ones ran first
    eta = EnvWeightedEta(["cheap"] * 4 + ["slow"] * 2)
    assert eta.remaining_s(0.0) is None  # nothing finished: no estimate
    for _ in range(4):
        eta.done("cheap", 1.0)
    # no slow one done: it is weighed like the mean so far (1 s): 2 s left of 4 s done
    assert eta.remaining_s(4.0) == pytest.approx(2.0)
    eta.done("slow", 10.0)
    # done weight 14 s, one slow left (10 s): elapsed 14 s -> 10 s left; a per-count
    # estimate would say 14 / 5 = 2.8 s
    assert eta.remaining_s(14.0) == pytest.approx(10.0)
    # two workers halve the elapsed time, and the estimate with it
    assert eta.remaining_s(7.0) == pytest.approx(5.0)
    eta.done("slow", 10.0)
    assert eta.remaining_s(24.0) == 0.0


def test_sweep_bar_shows_the_env_weighted_estimate(tmp_path, capsys) -> None:
    from concurrent.futures import ThreadPoolExecutor

    from archgym.sweep import load_sweep, run_sweep

    text = """
[sweep]
budget = 4
seeds = 2
[[envs]]
id = "archgym/Systolic-v0"
label = "a"
[[agents]]
name = "random"
"""
    with ThreadPoolExecutor(1) as ex:
        run_sweep(load_sweep("e.toml", text=text), tmp_path / "s", ex, progress=True)
    err = capsys.readouterr().err
    assert "(by env)" in err and "left ~" in err
