"""The HEAR 2021 submission validator (PyPI ``hearvalidator``) run on :mod:`counterpoint.hear`.

The validator imports TensorFlow only to recognise TensorFlow models; for a PyTorch module a
stub ``tensorflow`` with an empty ``Module`` class is enough, so the suite needs no TensorFlow.
It calls ``load_model()`` with no spec (musicnn, the default); the other encoders are
validated through a module whose ``load_model`` names their spec.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
import warnings
from functools import partial

import pytest

from counterpoint import hear

needs_musicnn = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                   reason="the musicnn wheel (pip install --no-deps musicnn==0.1.0) is not installed")
FINE_TIMESTAMPS_WARNING = "interval between timestamps less than or equal to 50ms"


@pytest.fixture()
def validate(monkeypatch):
    """``hearvalidator.validate`` imported against a stub ``tensorflow``."""
    if importlib.util.find_spec("hearvalidator") is None:
        pytest.skip("hearvalidator is not installed: pip install --no-deps hearvalidator==2021.0.2 (what `make setup` does)")
    stub = types.ModuleType("tensorflow")
    stub.Module = type("Module", (), {})
    monkeypatch.setitem(sys.modules, "tensorflow", stub)
    monkeypatch.delitem(sys.modules, "hearvalidator.validate", raising=False)
    return importlib.import_module("hearvalidator.validate")


def run_validator(validate, spec: str | None) -> list[str]:
    """Every check of the validator on counterpoint.hear (with ``spec``, or load_model's default); its warnings."""
    checker = validate.ValidateModel("counterpoint.hear", model_file_path="", device="cpu")
    checker.import_model()
    if spec is not None:
        checker.module = types.SimpleNamespace(load_model=partial(hear.load_model, spec=spec),
                                               get_timestamp_embeddings=hear.get_timestamp_embeddings,
                                               get_scene_embeddings=hear.get_scene_embeddings)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            checker.check_load_model()
            checker.validate_model()
        except validate.ModelError as error:  # a BaseException: turn it into a plain test failure
            pytest.fail(f"hearvalidator rejects counterpoint.hear ({spec or 'default spec'}): {error}")
    assert checker.model_type == "torch"
    return [str(w.message) for w in caught]


def test_audio_stats_passes_the_hear_validator(validate) -> None:
    run_validator(validate, "audio-stats")


@needs_musicnn
def test_musicnn_passes_the_hear_validator_with_timestamps_within_50_ms(validate, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("COUNTERPOINT_WEIGHTS_DIR", raising=False)
    caught = run_validator(validate, None)  # the validator's own call: load_model() with no arguments
    assert not [message for message in caught if FINE_TIMESTAMPS_WARNING in message]
