"""Saving and loading a trained probe: ``model.safetensors`` + ``config.json`` in one folder.

``model.safetensors`` holds the probe's weights and its input scaler (``scaler_mean``,
``scaler_scale``, fitted on the training split). ``config.json`` holds everything needed to
rebuild the model and to read the right embeddings again: model kind or class path, its
keyword arguments, input dimension, label mapping (class index → label), encoder spec, label
column, label depth, seed and split counts.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from safetensors.torch import load_file, save_file

from counterpoint.errors import CounterpointError
from counterpoint.probes.models import ProbeClassifier, build_model
from counterpoint.probes.train import resolve_device

MODEL_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1


def write_json(path: Path, data: Any) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")


def save_probe(model: ProbeClassifier, config: dict[str, Any], out_dir: str | Path) -> Path:
    """Write the weights (with scaler) and the configuration; returns the folder."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    state = {key: value.detach().cpu().contiguous() for key, value in model.state_dict().items()}
    save_file(state, str(out_dir / MODEL_FILE), metadata={"format": "counterpoint-probe", "model": str(config["model"])})
    write_json(out_dir / CONFIG_FILE, {"format_version": FORMAT_VERSION, **config})
    return out_dir


def load_config(model_dir: str | Path) -> dict[str, Any]:
    """The ``config.json`` of a saved probe, with a clear error when the folder is not one."""
    model_dir = Path(model_dir)
    path = model_dir / CONFIG_FILE
    if not path.is_file() or not (model_dir / MODEL_FILE).is_file():
        raise CounterpointError(f"{model_dir}: not a saved probe (needs {CONFIG_FILE} and {MODEL_FILE}) — "
                                "give the --out folder of `counterpoint probe`")
    config = json.loads(path.read_text(encoding="utf-8"))
    if config.get("format_version") != FORMAT_VERSION:
        raise CounterpointError(f"{path}: probe format {config.get('format_version')} is not {FORMAT_VERSION} — retrain the probe")
    return config


def load_probe(model_dir: str | Path, device: str = "cpu") -> tuple[ProbeClassifier, dict[str, Any]]:
    """Rebuild the probe from its folder; custom classes must be importable as when it was trained."""
    config = load_config(model_dir)
    net = build_model(config["model"], config["input_dim"], len(config["classes"]), kwargs=config["model_kwargs"])
    model = ProbeClassifier(net, config["input_dim"])
    state = load_file(str(Path(model_dir) / MODEL_FILE))
    try:
        model.load_state_dict(state)
    except RuntimeError as error:
        raise CounterpointError(f"{model_dir}/{MODEL_FILE}: weights do not fit {config['model']} "
                                f"with {config['model_kwargs']}: {error}") from None
    model.to(resolve_device(device)).eval()
    return model, config
