"""Datasets assembled from symbolic links into a bigger corpus: followed by default, reported, refused in strict mode."""

import os
from pathlib import Path

import pytest

from conftest import make_info_csv_dataset, write_midi, write_tone
from counterpoint.data.manifest import load_manifest
from counterpoint.data.validation import check_dataset


def _corpus(base: Path, n: int = 3) -> Path:
    """A "big corpus" outside every dataset root: audio/ and midi/ folders of real files."""
    corpus = base / "corpus"
    for i in range(n):
        write_tone(corpus / "audio" / f"t{i}.wav", 220.0 + 40 * i, seconds=0.5)
        write_midi(corpus / "midi" / f"t{i}.mid", [60 + i, 64 + i])
    return corpus


def _info_csv(root: Path, n: int = 3) -> None:
    rows = [{"id": f"t{i}", "audio_filename": f"audio/t{i}.wav", "midi_filename": f"midi/t{i}.mid",
             "style": "a" if i % 2 else "b"} for i in range(n)]
    make_info_csv_dataset(root, rows, files=False)


def test_files_linked_from_outside_the_root_are_followed_and_reported(tmp_path):
    corpus = _corpus(tmp_path)
    root = tmp_path / "subset"
    for kind, ext in (("audio", "wav"), ("midi", "mid")):
        (root / kind).mkdir(parents=True)
        for i in range(3):
            (root / kind / f"t{i}.{ext}").symlink_to(corpus / kind / f"t{i}.{ext}")
    _info_csv(root)
    manifest = load_manifest(root)
    assert [t.id for t in manifest] == ["t0", "t1", "t2"] and manifest.problems == []
    assert manifest.tracks[0].audio_path == root.resolve() / "audio" / "t0.wav"  # the path inside the root
    assert manifest.to_frame().loc[0, "audio_filename"] == "audio/t0.wav"
    assert {target for _, target in manifest.links} == {
        (corpus / kind / f"t{i}.{ext}").resolve() for kind, ext in (("audio", "wav"), ("midi", "mid")) for i in range(3)}
    report = check_dataset(manifest)
    assert report.ok and report.n_linked == 6
    assert report.link_targets == {str((corpus / "audio").resolve()): 3, str((corpus / "midi").resolve()): 3}
    assert report.n_linked_outside == 6


def test_a_folder_linked_from_outside_is_followed(tmp_path):
    corpus = _corpus(tmp_path)
    root = tmp_path / "subset"
    root.mkdir()
    (root / "audio").symlink_to(corpus / "audio", target_is_directory=True)
    (root / "midi").symlink_to(corpus / "midi", target_is_directory=True)
    _info_csv(root)
    manifest = load_manifest(root)
    assert len(manifest) == 3 and all(t.is_paired for t in manifest) and manifest.problems == []
    assert len(manifest.links) == 6


def test_strict_paths_refuse_links_that_lead_outside_and_keep_links_inside(tmp_path):
    corpus = _corpus(tmp_path)
    root = tmp_path / "subset"
    (root / "audio").mkdir(parents=True)
    (root / "audio" / "t0.wav").symlink_to(corpus / "audio" / "t0.wav")
    write_tone(root / "store" / "t1.wav", 300.0, seconds=0.5)
    (root / "audio" / "t1.wav").symlink_to(Path("..") / "store" / "t1.wav")  # a relative link that stays inside
    write_tone(root / "audio" / "t2.wav", 330.0, seconds=0.5)
    make_info_csv_dataset(root, [{"id": f"t{i}", "audio_filename": f"audio/t{i}.wav", "midi_filename": ""}
                                 for i in range(3)], files=False)
    assert [t.id for t in load_manifest(root)] == ["t0", "t1", "t2"]
    strict = load_manifest(root, strict_paths=True)
    assert [t.id for t in strict] == ["t1", "t2"]
    (problem,) = strict.problems
    assert problem.track_id == "t0" and "outside the dataset folder" in problem.problem
    assert str(corpus.resolve()) in problem.problem and "--strict-paths" in problem.fix


def test_a_relative_link_with_dotdot_placed_inside_the_root_is_followed_unless_strict(tmp_path):
    corpus = _corpus(tmp_path, n=1)
    root = tmp_path / "subset"
    write_midi(root / "midi" / "own.mid", [62])
    (root / "midi" / "t0.mid").symlink_to(os.path.relpath(corpus / "midi" / "t0.mid", root / "midi"))
    make_info_csv_dataset(root, [{"id": "t0", "audio_filename": "", "midi_filename": "midi/t0.mid"},
                                 {"id": "own", "audio_filename": "", "midi_filename": "midi/own.mid"}], files=False)
    assert os.readlink(root / "midi" / "t0.mid").startswith("..")
    assert [t.id for t in load_manifest(root)] == ["t0", "own"]
    strict = load_manifest(root, strict_paths=True)
    assert [t.id for t in strict] == ["own"]
    assert [p.track_id for p in strict.problems] == ["t0"] and "outside the dataset folder" in strict.problems[0].problem


