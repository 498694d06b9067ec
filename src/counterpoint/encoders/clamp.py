"""CLaMP 2 and CLaMP 3 (symbolic branch): MIDI → MTF → M3 patches → joint-space embeddings.

Both models embed a score with the same M3 encoder (:mod:`counterpoint.encoders.m3`) followed
by a linear projection into the space they share with text (and, for CLaMP 3, audio). Only
the checkpoint key prefixes, the weight files and one detail of the MIDI converter differ.

Long pieces follow the reference extractors (``extract_clamp2.py``, ``extract_clamp3.py``):
the patch sequence is cut into windows of ``patch_length`` patches, the last window taken
from the end of the piece; each window's patch states are mask-averaged and projected, and
the pooled vector is the mean of the windows' vectors weighted by how many new patches each
window brings (``patch_length`` for full windows, the remainder for the last one). Frames
are one per patch, in the joint space (the projection applied to each patch's last hidden
state, so a window's mean frame is exactly its projected vector), stitched across windows
the same way. A frame's time is the middle of its patch: the mean of the onsets (seconds,
from the MIDI delta ticks and tempo map) of the first and last MIDI message the patch holds;
the opening special patch is at 0 s, the closing one at the end of the MIDI.

Pieces shared with CLaMP 3's audio branch live here as plain functions:
:func:`segment_windows`, :func:`segment_weights`, :func:`run_segmented` (the
segment-and-weighted-mean extractor), :func:`read_branch_state_dict` /
:func:`load_branch` (weights) and :func:`cached_sha256`.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

import numpy as np

from counterpoint.data.manifest import Track
from counterpoint.encoders.base import Embedding, Encoder, Parameter
from counterpoint.encoders.devices import DEVICE_CHOICES, select_device
from counterpoint.encoders.weights import WeightFile, declare_weights, first_missing, resolve_weights, sha256_of
from counterpoint.errors import TrackError, WeightsError
from counterpoint.paths import cache_dir

# ----------------------------------------------------------------------------- weight files

CLAMP2_WEIGHTS = WeightFile(
    model="clamp2", repo_id="sander-wood/clamp2",
    filename="weights_clamp2_h_size_768_lr_5e-05_batch_128_scale_1_t_length_128_t_model_FacebookAI_xlm-roberta-base_t_dropout_True_m3_True.pth")
#: CLaMP 3 SAAS: the checkpoint the authors recommend for audio; symbolic and audio branches share its space.
CLAMP3_SAAS_WEIGHTS = WeightFile(
    model="clamp3", repo_id="sander-wood/clamp3",
    filename="weights_clamp3_saas_h_size_768_t_model_FacebookAI_xlm-roberta-base_t_length_128_a_size_768_a_layers_12_a_length_128_s_size_768_s_layers_12_p_size_64_p_length_512.pth")
#: CLaMP 3 C2: the checkpoint the authors recommend for symbolic-only retrieval.
CLAMP3_C2_WEIGHTS = WeightFile(
    model="clamp3-c2", repo_id="sander-wood/clamp3",
    filename="weights_clamp3_c2_h_size_768_t_model_FacebookAI_xlm-roberta-base_t_length_128_a_size_768_a_layers_12_a_length_128_s_size_768_s_layers_12_p_size_64_p_length_512.pth")

declare_weights(CLAMP2_WEIGHTS, CLAMP3_SAAS_WEIGHTS, CLAMP3_C2_WEIGHTS)

# ----------------------------------------------------------------------------- windows


def segment_windows(n_items: int, window: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each window over ``n_items``: consecutive windows of ``window``,
    the last one moved back to end at ``n_items`` (shorter only when ``n_items < window``)."""
    if n_items <= 0:
        raise ValueError("nothing to cut into windows")
    starts = list(range(0, n_items, window))
    spans = [(s, min(s + window, n_items)) for s in starts]
    spans[-1] = (max(0, n_items - window), n_items)
    return spans


def segment_weights(n_items: int, window: int) -> np.ndarray:
    """Weight of each window in the pooled mean: ``window`` per full window, the remainder for the last."""
    full, rest = divmod(n_items, window)
    return np.asarray([window] * full + ([rest] if rest else []), dtype=np.float64)


def stitch_windows(window_frames: Sequence[np.ndarray], n_items: int, window: int) -> np.ndarray:
    """One frame per item from per-window frames: each window's own items, the last window's tail."""
    rest = n_items % window
    parts = list(window_frames[:-1]) + [window_frames[-1][-rest:] if rest else window_frames[-1]]
    return np.concatenate(parts, axis=0)


