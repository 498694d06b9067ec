"""The local engine starts the first encoder's file-reading workers before the models load, where
reading needs no model: the workers import what reading needs while this process loads the models.
Where reading needs the model, the workers start after it, and this process imports what reading
needs before it forks them (every worker inherits it)."""

from __future__ import annotations

import multiprocessing
import os
import sys
from pathlib import Path

import pytest

from conftest import make_class_folders
from counterpoint.embed import embed_dataset
from counterpoint.encoders.base import Parameter
from counterpoint.errors import WeightsError
from pitch_class_encoder import PitchClassEncoder

PROBE = "reading_imports_probe"
LATE_PROBE = "reading_imports_probe_late"


class ReadingProbeEncoder(PitchClassEncoder):
    """Pitch classes; each process that reads a file leaves ``pid_dir/<pid>`` saying whether the model
    was loaded in it and whether :data:`PROBE` was imported in it."""

    name = "test-reading-probe"
    prepares_before_load = True
    prepare_imports = (PROBE,)
    parameters = {**PitchClassEncoder.parameters, "pid_dir": Parameter("", "folder for the readers' reports"),
                  "broken": Parameter(False, "the model cannot load")}

    def __init__(self, **params) -> None:
        super().__init__(**params)
        self.loaded = False

    def load(self) -> None:
        if self.params["broken"]:
            raise WeightsError("test-reading-probe: no weights (on purpose)")
        self.loaded = True

    def prepare(self, track):
        report = f"loaded={self.loaded} imported={self.prepare_imports[0] in sys.modules}"
        (Path(self.params["pid_dir"]) / str(os.getpid())).write_text(report)
        return super().prepare(track)


class ModelReadingEncoder(ReadingProbeEncoder):
    """The same, declared to need its model for reading (and another module to import)."""

    name = "test-model-reading"
    prepares_before_load = False
    prepare_imports = (LATE_PROBE,)


def reports(folder: Path) -> set[str]:
    return {path.read_text() for path in folder.iterdir() if path.name != str(os.getpid())}


@pytest.fixture()
def dataset(tmp_path) -> Path:
    return make_class_folders(tmp_path / "data", per_class=3)


def test_workers_that_need_no_model_start_before_it_loads_with_their_imports(dataset, tmp_path) -> None:
    assert PROBE not in sys.modules
    readers = tmp_path / "readers"
    readers.mkdir()
    report = embed_dataset(dataset, tmp_path / "s.h5", [ReadingProbeEncoder(pid_dir=str(readers))], workers=2)
    assert report.runs[0].embedded == 6
    assert reports(readers) == {"loaded=False imported=True"}  # forked before load(), reading imports done
    assert PROBE not in sys.modules  # imported in the workers only


def test_workers_that_need_the_model_start_after_it_and_inherit_the_imports(dataset, tmp_path) -> None:
    assert LATE_PROBE not in sys.modules
    readers = tmp_path / "readers"
    readers.mkdir()
    report = embed_dataset(dataset, tmp_path / "s.h5", [ModelReadingEncoder(pid_dir=str(readers))], workers=2)
    assert report.runs[0].embedded == 6
    assert reports(readers) == {"loaded=True imported=True"}
    assert LATE_PROBE in sys.modules  # imported here once, before the workers were forked


def test_only_the_first_encoders_workers_start_early(dataset, tmp_path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    embed_dataset(dataset, tmp_path / "s.h5", [ReadingProbeEncoder(pid_dir=str(first)),
                                               ReadingProbeEncoder(pid_dir=str(second), batch_size=3)], workers=2)
    assert reports(first) == {"loaded=False imported=True"}
    assert reports(second) == {"loaded=True imported=True"}


def test_a_model_that_cannot_load_stops_the_early_workers_and_writes_no_store(dataset, tmp_path) -> None:
    readers = tmp_path / "readers"
    readers.mkdir()
    with pytest.raises(WeightsError, match="no weights"):
        embed_dataset(dataset, tmp_path / "s.h5", [ReadingProbeEncoder(pid_dir=str(readers), broken=True)], workers=2)
    assert multiprocessing.active_children() == []
    assert not (tmp_path / "s.h5").exists()


@pytest.mark.parametrize("spec", ["symbolic-stats", "audio-stats", "musicnn"])
def test_the_built_in_declarations_hold_on_a_real_file(tmp_path, spec) -> None:
    """What the engine relies on holds: every module an encoder names for reading imports, and an encoder
    that was never loaded reads a real file (musicnn, which starts its readers before its network loads,
    leaves the network unbuilt)."""
    import importlib

    from counterpoint.data.manifest import load_manifest
    from counterpoint.encoders.registry import build_encoder

    dataset = make_class_folders(tmp_path / "data", per_class=3, seconds=3.5)  # one musicnn patch is 3 s
    encoder = build_encoder(spec)
    assert encoder.prepares_before_load == (spec == "musicnn")  # the others have no model to overlap with
    for module in encoder.prepare_imports:
        importlib.import_module(module)
    prepared = [encoder.prepare(track) for track in load_manifest(dataset).for_modality(encoder.modality)]
    assert len(prepared) == 6 and all(item is not None for item in prepared)
    assert getattr(encoder, "_model", None) is None
