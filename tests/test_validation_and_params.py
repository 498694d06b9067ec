import codecs

import numpy as np
import pytest
import soundfile as sf

from conftest import make_info_csv_dataset, write_midi
from counterpoint.data.manifest import load_manifest
from counterpoint.data.validation import check_dataset
from counterpoint.errors import CounterpointError
from counterpoint.config import read_params_file


def test_check_opens_every_file_and_names_each_problem(tmp_path):
    rows = [{"id": f"t{i}", "audio_filename": f"a/t{i}.wav", "midi_filename": f"m/t{i}.mid", "genre": g}
            for i, g in enumerate(["rock", "rock", "jazz", "jazz", "pop"])]
    root = make_info_csv_dataset(tmp_path / "d", rows)
    sf.write(root / "a/t1.wav", np.zeros(22050, np.float32), 22050)          # silent
    sf.write(root / "a/t2.wav", np.zeros(0, np.float32), 22050)              # empty
    (root / "a/t3.wav").write_bytes(b"RIFF....not audio")                    # corrupt
    write_midi(root / "m/t4.mid", [])                                        # no notes
    seen = []
    report = check_dataset(load_manifest(root), progress=lambda *call: seen.append(call))
    assert seen == [("checking files", done, 5) for done in range(1, 6)]  # the one progress shape
    assert report.n_tracks == 5 and report.n_pairs == 5
    assert report.label_counts["genre"] == {"rock": 2, "jazz": 2, "pop": 1}
    by_track = {(p.track_id, p.path.split("/")[-1]): p for p in report.problems}
    assert "silent" in by_track[("t1", "t1.wav")].problem
    assert "no samples" in by_track[("t2", "t2.wav")].problem
    assert "cannot decode" in by_track[("t3", "t3.wav")].problem
    assert "no notes" in by_track[("t4", "t4.mid")].problem
    assert len(report.problems) == 4 and not report.ok


def test_params_file_of_flags_and_toml_give_the_same_options(tmp_path):
    flags = tmp_path / "run.params"
    flags.write_text("# a run\n--dataset data/corpus   # the corpus\n--label style\n--depth 1\n\n--encoders 'musicnn:model=MSD+symbolic-stats'\n")
    toml = tmp_path / "run.toml"
    toml.write_text('[run]\ndataset = "data/corpus"\nlabel = "style"\ndepth = 1\nencoders = ["musicnn:model=MSD", "symbolic-stats"]\n')
    a, b = read_params_file(flags), read_params_file(toml)
    assert a["dataset"] == b["dataset"] == "data/corpus" and a["depth"] == b["depth"] == 1
    assert a["encoders"] == "musicnn:model=MSD+symbolic-stats"
    assert b["encoders"] == "musicnn:model=MSD+symbolic-stats"
    bad = tmp_path / "bad.params"
    bad.write_text("--labl style\n")
    with pytest.raises(CounterpointError, match="unknown option 'labl'"):
        read_params_file(bad)
    bad.write_text("--depth deep\n")
    with pytest.raises(CounterpointError, match="line 1.*needs a int"):
        read_params_file(bad)


@pytest.mark.parametrize("encoding, mark", [("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
                                            ("utf-16-be", codecs.BOM_UTF16_BE)])
def test_params_files_in_utf8_or_utf16_with_its_mark_read_the_same(tmp_path, encoding, mark):
    """What Notepad saves (UTF-8 with a mark, "Unicode" = UTF-16 LE with a mark) reads as plain UTF-8 does."""
    for name, text in (("run.params", "--dataset données/corpus\n--label style\n--no-compare\n"),
                       ("run.toml", 'dataset = "données/corpus"\nlabel = "style"\ncompare = false\n')):
        path = tmp_path / name
        path.write_bytes(mark + text.encode(encoding))
        assert read_params_file(path) == {"dataset": "données/corpus", "label": "style", "compare": False}


@pytest.mark.parametrize("name, content", [("latin1.params", "--dataset données\n".encode("latin-1")),
                                           ("latin1.toml", 'dataset = "données"\n'.encode("latin-1")),
                                           ("unmarked-utf16.params", "--dataset d\n".encode("utf-16-le"))])
def test_params_files_in_other_encodings_are_a_named_error(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CounterpointError, match=f"{name} is not UTF-8 text.*save it as UTF-8"):
        read_params_file(path)


def test_a_flag_without_its_value_is_an_error_naming_its_line_and_switches_stand_alone(tmp_path):
    path = tmp_path / "run.params"
    path.write_text("--aligned\n--no-compare\n--strict-paths\n--label style\n")
    assert read_params_file(path) == {"aligned": True, "compare": False, "strict_paths": True, "label": "style"}
    path.write_text("--label style\n# the corpus\n--dataset   # forgot it\n")
    with pytest.raises(CounterpointError, match="run.params line 3: --dataset needs a value"):
        read_params_file(path)
    toml = tmp_path / "run.toml"
    toml.write_text("dataset = true\n")
    with pytest.raises(CounterpointError, match="option 'dataset' needs a str value, got true"):
        read_params_file(toml)
