"""Layer-wise maps: at which layer of an audio model do audio and score agree?

For an audio encoder whose layers the store holds (``counterpoint embed ... --encoders
musicnn:layers=all``) and a symbolic encoder (its layers too, when it has some; otherwise it
counts as one layer), :func:`layer_cka_map` computes the debiased CKA of every audio layer
with every symbolic layer on the paired labelled tracks — the same tracks for every cell —
each with its half-sample 95 % interval and shuffled-pairing p-value
(:func:`~counterpoint.analysis.similarity.cka_estimates`), and Holm and Benjamini–Hochberg
adjusted p-values over the cells of the map (one family per map,
:func:`~counterpoint.analysis.statistics.with_adjusted_p_values`). Named descriptors are
z-scored first, as in the ordinary comparison. Each cell uses the comparison's default
resampling (``N_BOOT`` = 200 half-samples per interval, on at most 1000 tracks) and as many
permutations per p-value as the map's Holm family needs
(:func:`~counterpoint.significance.family_permutations`: 1,199 for 6 cells, at most 9,999), so a
map of a dozen cells on a few hundred tracks takes seconds.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from counterpoint.analysis.similarity import cka_estimates
from counterpoint.analysis.compare import MIN_PAIRED_TRACKS, standardise_features
from counterpoint.analysis.pairwise import family_table, open_pairs
from counterpoint.config import N_BOOT, CompareSettings
from counterpoint.errors import CounterpointError
from counterpoint.results import json_ready
from counterpoint.significance import family_permutations, undecidable_family_note

if TYPE_CHECKING:
    from counterpoint.store import EncoderRecord, Store

#: Columns of :attr:`LayerMap.table`, one row per (audio layer, symbolic layer).
LAYER_COLUMNS = ["audio", "symbolic", "audio_layer", "symbolic_layer", "audio_index", "symbolic_index", "audio_spec",
                 "symbolic_spec", "value", "ci_low", "ci_high", "p_value", "p_holm", "p_bh", "null_mean", "n",
                 "n_resample"]
#: How to embed an encoder's layers, for the message when a store holds none.
EMBED_LAYERS_HINT = "counterpoint embed DATASET --encoders musicnn:layers=all --out STORE.h5"


@dataclass
class LayerMap:
    """Debiased CKA between every layer of one audio encoder (``audio``, its base spec) and every
    layer of one symbolic encoder; ``table`` holds :data:`LAYER_COLUMNS`, audio layers in network
    order first. ``n_boot`` / ``n_perm`` are the resampling each cell used."""

    audio: str
    symbolic: str
    table: pd.DataFrame
    n_boot: int
    n_perm: int
    fixed_n_perm: bool = False   # n_perm taken as given rather than raised to the map's family

    @property
    def settings(self) -> dict[str, int | bool]:
        """The resampling the map's cells used."""
        return {"n_boot": self.n_boot, "n_perm": self.n_perm, "fixed_n_perm": self.fixed_n_perm}

    @property
    def notes(self) -> list[str]:
        return [self.note] if self.note else []

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"layer_cka": self.table}

    def as_dict(self) -> dict:
        """The JSON form of one map (NaN as null), as ``layer_cka.json`` lists it."""
        return json_ready({"audio": self.audio, "symbolic": self.symbolic, "n_boot": self.n_boot,
                           "n_perm": self.n_perm, "cells": self.table})

    @property
    def note(self) -> str | None:
        """Why this map's Holm-adjusted p-values cannot go below α, when they cannot (too few permutations)."""
        return undecidable_family_note(f"{self.audio} × {self.symbolic} layer map", len(self.table), self.n_perm,
                                       fixed=self.fixed_n_perm)

    def matrix(self, column: str = "value") -> pd.DataFrame:
        """``column`` as an audio layer × symbolic layer matrix, both in network order."""
        wide = self.table.pivot(index="audio_layer", columns="symbolic_layer", values=column)
        return wide.loc[list(dict.fromkeys(self.table["audio_layer"])), list(dict.fromkeys(self.table["symbolic_layer"]))]


def layer_groups(store: "Store", modality: str) -> dict[str, list["EncoderRecord"]]:
    """Each analysed encoder of ``modality`` (:meth:`~counterpoint.store.Store.analysed_encoders`) → its stored
    layers in network order (one entry, itself, for an encoder without layers), keyed by base spec (the spec
    without ``layer=``)."""
    groups: dict[str, list[EncoderRecord]] = {}
    for record in store.analysed_encoders():
        if record.modality != modality:
            continue
        base = record.base_spec or record.spec
        if base not in groups:
            layers = [r for r in store.layers(base) if r.n_tracks] if record.base_spec else [record]
            groups[base] = layers
    return groups


def _layer_name(record: "EncoderRecord") -> str:
    return record.layer if record.layer is not None else record.spec


