"""Counterpoint: compare audio and symbolic (MIDI) embeddings of the same music.

The public API, importable from the package itself (each name is loaded on first use, so
``import counterpoint`` stays cheap for the command line)::

    import counterpoint as cp

    cp.embed_dataset("my-corpus", "run.h5", ["symbolic-stats", "audio-stats"])
    # or as N shards (a job array's tasks), then merged: cp.embed_dataset(..., shard="3/8"); cp.merge_stores(shards, "run.h5")
    store = cp.Store("run.h5")
    m = store.pooled("audio-stats")          # m.X [N, D] float32, m.obs: track metadata, same rows
    comparison = cp.run_compare(store, cp.CompareSettings(label="style"))
    result = cp.probe(store, "audio-stats", label="style", model="linear")
    cp.run_pipeline(cp.RunSettings(dataset="my-corpus", out="results", label="style"))  # embed + full report
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name → the module that defines it
_PUBLIC = {
    "load_manifest": "counterpoint.data.manifest",
    "embed_dataset": "counterpoint.embed",
    "Store": "counterpoint.store",
    "merge_stores": "counterpoint.store_merge",
    "EmbeddingMatrix": "counterpoint.matrix",
    "FrameSequences": "counterpoint.matrix",
    "analyze_store": "counterpoint.analysis.analyze",
    "run_compare": "counterpoint.analysis.compare",
    "probe": "counterpoint.probes.run",
    "probe_table": "counterpoint.probes.run",
    "build_report": "counterpoint.report.build",
    "run_pipeline": "counterpoint.pipeline",
    "RunSettings": "counterpoint.config",
    "AnalysisSettings": "counterpoint.config",
    "CompareSettings": "counterpoint.config",
    "TrainSettings": "counterpoint.config",
    "CounterpointError": "counterpoint.errors",
}

__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    """Import a public name's module when the name is first used (PEP 562)."""
    if name not in _PUBLIC:
        raise AttributeError(f"module 'counterpoint' has no attribute {name!r}")
    value = getattr(importlib.import_module(_PUBLIC[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))


if TYPE_CHECKING:  # for type checkers and editors; never imported at run time
    from counterpoint.analysis.analyze import analyze_store
    from counterpoint.analysis.compare import run_compare
    from counterpoint.config import AnalysisSettings, CompareSettings, RunSettings, TrainSettings
    from counterpoint.data.manifest import load_manifest
    from counterpoint.embed import embed_dataset
    from counterpoint.errors import CounterpointError
    from counterpoint.matrix import EmbeddingMatrix, FrameSequences
    from counterpoint.pipeline import run_pipeline
    from counterpoint.probes.run import probe, probe_table
    from counterpoint.report.build import build_report
    from counterpoint.store import Store
    from counterpoint.store_merge import merge_stores
