"""One check for engine tests: two stores hold the same tracks, numbers, sources and failures, bit for bit."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from counterpoint.store import Store


def assert_same_store(a: Path, b: Path, specs: list[str], *, in_order: bool = True) -> None:
    """Same track order (unless not ``in_order``: then the same tracks, in any order), pooled vectors,
    frames, timestamps, source files (every one recorded) and failures (stage and message) per encoder."""
    left, right = Store(a), Store(b)
    for spec in specs:
        sources = left.sources(spec)
        assert sources == right.sources(spec) and all(s.known for s in sources.values()), spec
        pooled_a, pooled_b = left.pooled(spec), right.pooled(spec)
        ids, other_ids = list(pooled_a.obs["id"]), list(pooled_b.obs["id"])
        assert (ids == other_ids) if in_order else (sorted(ids) == sorted(other_ids)), spec
        position = {track_id: i for i, track_id in enumerate(other_ids)}
        np.testing.assert_array_equal(pooled_a.X, pooled_b.X[[position[i] for i in ids]], err_msg=spec)
        frames_a, frames_b = left.frames(spec), right.frames(spec, ids=ids)
        for x, y, s, t in zip(frames_a.frames, frames_b.frames, frames_a.timestamps, frames_b.timestamps, strict=True):
            np.testing.assert_array_equal(x, y, err_msg=spec)
            np.testing.assert_array_equal(s, t, err_msg=spec)
    columns = ["encoder", "track_id", "stage", "error"]
    failures_a = left.failures()[columns].sort_values(columns).reset_index(drop=True)
    failures_b = right.failures()[columns].sort_values(columns).reset_index(drop=True)
    assert failures_a.equals(failures_b), (failures_a, failures_b)