def run_segmented(items: Sequence[Any], window: int, forward: Callable, batch_size: int, pad_item: Any,
                  device: str = "cpu") -> list[tuple[np.ndarray, np.ndarray]]:
    """The reference long-input extractor, batched over windows of several pieces.

    ``items`` are tensors ``[N_i, ...]`` (patches, or audio feature vectors); each is cut with
    :func:`segment_windows`, every window padded to ``window`` with ``pad_item`` (a tensor of
    one item's shape) and masked. ``forward(x [B, window, ...], mask [B, window])`` returns
    ``(hidden [B, window, H], pooled [B, P])``. Returns per item ``(frames [N_i, H], pooled
    [P])``: frames stitched with :func:`stitch_windows`, pooled the :func:`segment_weights`
    weighted mean of the windows' pooled vectors. float32 numpy.
    """
    import torch

    jobs: list[tuple[int, torch.Tensor, torch.Tensor]] = []
    spans_of: list[list[tuple[int, int]]] = []
    for index, item in enumerate(items):
        spans = segment_windows(len(item), window)
        spans_of.append(spans)
        for start, stop in spans:
            piece = item[start:stop]
            mask = torch.zeros(window, dtype=torch.float32)
            mask[:len(piece)] = 1.0
            if len(piece) < window:
                pad = pad_item.unsqueeze(0).expand(window - len(piece), *pad_item.shape).to(piece.dtype)
                piece = torch.cat([piece, pad], dim=0)
            jobs.append((index, piece, mask))
    hidden_out: list[np.ndarray] = []
    pooled_out: list[np.ndarray] = []
    with torch.inference_mode():
        for begin in range(0, len(jobs), batch_size):
            chunk = jobs[begin:begin + batch_size]
            x = torch.stack([j[1] for j in chunk]).to(device)
            mask = torch.stack([j[2] for j in chunk]).to(device)
            hidden, pooled = forward(x, mask)
            for row, job in enumerate(chunk):
                hidden_out.append(hidden[row, :int(job[2].sum())].float().cpu().numpy())
                pooled_out.append(pooled[row].float().cpu().numpy())
    results: list[tuple[np.ndarray, np.ndarray]] = []
    cursor = 0
    for item, spans in zip(items, spans_of):
        n = len(item)
        frames = stitch_windows(hidden_out[cursor:cursor + len(spans)], n, window)
        weights = segment_weights(n, window)
        stacked = np.stack(pooled_out[cursor:cursor + len(spans)]).astype(np.float64)
        pooled = (stacked * weights[:, None]).sum(axis=0) / weights.sum()
        results.append((frames.astype(np.float32), pooled.astype(np.float32)))
        cursor += len(spans)
    return results


# ----------------------------------------------------------------------------- weights


def read_branch_state_dict(path: str | Path, prefixes: dict[str, str]) -> dict[str, Any]:
    """The tensors of one model branch from a checkpoint, renamed by ``prefixes``.

    ``path`` is a ``.safetensors`` state dict or a PyTorch pickle (read with
    ``torch.load(weights_only=True)``) holding a state dict or, as the published CLaMP
    checkpoints do, a dict whose ``"model"`` entry is the state dict. ``prefixes`` maps
    checkpoint prefixes to module prefixes, e.g. ``{"music_model.": "encoder.", "music_proj.":
    "proj."}``; other keys (the text model...) are ignored, and so are ``position_ids``
    buffers that older transformers saved.
    """
    import torch

    path = Path(path)

    def wanted(key: str) -> str | None:
        if key.endswith("position_ids"):
            return None
        for old, new in prefixes.items():
            if key.startswith(old):
                return new + key[len(old):]
        return None

    try:
        if path.suffix == ".safetensors":
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                return {new: handle.get_tensor(key) for key in handle.keys() if (new := wanted(key))}
        try:
            checkpoint = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
        except RuntimeError as exc:
            if "mmap" not in str(exc):
                raise
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise WeightsError(f"weights file {path}: cannot read it ({type(exc).__name__}: {exc}) — "
                           "give a .safetensors state dict or a PyTorch checkpoint; if it is the official file, "
                           "delete it and fetch it again") from exc
    if isinstance(checkpoint, dict) and isinstance(checkpoint.get("model"), dict):
        checkpoint = checkpoint["model"]
    if not isinstance(checkpoint, dict):
        raise WeightsError(f"weights file {path}: holds a {type(checkpoint).__name__}, not a state dict")
    return {new: value for key, value in checkpoint.items() if (new := wanted(str(key)))}