def _pick(groups: dict[str, list["EncoderRecord"]], wanted: str | None, kind: str, store: "Store") -> list[str]:
    if wanted is None:
        return list(groups)
    for base, layers in groups.items():
        if wanted == base or wanted in [r.spec for r in layers] or wanted == layers[0].name:
            return [base]
    raise CounterpointError(f"{store.path}: no {kind} encoder {wanted!r} with tracks (it has: {', '.join(groups) or 'none'}) "
                            f"— give one of those, or embed its layers: {EMBED_LAYERS_HINT}")


def holds_layers(store: "Store") -> bool:
    """Whether the store holds an audio encoder with several stored layers (what a layer map needs)."""
    return any(len(layers) > 1 for layers in layer_groups(store, "audio").values())


def layer_cka_map(store_or_path: "Store | str | Path", label: str, *, audio: str | None = None, symbolic: str | None = None,
                  depth: int | None = None, n_boot: int = N_BOOT, n_perm: int = CompareSettings.n_perm,
                  seed: int = 0, fixed_n_perm: bool = False) -> list[LayerMap]:
    """One :class:`LayerMap` per audio encoder with several stored layers × symbolic encoder.

    ``audio`` / ``symbolic`` name one encoder each (base spec, a layer's spec, or the encoder
    name); None takes every audio encoder with layers and every symbolic encoder. Tracks are
    those with a ``label`` (cut to ``depth``) that every layer of both encoders holds. ``n_perm`` is
    the fewest permutations per cell, raised to what the map's Holm family needs unless
    ``fixed_n_perm``. A store without layered audio entries is a CounterpointError saying how to embed them.
    """
    store = open_pairs(store_or_path, label, comparable=False).store   # its own errors say what a map needs
    audio_groups = {base: layers for base, layers in layer_groups(store, "audio").items() if len(layers) > 1}
    if not audio_groups:  # holds_layers(store) is False
        raise CounterpointError(f"{store.path}: holds no audio encoder with several layers — embed them first, e.g. "
                                f"`{EMBED_LAYERS_HINT}` (MERT: mert:layers=all; CLaMP's M3: clamp2:layers=all)")
    symbolic_groups = layer_groups(store, "symbolic")
    if not symbolic_groups:
        raise CounterpointError(f"{store.path}: holds no symbolic encoder with tracks — embed the MIDI too, e.g. "
                                "--encoders symbolic-stats")
    maps = []
    for audio_base in _pick(audio_groups, audio, "audio", store):
        for symbolic_base in _pick(symbolic_groups, symbolic, "symbolic", store):
            cells = len(audio_groups[audio_base]) * len(symbolic_groups[symbolic_base])
            maps.append(_one_map(store, audio_groups[audio_base], symbolic_groups[symbolic_base], label, depth,
                                 n_boot, family_permutations(n_perm, cells, scale=not fixed_n_perm), fixed_n_perm,
                                 seed))
    return maps


def _one_map(store: "Store", audio_layers: list["EncoderRecord"], symbolic_layers: list["EncoderRecord"], label: str,
             depth: int | None, n_boot: int, n_perm: int, fixed_n_perm: bool, seed: int) -> LayerMap:
    matrices = {r.spec: store.pooled(r.spec).labelled(label, depth) for r in audio_layers + symbolic_layers}
    shared = set.intersection(*(set(m.ids) for m in matrices.values()))
    audio_base = audio_layers[0].base_spec or audio_layers[0].spec
    symbolic_base = symbolic_layers[0].base_spec or symbolic_layers[0].spec
    if len(shared) < MIN_PAIRED_TRACKS:
        raise CounterpointError(f"{store.path}: {audio_base} × {symbolic_base}: only {len(shared)} labelled tracks are held by "
                                f"every layer of both (at least {MIN_PAIRED_TRACKS} needed) — embed the missing tracks "
                                "with the same specs (the embed command resumes)")
    order = sorted(shared)

    def rows_of(record: "EncoderRecord") -> np.ndarray:
        matrix = matrices[record.spec]
        position = pd.Series(np.arange(len(matrix)), index=matrix.ids)
        X = matrix.X[position.loc[order].to_numpy()]
        return standardise_features(X) if matrix.feature_names else X

    symbolic_rows = {r.spec: rows_of(r) for r in symbolic_layers}
    rows = []
    for a in audio_layers:
        X = rows_of(a)
        for s in symbolic_layers:
            estimate = cka_estimates(X, symbolic_rows[s.spec], n_boot=n_boot, n_perm=n_perm, seed=seed)["cka_debiased"]
            rows.append({"audio": audio_base, "symbolic": symbolic_base, "audio_layer": _layer_name(a),
                         "symbolic_layer": _layer_name(s), "audio_index": a.layer_index, "symbolic_index": s.layer_index,
                         "audio_spec": a.spec, "symbolic_spec": s.spec, **estimate.as_dict()})
    return LayerMap(audio_base, symbolic_base, family_table(rows, LAYER_COLUMNS), n_boot, n_perm, fixed_n_perm)
