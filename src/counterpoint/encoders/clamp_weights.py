"""The published CLaMP 2 / CLaMP 3 checkpoints and how one model branch is read out of them.

A CLaMP checkpoint holds several branches (text, symbolic, audio) under key prefixes;
each encoder loads its own branch with :func:`load_branch`. CLaMP 3's symbolic and audio
encoders read the same file, so both live in one space.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from counterpoint.encoders.weights import WeightFile, estimated_size
from counterpoint.errors import WeightsError

# Sizes. No source we can reach states the byte counts of these files, so they are estimated from the
# architectures at their published sizes: float32 values in the checkpoint's ``"model"`` state dict, branch by
# branch (tests/test_weight_sizes.py builds each branch on the meta device and checks the counts). The files are
# the training scripts' ``torch.save({"model": ..., "optimizer": ..., "lr_sched": ..., "epoch": ...,
# "min_eval_loss": ...})`` (code/train_clamp2.py, train_clamp3_*.py); the reference extractors read
# "epoch" and "min_eval_loss" from the published files, so those keys were kept. Whether the AdamW state
# (two more float32 values per trained parameter) was kept as well, nothing we can read says: the
# estimates count the model alone, and a file near 2-3 × that size would be one that kept it.
#: ``text_model`` (FacebookAI/xlm-roberta-base as AutoModel loads it, pooler included) + ``text_proj``.
TEXT_BRANCH_VALUES = 278_043_648 + 590_592
#: The M3 encoder + its projection (``music_model``/``music_proj``, ``symbolic_model``/``symbolic_proj``).
M3_BRANCH_VALUES = 92_924_928
#: CLaMP 3's ``audio_model`` (a 12-layer BERT over MERT features) + ``audio_proj``.
CLAMP3_AUDIO_BRANCH_VALUES = 86_337_792

CLAMP2_WEIGHTS = WeightFile(
    model="clamp2", repo_id="sander-wood/clamp2",
    filename="weights_clamp2_h_size_768_lr_5e-05_batch_128_scale_1_t_length_128_t_model_FacebookAI_xlm-roberta-base_t_dropout_True_m3_True.pth",
    size=estimated_size(TEXT_BRANCH_VALUES + M3_BRANCH_VALUES, "the text and music branches' state dict"))
#: CLaMP 3 SAAS: the checkpoint the authors recommend for audio; symbolic and audio branches share its space.
CLAMP3_SAAS_WEIGHTS = WeightFile(
    model="clamp3", repo_id="sander-wood/clamp3",
    filename="weights_clamp3_saas_h_size_768_t_model_FacebookAI_xlm-roberta-base_t_length_128_a_size_768_a_layers_12_a_length_128_s_size_768_s_layers_12_p_size_64_p_length_512.pth",
    size=estimated_size(TEXT_BRANCH_VALUES + M3_BRANCH_VALUES + CLAMP3_AUDIO_BRANCH_VALUES,
                        "the text, symbolic and audio branches' state dict"))
#: CLaMP 3 C2: the checkpoint the authors recommend for symbolic-only retrieval.
CLAMP3_C2_WEIGHTS = WeightFile(
    model="clamp3-c2", repo_id="sander-wood/clamp3",
    filename="weights_clamp3_c2_h_size_768_t_model_FacebookAI_xlm-roberta-base_t_length_128_a_size_768_a_layers_12_a_length_128_s_size_768_s_layers_12_p_size_64_p_length_512.pth",
    size=CLAMP3_SAAS_WEIGHTS.size)  # the same architecture, trained differently



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


def load_branch(module: Any, path: str | Path, prefixes: dict[str, str]) -> None:
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