def load_branch(module, path: str | Path, prefixes: dict[str, str]) -> None:
    """Load one branch of a checkpoint into ``module`` strictly; a WeightsError names the file and what is wrong."""
    state = read_branch_state_dict(path, prefixes)
    wanted = ", ".join(f"{p}*" for p in prefixes)
    if not state:
        raise WeightsError(f"weights file {path}: no keys {wanted} — is it the checkpoint of this model?")
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong_shape = sorted(k for k in set(own) & set(state) if tuple(own[k].shape) != tuple(state[k].shape))
    if missing or unexpected or wrong_shape:
        details = []
        if missing:
            details.append(f"missing {len(missing)} keys (e.g. {missing[0]})")
        if unexpected:
            details.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[0]})")
        if wrong_shape:
            k = wrong_shape[0]
            details.append(f"{len(wrong_shape)} shape mismatches (e.g. {k}: file {tuple(state[k].shape)}, "
                           f"model {tuple(own[k].shape)})")
        raise WeightsError(f"weights file {path} does not fit the model ({'; '.join(details)}) — "
                           "give the matching config=PATH.json (or none for the official full-size model)")
    module.load_state_dict(state, strict=True)


_DIGESTS: dict[tuple[str, int, int], str] = {}


def cached_sha256(path: str | Path) -> str:
    """SHA-256 of a file, remembered (in memory and in the cache folder) per path, size and mtime."""
    path = Path(path).resolve()
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    if key in _DIGESTS:
        return _DIGESTS[key]
    record = cache_dir() / "sha256.json"
    try:
        known = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        known = {}
    entry = known.get(str(path))
    if entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns:
        digest = entry["sha256"]
    else:
        digest = sha256_of(path)
        known[str(path)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "sha256": digest}
        temporary = record.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(json.dumps(known, indent=1), encoding="utf-8")
        temporary.replace(record)
    _DIGESTS[key] = digest
    return digest


# ----------------------------------------------------------------------------- M3 features


def m3_features(model, patches: Sequence[np.ndarray], batch_size: int = 4,
                device: str = "cpu") -> list[tuple[np.ndarray, np.ndarray]]:
    """Reference ``extract_feature`` for symbolic input, for several pieces at once.

    ``model`` is an :class:`~counterpoint.encoders.m3.M3WithProjection`; ``patches`` int64
    ``[N_i, patch_size]`` per piece. Returns per piece ``(patch_features [N_i, hidden],
    global_embedding [projection])``: the last hidden state of every patch (extract_feature
    without normalize) and the window-weighted mean of the projected, mask-averaged windows
    (with normalize).
    """
    import torch

    config = model.config
    items = [torch.as_tensor(np.asarray(p, dtype=np.int64)) for p in patches]
    pad = torch.zeros(config.patch_size, dtype=torch.int64)
    return run_segmented(items, config.patch_length, model, batch_size, pad, device)


# ----------------------------------------------------------------------------- encoders


@dataclass(frozen=True)
class PreparedScore:
    """One MIDI file ready for M3: patches ``[N, patch_size]``, patch times (s) ``[N]``, duration (s)."""

    patches: np.ndarray
    times: np.ndarray
    duration: float


def patch_times(first_line: np.ndarray, last_line: np.ndarray, line_seconds: np.ndarray, duration: float) -> np.ndarray:
    """Middle of each patch in seconds; special patches (line -1) at 0 s (opening) and ``duration`` (closing)."""
    first = np.where(first_line >= 0, line_seconds[np.maximum(first_line, 0)], np.nan)
    last = np.where(last_line >= 0, line_seconds[np.maximum(last_line, 0)], np.nan)
    times = (first + last) / 2.0
    special = first_line < 0
    times[special] = 0.0
    if special.any() and special[-1] and len(times) > 1:
        times[-1] = duration
    return times