def test_paths_that_escape_lexically_are_refused_even_through_a_link(tmp_path):
    outside = tmp_path / "outside"
    write_midi(outside / "sub" / "x.mid", [60])
    write_midi(outside / "secret.mid", [61])
    root = tmp_path / "subset"
    root.mkdir()
    (root / "linked").symlink_to(outside / "sub", target_is_directory=True)
    make_info_csv_dataset(root, [
        {"id": "dotdot", "audio_filename": "", "midi_filename": "../outside/secret.mid"},
        {"id": "absolute", "audio_filename": "", "midi_filename": str(outside / "secret.mid")},
        {"id": "through", "audio_filename": "", "midi_filename": "linked/../secret.mid"},  # the OS would open outside/secret.mid
        {"id": "fine", "audio_filename": "", "midi_filename": "linked/x.mid"},
    ], files=False)
    manifest = load_manifest(root)
    assert [t.id for t in manifest] == ["fine"]
    problems = {p.track_id: p for p in manifest.problems}
    assert "points outside the dataset folder" in problems["dotdot"].problem
    assert "points outside the dataset folder" in problems["absolute"].problem
    assert "file not found" in problems["through"].problem  # read as ROOT/secret.mid, never outside/secret.mid


def test_broken_links_are_problems_that_say_where_they_point(tmp_path):
    root = tmp_path / "subset"
    (root / "midi").mkdir(parents=True)
    write_midi(root / "midi" / "ok.mid", [60])
    (root / "midi" / "gone.mid").symlink_to(tmp_path / "nowhere" / "gone.mid")
    make_info_csv_dataset(root, [{"id": "ok", "audio_filename": "", "midi_filename": "midi/ok.mid"},
                                 {"id": "gone", "audio_filename": "", "midi_filename": "midi/gone.mid"}], files=False)
    report = check_dataset(load_manifest(root))
    (problem,) = report.problems
    assert problem.track_id == "gone" and "broken symbolic link" in problem.problem
    assert str(tmp_path / "nowhere" / "gone.mid") in problem.problem


def test_class_folders_that_are_links_give_their_name_as_the_label(tmp_path):
    corpus = tmp_path / "corpus"
    write_midi(corpus / "jazz_all" / "a.mid", [60])
    write_midi(corpus / "jazz_all" / "b.mid", [62])
    root = tmp_path / "subset"
    write_midi(root / "rock" / "c.mid", [64])
    (root / "jazz").symlink_to(corpus / "jazz_all", target_is_directory=True)
    (root / "broken").symlink_to(tmp_path / "nowhere", target_is_directory=True)
    manifest = load_manifest(root)
    tracks = manifest.by_id()
    assert set(tracks) == {"jazz/a", "jazz/b", "rock/c"}
    assert tracks["jazz/a"].labels == {"class": "jazz"} and tracks["jazz/a"].midi_path == root.resolve() / "jazz" / "a.mid"
    assert [p.path for p in manifest.problems] == ["broken"]
    assert "broken symbolic link" in manifest.problems[0].problem
    strict = load_manifest(root, strict_paths=True)
    assert set(strict.by_id()) == {"rock/c"}
    assert any(p.path == "jazz" and "outside the dataset folder" in p.problem for p in strict.problems)


def test_a_folder_link_that_loops_is_reported_once_not_followed_forever(tmp_path):
    root = tmp_path / "subset"
    write_midi(root / "rock" / "c.mid", [64])
    (root / "rock" / "again").symlink_to(root / "rock", target_is_directory=True)
    manifest = load_manifest(root)
    assert set(manifest.by_id()) == {"rock/c"}
    assert [p.path for p in manifest.problems] == ["rock/again"] and "loop" in manifest.problems[0].problem


def test_dataset_check_and_embed_report_links_and_take_strict_paths(tmp_path):
    from typer.testing import CliRunner

    from counterpoint.cli import app
    from counterpoint.config import RunSettings, read_params_file

    corpus = _corpus(tmp_path)
    root = tmp_path / "subset"
    root.mkdir()
    (root / "audio").symlink_to(corpus / "audio", target_is_directory=True)
    (root / "midi").symlink_to(corpus / "midi", target_is_directory=True)
    _info_csv(root)
    runner = CliRunner()
    checked = runner.invoke(app, ["dataset", "check", str(root)])
    assert checked.exit_code == 0, checked.output
    assert "symbolic links: 6 files (6 outside the folder)" in checked.output
    assert f"3 in {(corpus / 'midi').resolve()}" in checked.output
    strict = runner.invoke(app, ["dataset", "check", str(root), "--strict-paths"])
    assert strict.exit_code == 1 and "6 problem(s)" in strict.output
    embedded = runner.invoke(app, ["embed", str(root), "-e", "symbolic-stats", "-o", str(tmp_path / "s.h5"), "--strict-paths"])
    assert embedded.exit_code == 0 and "0 embedded" in embedded.output and "skipped" in embedded.output
    params = tmp_path / "run.params"
    params.write_text(f"--dataset {root}\n--strict-paths\n")
    assert read_params_file(params)["strict_paths"] is True and RunSettings().strict_paths is False
