"""The monitor's observation windows (harness._core.observe): one update per chunk inside them, the
iterates kept there, windows drawn from the run's seed, a cap on what is kept."""

import numpy as np

from harness._core.monitor import Budget, Monitor, Schedule
from harness._core.observe import Observer


def _run(observer, updates=2000, d=3, iterate=None):
    mon = Monitor(lambda w: {"objective": 0.0}, budget=Budget(updates=updates), observer=observer,
                  schedule=Schedule(ratio=1.5, max_interval_s=None, eval_fraction=None))
    w, t, chunks = np.zeros(d), 0, []
    mon.tick(0, w if iterate is None else iterate)
    while mon.running:
        k = mon.next_chunk(t)
        chunks.append((t, k))
        w = w + k
        t += k
        mon.tick(t, w if iterate is None else iterate)
    return mon, chunks


def test_chunks_are_one_update_inside_each_window_and_the_iterates_there_are_kept():
    obs = Observer(seed=3)
    mon, chunks = _run(obs)
    assert obs.windows[0] == (0, 128) and len(obs.windows) == 3
    for start, end in obs.windows:
        inside = [k for t, k in chunks if start <= t < end]
        assert inside and set(inside) == {1}, (start, end)
        assert any(t == start for t, _ in chunks)            # a chunk ends where a window starts
    ups, its = obs.trajectory()
    assert list(ups[:129]) == list(range(129))               # the head, its end included
    assert its.shape == (len(ups), 3) and np.all(its[:, 0] == ups)   # copies of what was ticked, not views
    assert mon.status == "budget" and max(k for _, k in chunks) > 1  # outside the windows chunks grow


def test_windows_follow_the_seed_and_stay_inside_the_budget():
    a, b, c = Observer(seed=1), Observer(seed=1), Observer(seed=2)
    for o in (a, b, c):
        o.plan(5000)
    assert a.windows == b.windows and a.windows != c.windows
    assert all(end <= 5000 for _, end in a.windows)
    short = Observer(seed=1)
    short.plan(100)                                          # a run shorter than the head: the head only
    assert short.windows == [(0, 128)]


def test_what_is_kept_is_capped_and_a_non_vector_iterate_is_said():
    obs = Observer(seed=0, max_floats=50)
    _run(obs, d=10)
    assert len(obs.iterates) == 5 and "kept up to" in obs.dropped
    odd = Observer(seed=0)
    _run(odd, iterate=[1.0, 2.0])
    assert not odd.iterates and "not a 1-D float numpy vector" in odd.dropped
