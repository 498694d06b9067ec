"""Probing an embedding store: one probe, a saved probe on new data, and the encoders × models table.

The array-level entry point is :func:`fit_probe` (inputs, labels, splits → trained, evaluated
and optionally saved probe). :func:`probe`, :func:`evaluate_saved` and :func:`probe_table`
read a :class:`~counterpoint.store.Store` and call it.

Splits: the dataset's ``split`` column when every labelled track has one of
train/validation/test (a validation part is cut out of train, by group, when the column has
none); otherwise a stratified train/validation/test split (70/15/15, as closely as whole groups
allow; the split source states the counts given, and every class is in training) grouped by
the group column, seeded with the probe's seed. No group ever sits on two sides; this is checked.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import torch
from sklearn.metrics import classification_report, confusion_matrix

from counterpoint.data.manifest import label_at_depth
from counterpoint.errors import CounterpointError
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
from counterpoint.probes.persist import load_probe, save_probe, write_json
from counterpoint.probes.train import TrainSettings, predict_logits, scores, seed_everything, train_probe
from counterpoint.report.probe_figures import save_confusion_matrix
from counterpoint.splits import SPLITS, assign_splits, assert_no_leak, describe_splits

if TYPE_CHECKING:
    from counterpoint.store import Store

#: Share of the training tracks moved to validation when the split column has no validation part.
VALIDATION_SHARE = 0.15


# ----------------------------------------------------------------------------- labels and splits


def _text(values: Sequence[Any]) -> np.ndarray:
    """Strings, with None/NaN as ''."""
    return np.array(["" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip() for v in values],
                    dtype=object)


def label_values(obs: pd.DataFrame, label: str, label_depth: int | None = None) -> np.ndarray:
    """The label of every row as text ('' when empty), cut to ``label_depth`` levels of ``a/b/c``."""
    if label not in obs.columns:
        columns = [c for c in obs.columns if c not in ("id", "audio_filename", "midi_filename", "split")]
        raise CounterpointError(f"label column {label!r} is not in the store — available: {', '.join(columns)}")
    return np.array([label_at_depth(v, label_depth) if v else "" for v in _text(obs[label])], dtype=object)


def group_values(obs: pd.DataFrame, group: str | None) -> np.ndarray | None:
    """The group of every row: the named column, else the dataset's ``group`` column when it has values."""
    if group is None:
        if "group" in obs.columns and (_text(obs["group"]) != "").any():
            return _text(obs["group"])
        return None
    if group not in obs.columns:
        raise CounterpointError(f"group column {group!r} is not in the store — available: {', '.join(obs.columns)}")
    return _text(obs[group])


@dataclass(frozen=True)
class SplitPlan:
    """Which split every track is in, and how that was decided."""

    splits: np.ndarray
    source: str

    def counts(self) -> dict[str, int]:
        return {name: int((self.splits == name).sum()) for name in SPLITS}


def plan_splits(labels: np.ndarray, groups: np.ndarray | None, given: Sequence[Any] | None, seed: int) -> SplitPlan:
    """The dataset's split column when complete, else a stratified grouped split; leak-checked."""
    given_text = None if given is None else np.array([g.lower() for g in _text(given)], dtype=object)
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
    """A trained and tested probe: test scores, the report, and where it was saved."""

    model: str
    classes: list[str]
    accuracy: float
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
    out_dir: Path | None = None
    notes: list[str] = field(default_factory=list)


def model_kwargs_for(model: str, hidden: Sequence[int], dropout: float, model_kwargs: dict[str, Any] | None) -> dict[str, Any]:
    """Constructor arguments: built-ins take hidden/dropout; custom classes take ``model_kwargs`` only."""
    if model in BUILTIN_MODELS:
        return {**builtin_kwargs(model, hidden, dropout), **(model_kwargs or {})}
    return dict(model_kwargs or {})


