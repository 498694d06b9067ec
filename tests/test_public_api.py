"""The package's public API: every name of ``__all__`` resolves, the import stays light, and the
names work together from embedding to a comparison and a probe."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

import counterpoint as cp
from conftest import make_class_folders


def test_every_public_name_resolves_to_what_its_module_defines() -> None:
    import importlib

    for name in cp.__all__:
        value = getattr(cp, name)
        if name != "__version__":
            assert value is getattr(importlib.import_module(cp._PUBLIC[name]), name)
    assert set(cp.__all__) <= set(dir(cp))


def test_importing_the_package_loads_no_heavy_library() -> None:
    code = "import sys, counterpoint; print(' '.join(m for m in ('torch', 'sklearn', 'h5py', 'librosa') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == ""


def test_an_unknown_name_is_an_attribute_error() -> None:
    try:
        cp.no_such_function
    except AttributeError as exc:
        assert "no_such_function" in str(exc)
    else:
        raise AssertionError("an unknown name resolved")


def test_embed_open_compare_and_probe_through_the_public_names(tmp_path: Path) -> None:
    root = make_class_folders(tmp_path / "data", per_class=8, seconds=1.0)
    report = cp.embed_dataset(root, tmp_path / "run.h5", ["symbolic-stats", "audio-stats"])
    assert [run.embedded for run in report.runs] == [16, 16]
    store = cp.Store(tmp_path / "run.h5")
    matrix = store.pooled("audio-stats")
    assert isinstance(matrix, cp.EmbeddingMatrix) and matrix.X.shape[0] == len(matrix.obs) == 16
    comparison = cp.run_compare(store, cp.CompareSettings(label="class", n_boot=5, n_perm=5))
    assert [(p.audio, p.symbolic) for p in comparison.pairs] == [("audio-stats", "symbolic-stats")]
    result = cp.probe(store, "symbolic-stats", label="class", settings=cp.TrainSettings(epochs=5))
    assert 0.0 <= result.protocol.accuracy <= 1.0 and result.classes == ["high", "low"]
    assert np.isfinite(matrix.X).all()
