"""Probing an embedding store: one probe, a saved probe on new data, and the encoders × models table.

The array-level entry point is :func:`fit_probe` (inputs, labels, splits → trained and evaluated
probe); :func:`probe_data` reads labels, groups and the given split of one encoder's
embeddings and calls it; :func:`probe`, :func:`evaluate_saved` and :func:`probe_table` read a
:class:`~counterpoint.store.Store`. Everything returns results; :mod:`counterpoint.report.probes`
writes them.

The headline accuracy of a probe is :func:`counterpoint.probe_protocol.probe_accuracy` with the
probe trained anew on every fold (:func:`trained_probe_fit_predict`; 5 folds × ``repeats``, default
1, since each fold is a full training run). The one train/validation/test run whose model is saved
(for ``--model-path``) is a labelled detail: its "test split accuracy".

Splits of that run: the dataset's ``split`` column when every labelled track has one of
train/validation/test (a validation part is cut out of train, by group, when the column has
none); otherwise a stratified train/validation/test split (70/15/15, as closely as whole groups
allow; the split source states the counts given, and every class is in training) grouped by
the group column, seeded with the probe's seed. No group ever sits on two sides; this is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import classification_report, confusion_matrix

from counterpoint.config import PROBE_SEEDS, TrainSettings
from counterpoint.errors import CounterpointError
from counterpoint.matrix import EmbeddingMatrix, FrameSequences
from counterpoint.probes.data import ProbeInputs, Standardizer, input_dim, take
from counterpoint.probes.models import (
    BUILTIN_MODELS,
    ProbeClassifier,
    build_model,
    builtin_kwargs,
    canonical_model_name,
    resolve_model_class,
    takes_sequences,
)
from counterpoint.probes.persist import load_probe
from counterpoint.progress import ProgressCallback
from counterpoint.probes.train import predict_logits, scores, seed_everything, train_probe
from counterpoint.ranges import UNIT, check_columns, declare_measure
from counterpoint.results import json_ready
from counterpoint.probe_protocol import (MIN_TRACKS_PER_CLASS, TRAINED_PROBE_REPEATS, ProbeAccuracy, ProtocolPlan,
                                         plan_protocol, probe_accuracy, score_predictions)
from counterpoint.significance import with_adjusted_p_values
from counterpoint.splits import SPLITS, assign_splits, assert_no_leak, describe_splits, stratified_subsample

from counterpoint.store import as_store

if TYPE_CHECKING:
    from counterpoint.store import Store

#: Share of the training tracks moved to validation when the split column has no validation part.
VALIDATION_SHARE = 0.15

#: What a probe reads: pooled vectors, or frame sequences for sequence models.
ProbeData = EmbeddingMatrix | FrameSequences


# ----------------------------------------------------------------------------- splits


@dataclass(frozen=True)
class SplitPlan:
    """Which split every track is in, and how that was decided."""

    splits: np.ndarray
    source: str

    def counts(self) -> dict[str, int]:
        return {name: int((self.splits == name).sum()) for name in SPLITS}


def plan_splits(labels: np.ndarray, groups: np.ndarray | None, given: Sequence[str] | None, *, seed: int) -> SplitPlan:
    """The dataset's split column when complete, else a stratified grouped split; leak-checked.

    ``given`` is the split column as :meth:`~counterpoint.matrix.TrackRows.given_split` reads it.
    """
    given_text = None if given is None else np.asarray(given, dtype=object)
    if given_text is not None and len(given_text) and np.isin(given_text, SPLITS).all():
        splits = given_text.astype(str)
        source = "split column"
        if not (splits == "validation").any():
            train = np.flatnonzero(splits == "train")
            inner = assign_splits(labels[train], None if groups is None else groups[train],
                                  fractions=(1 - VALIDATION_SHARE, VALIDATION_SHARE, 0.0), seed=seed)
            splits = splits.astype(object)
            splits[train] = inner
            splits = splits.astype(str)
            source += f" (validation cut from train by group, seed {seed})"
    else:
        splits = assign_splits(labels, groups, seed=seed)
        source = f"stratified grouped split: {describe_splits(splits)}, aimed at 70/15/15 (seed {seed})"
        if given_text is not None and (given_text != "").any():
            source += "; the split column was ignored because not every track has train/validation/test"
    assert_no_leak(splits, groups)
    return SplitPlan(splits, source)


# ----------------------------------------------------------------------------- fitting on arrays


@dataclass
class ProbeResult:
    """A trained and tested probe: its protocol accuracy (when computed), the test-split scores of the saved
    run, the classification report, the model and its configuration."""

    model: str
    classes: list[str]
    test_split_accuracy: float
    macro_f1: float
    report: dict[str, Any]
    report_text: str
    confusion: np.ndarray
    test_predictions: pd.DataFrame
    history: list[dict[str, float]]
    best_epoch: int
    split_counts: dict[str, int]
    config: dict[str, Any]
    probe: ProbeClassifier
    notes: list[str] = field(default_factory=list)
    protocol: ProbeAccuracy | None = None
    #: Every cross-validation fold's trained probe with its configuration (fold, repeat's seed), in fold order,
    #: when asked for (``keep_fold_probes``); empty otherwise.
    fold_probes: list[tuple[ProbeClassifier, dict[str, Any]]] = field(default_factory=list)


def per_class_report(y: np.ndarray, predicted: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """scikit-learn's classification report as a dict: precision, recall, F1 and support per class and
    averaged, without its overall accuracy (an accuracy is shown only as :mod:`counterpoint.probe_protocol`
    scores it, or labelled as the saved run's test split accuracy)."""
    report = classification_report(y, predicted, labels=np.arange(len(classes)), target_names=classes,
                                   output_dict=True, zero_division=0)
    report.pop("accuracy", None)
    return report


def model_kwargs_for(model: str, settings: TrainSettings, model_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """Constructor arguments: built-ins take ``settings.hidden``/``dropout``; custom classes ``model_kwargs`` only."""
    if model in BUILTIN_MODELS:
        return {**builtin_kwargs(model, settings.hidden, settings.dropout), **(model_kwargs or {})}
    return dict(model_kwargs or {})


def fit_probe(inputs: ProbeInputs, labels: Sequence[str], splits: Sequence[str], *, model: str = "linear",
              ids: Sequence[str] | None = None, settings: TrainSettings = TrainSettings(),
              model_kwargs: dict[str, Any] | None = None, extra_config: dict[str, Any] | None = None) -> ProbeResult:
    """Train a probe on the train rows, stop early on the validation rows, test on the test rows.

    ``inputs`` is a matrix ``[N, D]`` for pooled probes or a list of ``[T_i, D]`` frames for
    sequence probes; ``labels`` are non-empty strings; ``splits`` train/validation/test.
    :func:`counterpoint.report.probes.write_probe_result` writes the result to a folder.
    """
    labels = np.asarray(labels, dtype=object).astype(str)
    splits = np.asarray(splits).astype(str)
    if (labels == "").any():
        raise CounterpointError("fit_probe: some labels are empty — leave those tracks out first")
    ids = np.asarray(ids if ids is not None else [str(i) for i in range(len(labels))], dtype=object)
    cls = resolve_model_class(model)
    sequences = takes_sequences(cls)
    if sequences != isinstance(inputs, list):
        want = "a list of frame arrays" if sequences else "a pooled matrix"
        raise CounterpointError(f"probe model {model!r} takes {want}")
    classes = sorted(set(labels))
    if len(classes) < 2:
        found = ", ".join(repr(str(c)) for c in classes) or "none"
        raise CounterpointError(f"a probe needs at least two classes, found {found} — choose another label column")
    y = np.searchsorted(classes, labels)
    rows = {name: np.flatnonzero(splits == name) for name in SPLITS}
    if len(rows["test"]) == 0:
        raise CounterpointError("no test tracks — the split column or the dataset size leaves the test split empty")
    notes = list((extra_config or {}).get("notes", []))
    absent = [c for i, c in enumerate(classes) if i not in set(y[rows["train"]])]
    if absent:
        notes.append(f"classes absent from the training split (the probe cannot learn them): {', '.join(absent)}")
    test_counts = dict(zip(classes, np.bincount(y[rows["test"]], minlength=len(classes)).tolist()))
    scarce = {c: n for c, n in test_counts.items() if n < MIN_TRACKS_PER_CLASS}
    if scarce:
        notes.append(f"the test split holds {len(rows['test'])} tracks, fewer than {MIN_TRACKS_PER_CLASS} of some class ("
                     + ", ".join(f"{n} {str(c)!r}" for c, n in scarce.items())
                     + "): its test split accuracy rests on too few tracks to mean much")

    dim = input_dim(inputs)
    kwargs = model_kwargs_for(model, settings, model_kwargs)
    scaler = Standardizer.fit(take(inputs, rows["train"]))
    seed_everything(settings.seed)  # the initial weights depend on the seed too
    probe = ProbeClassifier(build_model(model, dim, len(classes), kwargs=kwargs), dim)
    probe.set_scaler(torch.as_tensor(scaler.mean), torch.as_tensor(scaler.scale))
    outcome = train_probe(probe, take(inputs, rows["train"]), y[rows["train"]],
                          val_inputs=take(inputs, rows["validation"]), y_val=y[rows["validation"]],
                          num_classes=len(classes), settings=settings)
    if not outcome.stopped_early:
        notes.append(f"training stopped at the epoch cap ({settings.epochs} epochs; best validation epoch "
                     f"{outcome.best_epoch}) before {settings.patience} epochs without improvement: the probe may "
                     "not have converged — give more --epochs")

    test_logits = predict_logits(outcome.model.cpu(), take(inputs, rows["test"]), batch_size=settings.training_batch)
    predicted = test_logits.argmax(axis=1)
    y_test = y[rows["test"]]
    accuracy, macro_f1 = scores(y_test, predicted, len(classes))
    label_range = np.arange(len(classes))
    report = per_class_report(y_test, predicted, classes)
    report_text = classification_report(y_test, predicted, labels=label_range, target_names=classes, zero_division=0, digits=3)
    split_counts = {name: len(r) for name, r in rows.items()}
    config = {
        **(extra_config or {}),
        "model": canonical_model_name(model),
        "model_class": f"{cls.__module__}:{cls.__qualname__}",
        "takes_sequences": sequences,
        "model_kwargs": kwargs,
        "input_dim": dim,
        "classes": classes,
        "scaler": {"kind": "standard", "fitted_on": "train", "tensors": ["scaler_mean", "scaler_scale"]},
        "training": {"epochs": settings.epochs, "patience": settings.patience, "lr": settings.lr,
                     "training_batch": settings.training_batch, "weight_decay": settings.weight_decay,
                     "max_tracks": settings.max_tracks, "class_weights": "inverse frequency", "early_stopping": "validation macro-F1",
                     "best_epoch": outcome.best_epoch, "epochs_run": len(outcome.history)},
        "seed": settings.seed,
        "split_counts": split_counts,
        # The tracks the probe has seen: an evaluation of the saved probe leaves them out.
        "train_ids": [str(i) for i in ids[rows["train"]]],
        "validation_ids": [str(i) for i in ids[rows["validation"]]],
        "notes": notes,
    }
    return ProbeResult(
        model=model, classes=classes, test_split_accuracy=accuracy, macro_f1=macro_f1, report=report,
        report_text=report_text,
        confusion=confusion_matrix(y_test, predicted, labels=label_range),
        test_predictions=pd.DataFrame({"id": ids[rows["test"]], "label": labels[rows["test"]],
                                       "predicted": np.asarray(classes, dtype=object)[predicted]}),
        history=outcome.history, best_epoch=outcome.best_epoch, split_counts=split_counts, config=config,
        probe=outcome.model, notes=notes,
    )


# ----------------------------------------------------------------------------- on a store


def _training_batch(config: Mapping[str, Any]) -> int:
    """Tracks per training batch of a saved probe (probes saved before the name ``training_batch`` wrote ``batch_size``)."""
    training = config["training"]
    return int(training["training_batch"] if "training_batch" in training else training["batch_size"])


def read_probe_data(store: "Store", encoder: str, sequences: bool) -> ProbeData:
    """``encoder``'s frame sequences (``sequences``) or pooled vectors; an error when it holds no tracks."""
    data = store.frames(encoder) if sequences else store.pooled(encoder)
    if len(data) == 0:
        raise CounterpointError(f"{store.path}: encoder {data.spec} holds no tracks — nothing to probe; "
                                f"`counterpoint store info {store.path} --failures` says why its tracks failed")
    return data


def _inputs(data: ProbeData) -> ProbeInputs:
    return data.frames if isinstance(data, FrameSequences) else data.X


def _usable_rows(data: ProbeData, labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Rows with a label (and at least one frame for sequences), and notes on what was left out."""
    keep = labels != ""
    notes = []
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} of {len(labels)} tracks have an empty label and were left out")
    if isinstance(data, FrameSequences):
        empty = np.array([len(x) == 0 for x in data.frames]) & keep
        if empty.any():
            notes.append(f"{int(empty.sum())} labelled tracks have no frames and were left out")
        keep &= ~empty
    return np.flatnonzero(keep), notes


def trained_probe_fit_predict(inputs: ProbeInputs, labels: np.ndarray, ids: np.ndarray, *, groups: np.ndarray | None,
                              plan: ProtocolPlan, model: str, settings: TrainSettings,
                              model_kwargs: dict[str, Any] | None = None, on_fold_done: Callable[[], None] | None = None,
                              kept: list[tuple[ProbeClassifier, dict[str, Any]]] | None = None):
    """The protocol's classifier for a trained probe: on each fold of ``plan`` (called in order), a validation
    part is cut from the training rows by group (:data:`VALIDATION_SHARE`, for early stopping), the probe is
    trained with seed ``settings.seed + repeat`` and its predictions of the test rows returned; ``on_fold_done``
    is called after each fold's training; each fold's probe and configuration are appended to ``kept`` when given."""
    repeats = iter(plan.repeat_of_fold)
    folds = iter(range(len(plan.repeat_of_fold)))

    def fit_predict(train: np.ndarray, test: np.ndarray) -> np.ndarray:
        seed = settings.seed + int(next(repeats))
        inner = assign_splits(labels[train], None if groups is None else groups[train],
                              fractions=(1 - VALIDATION_SHARE, VALIDATION_SHARE, 0.0), seed=seed)
        rows = np.concatenate([train, test])
        splits = np.concatenate([inner, np.full(len(test), "test")])
        result = fit_probe(take(inputs, rows), labels[rows], splits, model=model, ids=ids[rows],
                           settings=replace(settings, seed=seed), model_kwargs=model_kwargs)
        fold = next(folds)
        if kept is not None:
            kept.append((result.probe, {**result.config, "fold": fold, "seed": seed}))
        if on_fold_done is not None:
            on_fold_done()
        return result.test_predictions["predicted"].to_numpy()
    return fit_predict


def probe_data(data: ProbeData, *, label: str, model: str = "linear", depth: int | None = None,
               group: str | None = None, settings: TrainSettings = TrainSettings(),
               model_kwargs: dict[str, Any] | None = None, repeats: int = TRAINED_PROBE_REPEATS,
               progress: ProgressCallback | None = None, keep_fold_probes: bool = False) -> ProbeResult:
    """Train and test one probe of ``label`` (cut to ``depth``) on one encoder's embeddings already read.

    ``data`` is pooled vectors for ``linear``/``mlp`` (and custom classes by default), frame
    sequences for ``lstm``, ``attention`` and custom classes with ``takes_sequences = True``.
    ``group`` names the column that keeps related tracks on one side of the split (default:
    the dataset's ``group`` column when filled). Tracks with an empty label are left out and
    counted in ``result.notes``. ``settings.seed`` seeds the split (when computed) and the training.

    ``result.protocol`` is the probe accuracy under the one protocol (``repeats`` repeats of the
    cross-validation unless the given split is large enough), the probe trained anew on every fold;
    the returned model is the one trained on the train/validation/test split (its test split accuracy
    a detail). ``progress("training runs", done, total)`` is called after each training run (the saved
    model's, then one per fold of the protocol). With ``keep_fold_probes`` every fold's probe is kept in
    ``result.fold_probes``.
    """
    labels = data.labels(label, depth)
    keep, notes = _usable_rows(data, labels)
    if settings.max_tracks and len(keep) > settings.max_tracks:
        drawn = stratified_subsample(labels[keep], settings.max_tracks, seed=settings.seed)
        notes.append(f"trained and cross-validated on a subsample of {len(drawn):,} of the {len(keep):,} labelled "
                     f"tracks, stratified by the label (seed {settings.seed}; --max-tracks {settings.max_tracks:,}, 0 "
                     "for every track): every fold is a full training run")
        keep = keep[drawn]
    data, labels = data.take(keep), labels[keep]
    groups = data.groups(group)
    splits = plan_splits(labels, groups, data.given_split(), seed=settings.seed)
    extra = {"encoder": data.spec, "modality": data.modality, "label": label, "label_depth": depth,
             "group": data.group_column(group), "split_source": splits.source, "notes": notes}
    plan = plan_protocol(labels, groups=groups, given_split=data.given_split(), seed=settings.seed, n_repeats=repeats)
    runs, done = 1 + len(plan.folds), 0

    def run_done() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress("training runs", done, runs)

    result = fit_probe(_inputs(data), labels, splits.splits, model=model, ids=data.ids, settings=settings,
                       model_kwargs=model_kwargs, extra_config=extra)
    run_done()
    fold_probes: list[tuple[ProbeClassifier, dict[str, Any]]] | None = [] if keep_fold_probes else None
    protocol = probe_accuracy(_inputs(data), labels, ids=data.ids, classifier=canonical_model_name(model), plan=plan,
                              seed=settings.seed,
                              fit_predict=trained_probe_fit_predict(_inputs(data), labels, np.asarray(data.ids),
                                                                    groups=groups, plan=plan, model=model,
                                                                    settings=settings, model_kwargs=model_kwargs,
                                                                    on_fold_done=run_done, kept=fold_probes))
    result.notes.extend(f"probe accuracy: {note}" for note in protocol.notes)
    result.config["probe_accuracy"] = protocol.to_dict()
    return replace(result, protocol=protocol, fold_probes=fold_probes or [])


def probe(store_or_path: "Store | str | Path", encoder: str, *, label: str, model: str = "linear",
          depth: int | None = None, group: str | None = None, settings: TrainSettings = TrainSettings(),
          model_kwargs: dict[str, Any] | None = None, repeats: int = TRAINED_PROBE_REPEATS,
          progress: ProgressCallback | None = None) -> ProbeResult:
    """Train and test one probe of ``label`` on ``encoder``'s embeddings in a store (see :func:`probe_data`)."""
    store = as_store(store_or_path)
    data = read_probe_data(store, encoder, takes_sequences(resolve_model_class(model)))
    return probe_data(data, label=label, model=model, depth=depth, group=group, settings=settings,
                      model_kwargs=model_kwargs, repeats=repeats, progress=progress)


@dataclass
class EvaluationResult:
    """A saved probe (from ``model_dir``, trained on ``encoder``) applied to a store: scores on the
    tracks whose label it knows."""

    model_dir: Path
    encoder: str
    model: str
    scored: ProbeAccuracy   # accuracy, interval, chance and permutation p of its predictions (the protocol's rules)
    macro_f1: float
    report: dict[str, Any]
    report_text: str
    confusion: np.ndarray
    classes: list[str]
    predictions: pd.DataFrame
    unseen_labels: dict[str, int]
    notes: list[str]
    seen_left_out: int = 0  # tracks left out because the probe was trained or validated on them


def evaluate_saved(model_dir: str | Path, store_or_path: "Store | str | Path", *, split: str | None = None,
                   device: str = "cpu") -> EvaluationResult:
    """Apply a saved probe to a store without training.

    The store must hold the encoder spec the probe was trained on. The saved label mapping
    is reused; tracks whose label the probe never saw are counted in ``unseen_labels`` and
    left out of the scores, and so are the tracks it was trained or validated on (by id, as its
    config records them; counted in ``seen_left_out``). ``split`` restricts to one split of the
    store's split column. The accuracy is scored by :func:`counterpoint.probe_protocol.score_predictions`
    (interval, chance, permutation p), as every probe accuracy is.
    """
    probe_model, config = load_probe(model_dir, device=device)
    store = as_store(store_or_path)
    if config["encoder"] not in store.encoder_specs:
        raise CounterpointError(f"{model_dir}: the probe was trained on {config['encoder']!r}, which the store lacks "
                                f"(it has {', '.join(store.encoder_specs)}) — embed the dataset with that spec first")
    data = store.frames(config["encoder"]) if config["takes_sequences"] else store.pooled(config["encoder"])
    inputs = _inputs(data)
    if input_dim(inputs) != config["input_dim"]:
        raise CounterpointError(f"{data.spec}: the store's embeddings have dimension {input_dim(inputs)}, the probe "
                                f"expects {config['input_dim']} — recompute the store with the same encoder version")
    labels = data.labels(config["label"], config.get("label_depth"))
    keep, notes = _usable_rows(data, labels)
    if split is not None:
        given = data.given_split()
        in_split = given == split if given is not None else np.zeros(len(data), dtype=bool)
        keep = keep[in_split[keep]]
        notes.append(f"restricted to the {split!r} split: {len(keep)} tracks")
    known = np.isin(labels[keep], config["classes"])
    unseen = pd.Series(labels[keep][~known]).value_counts().to_dict() if (~known).any() else {}
    if unseen:
        notes.append(f"{int((~known).sum())} tracks have labels the probe never saw and were left out of the scores: "
                     + ", ".join(f"{k!r} ({v})" for k, v in unseen.items()))
    keep = keep[known]
    if len(keep) == 0:
        raise CounterpointError(f"{model_dir}: no track of the store has one of the probe's labels "
                                f"({', '.join(config['classes'])}) in column {config['label']!r}")
    keep, seen_left_out, seen_notes = _unseen_tracks(keep, np.asarray(data.ids, dtype=object).astype(str), config,
                                                     model_dir)
    notes += seen_notes
    scored_classes, scored_counts = np.unique(labels[keep].astype(str), return_counts=True)
    if (scored_counts < MIN_TRACKS_PER_CLASS).any():
        notes.append(f"the {len(keep)} tracks scored hold fewer than {MIN_TRACKS_PER_CLASS} of some class ("
                     + ", ".join(f"{n} {str(c)!r}" for c, n in zip(scored_classes, scored_counts)
                                 if n < MIN_TRACKS_PER_CLASS)
                     + "): the accuracy rests on too few tracks to mean much")
    classes = list(config["classes"])
    y = np.searchsorted(classes, labels[keep].astype(str))
    logits = predict_logits(probe_model, take(inputs, keep), batch_size=_training_batch(config), device=device)
    predicted = logits.argmax(axis=1)
    _, macro_f1 = scores(y, predicted, len(classes))
    label_range = np.arange(len(classes))
    predicted_labels = np.asarray(classes, dtype=object)[predicted]
    unseen_by_it = "it was neither trained nor validated on" if "train_ids" in config else "(its training tracks unknown)"
    plan = ProtocolPlan("saved", f"a saved probe applied to {len(keep)} tracks {unseen_by_it}",
                        f"evaluation of {model_dir} without training", [(np.zeros(0, dtype=int), np.arange(len(keep)))],
                        np.zeros(1, dtype=int), [])
    scored = score_predictions(pd.DataFrame({"row": np.arange(len(keep)), "predicted": predicted_labels, "repeat": 0,
                                             "fold": 0}),
                               labels[keep].astype(str), data.ids[keep], plan=plan, classifier=config["model"],
                               dim=config["input_dim"])
    return EvaluationResult(
        model_dir=Path(model_dir), encoder=data.spec, model=config["model"], scored=scored, macro_f1=macro_f1,
        report=per_class_report(y, predicted, classes),
        report_text=classification_report(y, predicted, labels=label_range, target_names=classes, zero_division=0, digits=3),
        confusion=confusion_matrix(y, predicted, labels=label_range), classes=classes,
        predictions=pd.DataFrame({"id": data.ids[keep], "label": labels[keep],
                                  "predicted": np.asarray(classes, dtype=object)[predicted]}),
        unseen_labels={str(k): int(v) for k, v in unseen.items()}, notes=notes, seen_left_out=seen_left_out)


def _unseen_tracks(keep: np.ndarray, ids: np.ndarray, config: dict[str, Any],
                   model_dir: str | Path) -> tuple[np.ndarray, int, list[str]]:
    """``keep`` without the tracks the saved probe was trained or validated on, how many those were, and notes.

    A probe saved before its config recorded those ids cannot be checked: a note says so.
    """
    if "train_ids" not in config:
        return keep, 0, [f"{model_dir}: this probe does not record the tracks it was trained on (saved by an older "
                         "version) — tracks it has seen cannot be left out; retrain it to check"]
    trained, validated = np.isin(ids[keep], config["train_ids"]), np.isin(ids[keep], config["validation_ids"])
    seen = trained | validated
    if not seen.any():
        return keep, 0, []
    if seen.all():
        raise CounterpointError(f"{model_dir}: every one of the {len(keep)} tracks it could score was among its "
                                f"{int(trained.sum())} training and {int(validated.sum())} validation tracks — "
                                "evaluate it on tracks it has not seen")
    note = (f"{int(seen.sum())} of {len(keep)} tracks were the probe's own training ({int(trained.sum())}) or "
            f"validation ({int(validated.sum())}) tracks and were left out: scored on the other {int((~seen).sum())}")
    return keep[~seen], int(seen.sum()), [note]


# ----------------------------------------------------------------------------- the table


#: Which tests the probe table's ``p_holm`` and ``p_bh`` adjust over (one family).
P_VALUE_FAMILIES = {
    "table": "every row of probe_table.csv (all encoders × models), each probe accuracy tested by the probe "
             "protocol's label-permutation null (held-out truth permuted against the held-out predictions)",
}
# The figures of the probe table, declared once (range, name, prose; see counterpoint.ranges).
declare_measure("accuracy", UNIT, title="probe accuracy",
                prose="A trained probe's accuracy on the held-out tracks of the one probe protocol.")
declare_measure("macro_f1", UNIT, title="probe macro-F1", prose="A trained probe's macro-F1 on the same held-out tracks.")
#: The measure of each figure column of the probe table (for :mod:`counterpoint.ranges`).
TABLE_MEASURES = {"accuracy": "accuracy", "ci_low": "accuracy", "ci_high": "accuracy", "chance": "accuracy",
                  "null_mean": "accuracy", "macro_f1": "macro_f1", "test_split_accuracy": "accuracy"}
#: The columns of the probe table, in order.
TABLE_COLUMNS = ["encoder", "modality", "model", "accuracy", "ci_low", "ci_high", "chance", "null_mean", "p_value",
                 "p_holm", "p_bh", "macro_f1", "n", "n_classes", "dim", "protocol", "test_split_accuracy", "n_test",
                 "notes", "error"]


def protocol_macro_f1(result: ProbeAccuracy) -> float:
    """Macro-F1 of the protocol's held-out predictions (every repeat pooled): a detail beside the accuracy."""
    from sklearn.metrics import f1_score

    table = result.predictions
    return float(f1_score(table["truth"], table["predicted"], average="macro", zero_division=0))


@dataclass
class ProbeTable:
    """Every encoder × model: ``table`` (one row each: the protocol's accuracy with interval, chance, null and
    p, Holm and BH over the rows, and details) and each trained result by (encoder, model); the analysis
    protocol (:mod:`counterpoint.results`), its JSON form ``probe_table.json``."""

    label: str
    repeats: int
    table: pd.DataFrame
    results: dict[tuple[str, str], ProbeResult]

    @property
    def errors(self) -> list[str]:
        """One ``encoder · model: error`` line per failed combination."""
        return [f"{row.encoder} · {row.model}: {row.error}" for row in self.table.itertuples() if row.error]

    @property
    def settings(self) -> dict[str, Any]:
        return {"label": self.label, "repeats": self.repeats}

    @property
    def notes(self) -> list[str]:
        """The failed combinations, then each trained probe's guard notes."""
        return [*self.errors, *(f"{encoder} · {model}: {note}" for (encoder, model), result in self.results.items()
                                for note in result.notes)]

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        return {"probe_table": self.table}

    def as_dict(self) -> dict[str, Any]:
        """The JSON form (NaN as null), ``probe_table.json``."""
        return json_ready({"label": self.label, "repeats": self.repeats, "rows": self.table})


def probe_table(store_or_path: "Store | str | Path", label: str, *, models: Sequence[str] = ("linear",),
                repeats: int = PROBE_SEEDS, encoders: Sequence[str] | None = None, depth: int | None = None,
                group: str | None = None, settings: TrainSettings = TrainSettings(),
                pooled: Mapping[str, EmbeddingMatrix] | None = None,
                progress: ProgressCallback | None = None, keep_fold_probes: bool = False) -> ProbeTable:
    """Every encoder but the untrained controls (or those given) × model: the probe accuracy under the one protocol (``repeats`` repeats
    of the cross-validation, each its own fold shuffle and training seed ``settings.seed + repeat``) with
    its interval, chance, permutation null and p, Holm- and BH-adjusted over the rows (:data:`P_VALUE_FAMILIES`);
    the macro-F1 of the same predictions, and the test split accuracy of the saved run as details.

    ``pooled`` are pooled matrices already read, by spec (each encoder's embeddings are read once
    either way). ``progress("encoder · model", i - 1, n)`` is called before the i-th of n. One failing
    combination (e.g. a store without frames) is recorded in the ``error`` column and the rest go on.
    ``keep_fold_probes``: every fold's probe is kept too (:attr:`ProbeResult.fold_probes`).
    """
    if repeats < 1:
        raise CounterpointError(f"repeats={repeats}: give at least one repeat")
    store = as_store(store_or_path)
    read: dict[tuple[str, bool], ProbeData] = {(spec, False): matrix for spec, matrix in (pooled or {}).items()}
    rows, results = [], {}
    controls = store.untrained_controls()  # beside their trained encoder in the untrained control only
    specs = list(encoders or [spec for spec in store.encoder_specs if spec not in controls])
    total, done = len(specs) * len(models), 0
    for encoder in specs:
        for model in models:
            if progress is not None:
                progress(f"{encoder} · {model}", done, total)
            done += 1
            row: dict[str, Any] = {"encoder": encoder, "modality": "", "model": model, "error": "", "notes": ""}
            try:
                key = (encoder, takes_sequences(resolve_model_class(model)))
                if key not in read:
                    read[key] = read_probe_data(store, *key)
                result = probe_data(read[key], label=label, model=model, depth=depth, group=group, settings=settings,
                                    repeats=repeats, keep_fold_probes=keep_fold_probes)
            except CounterpointError as error:
                rows.append({**row, "error": str(error)})
                continue
            results[(encoder, model)] = result
            scored = result.protocol
            rows.append({**row, "encoder": result.config["encoder"], "modality": result.config["modality"],
                         "accuracy": scored.accuracy, "ci_low": scored.ci_low, "ci_high": scored.ci_high,
                         "chance": scored.chance, "null_mean": scored.null_mean, "p_value": scored.p_value,
                         "macro_f1": protocol_macro_f1(scored), "n": scored.n, "n_classes": scored.n_classes,
                         "dim": scored.dim, "protocol": scored.plan.description,
                         "test_split_accuracy": result.test_split_accuracy, "n_test": result.split_counts["test"],
                         "notes": "; ".join(result.notes)})
    table = pd.DataFrame(rows).reindex(columns=[c for c in TABLE_COLUMNS if c not in ("p_holm", "p_bh")])
    table = with_adjusted_p_values(table.fillna({"error": "", "notes": ""})).reindex(columns=TABLE_COLUMNS)
    return ProbeTable(label, repeats, check_columns(table, TABLE_MEASURES, keys=("encoder", "model")), results)