def fit_probe(inputs: ProbeInputs, labels: Sequence[str], splits: Sequence[str], model: str = "linear",
              ids: Sequence[str] | None = None, hidden: Sequence[int] = (256,), dropout: float = 0.2,
              model_kwargs: dict[str, Any] | None = None, settings: TrainSettings = TrainSettings(),
              out_dir: str | Path | None = None, extra_config: dict[str, Any] | None = None) -> ProbeResult:
    """Train a probe on the train rows, stop early on the validation rows, test on the test rows.

    ``inputs`` is a matrix ``[N, D]`` for pooled probes or a list of ``[T_i, D]`` frames for
    sequence probes; ``labels`` are non-empty strings; ``splits`` train/validation/test.
    With ``out_dir`` everything is written there (see :func:`save_result`).
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

    dim = input_dim(inputs)
    kwargs = model_kwargs_for(model, hidden, dropout, model_kwargs)
    scaler = Standardizer.fit(take(inputs, rows["train"]))
    seed_everything(settings.seed)  # the initial weights depend on the seed too
    probe = ProbeClassifier(build_model(model, dim, len(classes), kwargs), dim)
    probe.set_scaler(torch.as_tensor(scaler.mean), torch.as_tensor(scaler.scale))
    outcome = train_probe(probe, take(inputs, rows["train"]), y[rows["train"]], take(inputs, rows["validation"]),
                          y[rows["validation"]], len(classes), settings)

    test_logits = predict_logits(outcome.model.cpu(), take(inputs, rows["test"]), settings.batch_size)
    predicted = test_logits.argmax(axis=1)
    y_test = y[rows["test"]]
    accuracy, macro_f1 = scores(y_test, predicted, len(classes))
    label_range = np.arange(len(classes))
    report = classification_report(y_test, predicted, labels=label_range, target_names=classes, output_dict=True, zero_division=0)
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
                     "batch_size": settings.batch_size, "weight_decay": settings.weight_decay,
                     "class_weights": "inverse frequency", "early_stopping": "validation macro-F1",
                     "best_epoch": outcome.best_epoch, "epochs_run": len(outcome.history)},
        "seed": settings.seed,
        "split_counts": split_counts,
        "notes": notes,
    }
    result = ProbeResult(
        model=model, classes=classes, accuracy=accuracy, macro_f1=macro_f1, report=report, report_text=report_text,
        confusion=confusion_matrix(y_test, predicted, labels=label_range),
        test_predictions=pd.DataFrame({"id": ids[rows["test"]], "label": labels[rows["test"]],
                                       "predicted": np.asarray(classes, dtype=object)[predicted]}),
        history=outcome.history, best_epoch=outcome.best_epoch, split_counts=split_counts, config=config,
        probe=outcome.model, notes=notes,
    )
    if out_dir is not None:
        save_result(result, out_dir)
    return result


def save_result(result: ProbeResult, out_dir: str | Path) -> Path:
    """Write model.safetensors, config.json, training_history.json, classification_report.json/.txt,
    test_predictions.csv and confusion_matrix.png into ``out_dir``."""
    out_dir = Path(out_dir)
    save_probe(result.probe, result.config, out_dir)
    write_json(out_dir / "training_history.json", result.history)
    write_json(out_dir / "classification_report.json",
               {"split": "test", "accuracy": result.accuracy, "macro_f1": result.macro_f1, "report": result.report})
    (out_dir / "classification_report.txt").write_text(
        f"test split, {result.split_counts['test']} tracks\n\n{result.report_text}", encoding="utf-8")
    result.test_predictions.to_csv(out_dir / "test_predictions.csv", index=False)
    title = f"{result.config.get('encoder', '')} · {result.model} · test macro-F1 {result.macro_f1:.3f}".strip(" ·")
    save_confusion_matrix(result.confusion, result.classes, out_dir / "confusion_matrix.png", title=title)
    result.out_dir = out_dir
    return out_dir


# ----------------------------------------------------------------------------- on a store


def _open_store(store_or_path: "Store | str | Path") -> "Store":
    """An open store: the object itself when it offers the read API, else ``Store(path)``."""
    if hasattr(store_or_path, "pooled") and hasattr(store_or_path, "frames"):
        return store_or_path  # type: ignore[return-value]
    from counterpoint.store import Store

    return Store(store_or_path)


def _read_inputs(store: "Store", encoder: str, sequences: bool) -> tuple[str, str, ProbeInputs, pd.DataFrame]:
    """(canonical spec, modality, inputs, obs) for pooled vectors or frame sequences."""
    if sequences:
        f = store.frames(encoder)
        return f.spec, f.modality, [np.asarray(x, dtype=np.float32) for x in f.frames], f.obs.reset_index(drop=True)
    m = store.pooled(encoder)
    return m.spec, m.modality, np.asarray(m.X, dtype=np.float32), m.obs.reset_index(drop=True)


def _usable_rows(inputs: ProbeInputs, labels: np.ndarray) -> tuple[np.ndarray, list[str]]:
    """Rows with a label (and at least one frame for sequences), and notes on what was left out."""
    keep = labels != ""
    notes = []
    if (~keep).any():
        notes.append(f"{int((~keep).sum())} of {len(labels)} tracks have an empty label and were left out")
    if isinstance(inputs, list):
        empty = np.array([len(x) == 0 for x in inputs]) & keep
        if empty.any():
            notes.append(f"{int(empty.sum())} labelled tracks have no frames and were left out")
        keep &= ~empty
    return np.flatnonzero(keep), notes


def probe(store_or_path: "Store | str | Path", encoder: str, label: str, model: str = "linear",
          out_dir: str | Path | None = None, group: str | None = None, hidden: Sequence[int] = (256,),
          dropout: float = 0.2, epochs: int = 100, patience: int = 10, lr: float = 1e-3, batch_size: int = 32,
          seed: int = 0, device: str = "cpu", label_depth: int | None = None,
          model_kwargs: dict[str, Any] | None = None) -> ProbeResult:
    """Train and test one probe of ``label`` on ``encoder``'s embeddings in a store.

    ``linear``/``mlp`` (and custom classes by default) read the pooled vectors; ``lstm``,
    ``attention`` and custom classes with ``takes_sequences = True`` read the frames.
    ``group`` names the column that keeps related tracks on one side of the split (default:
    the dataset's ``group`` column when filled). Tracks with an empty label are left out and
    counted in ``result.notes``. ``seed`` seeds the split (when computed) and the training.
    """
    settings = TrainSettings(epochs=epochs, patience=patience, lr=lr, batch_size=batch_size, seed=seed, device=device)
    store = _open_store(store_or_path)
    sequences = takes_sequences(resolve_model_class(model))
    spec, modality, inputs, obs = _read_inputs(store, encoder, sequences)
    if len(obs) == 0:
        raise CounterpointError(f"{store.path}: encoder {spec} holds no tracks — nothing to probe; "
                                f"`counterpoint store info {store.path} --failures` says why its tracks failed")
    labels = label_values(obs, label, label_depth)
    keep, notes = _usable_rows(inputs, labels)
    inputs, labels, obs = take(inputs, keep), labels[keep], obs.iloc[keep].reset_index(drop=True)
    groups = group_values(obs, group)
    plan = plan_splits(labels, groups, obs["split"] if "split" in obs.columns else None, seed)
    extra = {"encoder": spec, "modality": modality, "label": label, "label_depth": label_depth,
             "group": group if group is not None else ("group" if groups is not None else None),
             "split_source": plan.source, "notes": notes}
    return fit_probe(inputs, labels, plan.splits, model=model, ids=obs["id"].astype(str).to_numpy(), hidden=hidden,
                     dropout=dropout, model_kwargs=model_kwargs, settings=settings, out_dir=out_dir, extra_config=extra)


@dataclass
class EvaluationResult:
    """A saved probe applied to a store: scores on the tracks whose label it knows."""

    accuracy: float
    macro_f1: float
    report: dict[str, Any]
    report_text: str
    confusion: np.ndarray
    classes: list[str]
    predictions: pd.DataFrame
    unseen_labels: dict[str, int]
    notes: list[str]


def evaluate_saved(model_dir: str | Path, store_or_path: "Store | str | Path", split: str | None = None,
                   out_dir: str | Path | None = None, device: str = "cpu") -> EvaluationResult:
    """Apply a saved probe to a store without training.

    The store must hold the encoder spec the probe was trained on. The saved label mapping
    is reused; tracks whose label the probe never saw are counted in ``unseen_labels`` and
    left out of the scores. ``split`` restricts to one split of the store's split column.
    With ``out_dir``, writes evaluation_report.json/.txt, predictions.csv and confusion_matrix.png.
    """
    probe_model, config = load_probe(model_dir, device=device)
    store = _open_store(store_or_path)
    if config["encoder"] not in store.encoder_specs:
        raise CounterpointError(f"{model_dir}: the probe was trained on {config['encoder']!r}, which the store lacks "
                                f"(it has {', '.join(store.encoder_specs)}) — embed the dataset with that spec first")
    spec, _, inputs, obs = _read_inputs(store, config["encoder"], config["takes_sequences"])
    if input_dim(inputs) != config["input_dim"]:
        raise CounterpointError(f"{spec}: the store's embeddings have dimension {input_dim(inputs)}, the probe expects "
                                f"{config['input_dim']} — recompute the store with the same encoder version")
    labels = label_values(obs, config["label"], config.get("label_depth"))
    keep, notes = _usable_rows(inputs, labels)
    if split is not None:
        in_split = _text(obs["split"]) == split if "split" in obs.columns else np.zeros(len(obs), dtype=bool)
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
    classes = list(config["classes"])
    y = np.searchsorted(classes, labels[keep].astype(str))
    logits = predict_logits(probe_model, take(inputs, keep), config["training"]["batch_size"], device=device)
    predicted = logits.argmax(axis=1)
    accuracy, macro_f1 = scores(y, predicted, len(classes))
    label_range = np.arange(len(classes))
    result = EvaluationResult(
        accuracy=accuracy, macro_f1=macro_f1,
        report=classification_report(y, predicted, labels=label_range, target_names=classes, output_dict=True, zero_division=0),
        report_text=classification_report(y, predicted, labels=label_range, target_names=classes, zero_division=0, digits=3),
        confusion=confusion_matrix(y, predicted, labels=label_range), classes=classes,
        predictions=pd.DataFrame({"id": obs["id"].astype(str).to_numpy()[keep], "label": labels[keep],
                                  "predicted": np.asarray(classes, dtype=object)[predicted]}),
        unseen_labels={str(k): int(v) for k, v in unseen.items()}, notes=notes)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        write_json(out / "evaluation_report.json", {"model_dir": str(model_dir), "accuracy": accuracy, "macro_f1": macro_f1,
                                                    "unseen_labels": result.unseen_labels, "notes": notes,
                                                    "report": result.report})
        (out / "evaluation_report.txt").write_text("\n".join(notes + ["", result.report_text]), encoding="utf-8")
        result.predictions.to_csv(out / "predictions.csv", index=False)
        save_confusion_matrix(result.confusion, classes, out / "confusion_matrix.png",
                              title=f"{spec} · {config['model']} · macro-F1 {macro_f1:.3f}")
    return result


# ----------------------------------------------------------------------------- the table


def _folder_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_") or "probe"


def summarise_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean and sample standard deviation (ddof=1; NaN for one seed) per encoder × model."""
    ok = runs[runs["error"] == ""]
    keys = ["encoder", "modality", "model"]
    table = ok.groupby(keys, sort=False).agg(
        seeds=("seed", "count"),
        accuracy_mean=("accuracy", "mean"), accuracy_std=("accuracy", "std"),
        macro_f1_mean=("macro_f1", "mean"), macro_f1_std=("macro_f1", "std"),
        n_classes=("n_classes", "first"), n_train=("n_train", "mean"), n_test=("n_test", "mean"),
    ).reset_index()
    failed = runs[runs["error"] != ""].groupby(keys, sort=False)["error"].first().reset_index()
    table = table.merge(failed, on=keys, how="outer") if len(failed) else table.assign(error="")
    return table.fillna({"error": ""})


def probe_table(store_or_path: "Store | str | Path", label: str,
                models: Sequence[str] = ("linear", "mlp", "lstm", "attention"), seeds: int = 5,
                out_dir: str | Path | None = None, encoders: Sequence[str] | None = None,
                progress: Callable[[str], None] | None = None, **probe_kwargs: Any) -> pd.DataFrame:
    """Every encoder (or those given) × model × seed 0..seeds-1: test accuracy and macro-F1, mean ± std.

    ``probe_kwargs`` go to :func:`probe` (group, hidden, epochs...); ``progress`` is called with
    ``"run i/n: encoder · model · seed k"`` before each run. One failing combination
    (e.g. a store without frames) is recorded in the ``error`` column and the rest go on.
    With ``out_dir``, each run is saved under ``out_dir/<encoder>/<model>/seed<k>`` and the
    table is written as ``probe_runs.csv`` (one row per run), ``probe_table.csv`` and
    ``probe_table.json``.
    """
    if seeds < 1:
        raise CounterpointError(f"seeds={seeds}: give at least one seed")
    store = _open_store(store_or_path)
    if out_dir is not None:
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    specs = list(encoders or store.encoder_specs)
    total, done = len(specs) * len(models) * seeds, 0
    for encoder in specs:
        for model in models:
            for seed in range(seeds):
                done += 1
                if progress is not None:
                    progress(f"run {done}/{total}: {encoder} · {model} · seed {seed}")
                row: dict[str, Any] = {"encoder": encoder, "modality": "", "model": model, "seed": seed, "error": ""}
                try:
                    run_dir = None if out_dir is None else out_dir / _folder_name(encoder) / _folder_name(model) / f"seed{seed}"
                    result = probe(store, encoder, label, model=model, seed=seed, out_dir=run_dir, **probe_kwargs)
                except CounterpointError as error:
                    rows.append({**row, "error": str(error)})
                    done += seeds - seed - 1
                    break  # the same error would repeat for every seed
                rows.append({**row, "encoder": result.config["encoder"], "modality": result.config["modality"],
                             "accuracy": result.accuracy, "macro_f1": result.macro_f1,
                             "n_classes": len(result.classes), "n_train": result.split_counts["train"],
                             "n_test": result.split_counts["test"], "best_epoch": result.best_epoch})
    runs = pd.DataFrame(rows).reindex(columns=["encoder", "modality", "model", "seed", "accuracy", "macro_f1", "n_classes",
                                               "n_train", "n_test", "best_epoch", "error"])
    runs["error"] = runs["error"].fillna("")
    table = summarise_runs(runs)
    if out_dir is not None:
        runs.to_csv(out_dir / "probe_runs.csv", index=False)
        table.to_csv(out_dir / "probe_table.csv", index=False)
        write_json(out_dir / "probe_table.json", {"label": label, "seeds": seeds,
                                                  "rows": table.replace({np.nan: None}).to_dict(orient="records")})
    return table


def _mean_std(mean: float, std: float) -> str:
    if mean is None or (isinstance(mean, float) and math.isnan(mean)):
        return "—"
    return f"{mean:.3f}" + ("" if std is None or math.isnan(std) else f" ± {std:.3f}")


def probe_html_section(table: pd.DataFrame, title: str = "Probes") -> str:
    """An HTML ``<section>`` with the probe table (mean ± std over seeds; best macro-F1 per model in bold)."""
    best = table[table["error"] == ""].groupby("model")["macro_f1_mean"].max().to_dict() if len(table) else {}
    lines = [f"<section class=\"probes\">\n<h2>{html.escape(title)}</h2>",
             "<p>Test accuracy and macro-F1 of classifiers trained on each embedding (mean ± standard deviation over "
             "seeds; splits keep every group on one side). Chance macro-F1 is about 1 / number of classes.</p>",
             "<table>\n<thead><tr><th>encoder</th><th>modality</th><th>model</th><th>seeds</th><th>accuracy</th>"
             "<th>macro-F1</th><th>classes</th><th>test tracks</th></tr></thead>\n<tbody>"]
    for row in table.to_dict(orient="records"):
        cells = [f"<td>{html.escape(str(row[key]))}</td>" for key in ("encoder", "modality", "model")]
        if row.get("error"):
            cells.append(f"<td colspan=\"5\">failed: {html.escape(str(row['error']))}</td>")
        else:
            f1 = _mean_std(row["macro_f1_mean"], row["macro_f1_std"])
            if best.get(row["model"]) == row["macro_f1_mean"]:
                f1 = f"<strong>{f1}</strong>"
            values = [str(int(row["seeds"])), _mean_std(row["accuracy_mean"], row["accuracy_std"]), f1,
                      str(int(row["n_classes"])), f"{row['n_test']:.0f}"]
            cells += [f"<td>{v}</td>" for v in values]
        lines.append("<tr>" + "".join(cells) + "</tr>")
    lines.append("</tbody>\n</table>\n</section>")
    return "\n".join(lines)