class M3ClampEncoder(Encoder):
    """Shared code of CLaMP 2 and CLaMP 3's symbolic branch (subclasses set the class attributes)."""

    modality = "symbolic"
    requirements = "torch and transformers; the model's weights file (`counterpoint weights fetch NAME`)"
    default_batch_size = 4
    #: checkpoint prefix → module prefix of the branch in the published checkpoint
    prefixes: ClassVar[dict[str, str]]
    #: which reference MIDI→MTF converter the model was trained with ("clamp2" / "clamp3")
    converter: ClassVar[str]
    common_parameters: ClassVar[dict[str, Parameter]] = {
        "weights": Parameter(None, "path of a checkpoint (.pth or .safetensors); default: the official file"),
        "config": Parameter(None, "path of a JSON M3Config for a non-standard model; default: the full-size model"),
        "batch_size": Parameter(4, "windows of patch_length patches per forward pass"),
        "device": Parameter("cpu", "torch device to run on", choices=DEVICE_CHOICES),
    }

    def __init__(self, **params: Any) -> None:
        super().__init__(**params)
        from counterpoint.encoders.m3 import M3Config

        self.config = M3Config.from_json(self.params["config"]) if self.params["config"] else M3Config()
        if self.params["weights"] and not Path(self.params["weights"]).expanduser().exists():
            raise WeightsError(f"encoder {self.name}: weights file {self.params['weights']} not found — check the path in weights=...")
        self._model = None

    @classmethod
    def weight_file(cls, params: dict[str, Any]) -> WeightFile:
        """The official weights file for these parameters."""
        raise NotImplementedError

    @classmethod
    def unavailable_reason(cls) -> str | None:
        return first_missing([cls.weight_file({k: p.default for k, p in cls.parameters.items()})])

    @property
    def dim(self) -> int:
        return self.config.projection_size

    def weights_path(self) -> Path:
        return resolve_weights(self.weight_file(self.params), self.params["weights"])

    def weights_digest(self) -> str | None:
        return cached_sha256(self.weights_path())

    def load(self) -> None:
        self.model()

    def model(self):
        """The M3 encoder with its projection, loaded once per encoder object."""
        if self._model is None:
            from counterpoint.encoders.m3 import M3WithProjection

            device = select_device(self.params["device"], self.name)
            model = M3WithProjection(self.config)
            load_branch(model, self.weights_path(), self.prefixes)
            self._model = model.eval().to(device)
        return self._model

    def prepare(self, track: Track) -> PreparedScore:
        from counterpoint.encoders.m3 import M3Patchilizer
        from counterpoint.encoders.mtf import midi_to_mtf

        if track.midi_path is None:
            raise TrackError(f"track {track.id!r}: has no MIDI file — {self.name} embeds MIDI; give midi_filename")
        mtf = midi_to_mtf(track.midi_path, self.converter, track.id)
        patches = M3Patchilizer(self.config.patch_size).encode(mtf.text, add_special_patches=True)
        times = patch_times(patches.first_line, patches.last_line, mtf.line_seconds, mtf.duration)
        return PreparedScore(patches.ids, times, mtf.duration)

    def embed_prepared(self, inputs: Sequence[PreparedScore]) -> list[Embedding]:
        import torch

        model = self.model()
        results = m3_features(model, [p.patches for p in inputs], self.params["batch_size"], self.params["device"])
        embeddings = []
        with torch.inference_mode():
            for prepared, (hidden, pooled) in zip(inputs, results):
                projected = model.proj(torch.from_numpy(hidden).to(self.params["device"])).float().cpu().numpy()
                embeddings.append(Embedding(projected, prepared.times, pooled, prepared.duration))
        return embeddings


class Clamp2Encoder(M3ClampEncoder):
    """CLaMP 2's music encoder (M3, 768-d joint text–music space) on MIDI."""

    name = "clamp2"
    description = "CLaMP 2 symbolic encoder (M3 over MTF patches), 768-d text-music space"
    parameters = dict(M3ClampEncoder.common_parameters)
    prefixes = {"music_model.": "encoder.", "music_proj.": "proj."}
    converter = "clamp2"

    @classmethod
    def weight_file(cls, params: dict[str, Any]) -> WeightFile:
        return CLAMP2_WEIGHTS


class Clamp3SymbolicEncoder(M3ClampEncoder):
    """CLaMP 3's symbolic encoder (M3) on MIDI, in the space CLaMP 3 shares with audio and text."""

    name = "clamp3-symbolic"
    description = "CLaMP 3 symbolic encoder (M3 over MTF patches), 768-d audio-score-text space"
    parameters = {
        "variant": Parameter("saas", "official checkpoint: saas (shared with the audio branch, recommended) "
                             "or c2 (tuned for symbolic retrieval)", choices=("saas", "c2")),
        **M3ClampEncoder.common_parameters,
    }
    prefixes = {"symbolic_model.": "encoder.", "symbolic_proj.": "proj."}
    converter = "clamp3"

    @classmethod
    def weight_file(cls, params: dict[str, Any]) -> WeightFile:
        return CLAMP3_C2_WEIGHTS if params.get("variant") == "c2" else CLAMP3_SAAS_WEIGHTS
