"""Verdict (a): does each modality know the label?

Per encoder of a store, the probe accuracy of the label under the one protocol
(:func:`counterpoint.probe_protocol.probe_accuracy`: logistic regression, the given split when
large enough, else repeated grouped stratified k-fold), with its 95 % interval, its chance level
(majority-class share), the mean and p-value of its label-permutation null, and the p-value
Holm- and BH-adjusted over the encoders of the table (one family). Computation only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from counterpoint.analysis.inputs import require_columns, require_embeddings
from counterpoint.blas import single_threaded_blas
from counterpoint.config import N_BOOT
from counterpoint.errors import CounterpointError
from counterpoint.matrix import EmbeddingMatrix
from counterpoint.probe_protocol import N_PERM, ProbeAccuracy, probe_accuracy
from counterpoint.significance import family_permutations, with_adjusted_p_values
from counterpoint.store import as_store

if TYPE_CHECKING:
    from counterpoint.store import Store

#: The columns of :func:`label_knowledge_table`, in order.
COLUMNS = ["encoder", "modality", "accuracy", "ci_low", "ci_high", "chance", "null_mean", "p_value", "p_holm", "p_bh",
           "n", "n_classes", "dim", "classifier", "protocol", "notes", "error"]


@dataclass
class LabelKnowledge:
    """The table of verdict (a), each encoder's :class:`ProbeAccuracy` (predictions and folds included), and notes."""

    label: str
    table: pd.DataFrame
    results: dict[str, ProbeAccuracy] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def label_knowledge(store_or_path: "Store | str | Path", label: str, *, depth: int | None = None,
                    group: str | None = None, encoders: Sequence[str] | None = None, seed: int = 0,
                    n_perm: int = N_PERM, n_boot: int = N_BOOT,
                    matrices: Mapping[str, EmbeddingMatrix] | None = None) -> LabelKnowledge:
    """Every encoder's (or those given) probe accuracy of ``label`` (cut to ``depth``) in one table.

    ``group`` names the column that keeps related tracks in one fold (default: the dataset's
    ``group`` column when filled); filter the store first (``Store.where``) to analyse a subset.
    ``n_perm`` permutations per p-value, raised to what a Holm family of the table's encoders
    needs (:func:`counterpoint.significance.family_permutations`). An encoder whose tracks cannot be
    probed (one class, too few groups) gets a row with its ``error`` and no figures; the others go on.
    """
    store = as_store(store_or_path)
    require_embeddings(store)
    require_columns(store, label, group)
    specs = list(encoders or [record.spec for record in store.analysed_encoders()])
    n_perm = family_permutations(n_perm, len(specs))
    rows, results, notes = [], {}, []
    for spec in specs:
        matrix = matrices[spec] if matrices and spec in matrices else store.pooled(spec)
        labelled = matrix.labelled(label, depth)
        row = {"encoder": spec, "modality": matrix.modality, "error": "", "notes": ""}
        if len(labelled) < len(matrix):
            notes.append(f"{spec}: {len(matrix) - len(labelled)} tracks without a {label!r} label left out")
        try:
            with single_threaded_blas():
                result = probe_accuracy(labelled.X, labelled.labels(label, depth), ids=labelled.ids,
                                        groups=labelled.groups(group), given_split=labelled.given_split(), seed=seed,
                                        n_perm=n_perm, n_boot=n_boot)
        except CounterpointError as error:
            rows.append({**row, "error": str(error)})
            notes.append(f"{spec}: no probe accuracy ({len(labelled)} labelled tracks) — {error}")
            continue
        results[spec] = result
        notes += [f"{spec}: {note}" for note in result.notes]
        rows.append({**row, "accuracy": result.accuracy, "ci_low": result.ci_low, "ci_high": result.ci_high,
                     "chance": result.chance, "null_mean": result.null_mean, "p_value": result.p_value, "n": result.n,
                     "n_classes": result.n_classes, "dim": result.dim, "classifier": result.classifier,
                     "protocol": result.plan.description, "notes": "; ".join(result.notes)})
    table = pd.DataFrame(rows).reindex(columns=[c for c in COLUMNS if c not in ("p_holm", "p_bh")])
    table = with_adjusted_p_values(table).reindex(columns=COLUMNS)
    return LabelKnowledge(label, table, results, notes)


def label_knowledge_table(store_or_path: "Store | str | Path", label: str, **settings) -> pd.DataFrame:
    """The table of :func:`label_knowledge`: one row per encoder (modality, accuracy, 95 % interval, chance,
    null mean, p, Holm- and BH-adjusted p over the encoders, n, classes, dimension, classifier, protocol)."""
    return label_knowledge(store_or_path, label, **settings).table
