"""End to end: a real (tiny) HDF5 store written by StoreWriter, compared by run_compare."""

from __future__ import annotations

import json
from collections import OrderedDict

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from counterpoint.analysis.similarity import linear_cka
from counterpoint.analysis.compare import (P_VALUE_FAMILIES, headline_table, run_compare, verdict_permutations,
                                           verdict_table)
from counterpoint.ranges import verdict_rows_per_pair
from counterpoint.significance import MAX_FAMILY_PERMUTATIONS, bh_adjust, family_permutations, holm_adjust
from counterpoint.cli import app
from counterpoint.config import CompareSettings
from counterpoint.encoders.base import Embedding
from counterpoint.errors import StoreError
from counterpoint.report.compare import compare_html_section, plot_names, write_comparison
from counterpoint.store import EncoderMeta, Store, StoreWriter
from counterpoint.analysis.neighbours import NEIGHBOURS_K

N_TRACKS = 60
CLASSES = ("baroque", "jazz", "rock")


def _write_encoder(writer: StoreWriter, spec: str, modality: str, ids: list[str], X: np.ndarray,
                   feature_names: list[str] | None = None, shared_space: str | None = None) -> None:
    meta = EncoderMeta(spec=spec, name=spec.split(":")[0], modality=modality, dim=X.shape[1],
                       fingerprint={"name": spec, "test": True}, feature_names=feature_names, shared_space=shared_space)
    writer.begin_encoder(meta)
    embeddings = [Embedding(frames=row[None, :], timestamps=np.array([0.5]), pooled=row, duration=1.0) for row in X]
    writer.add_embeddings(spec, ids, embeddings, [0.01] * len(ids))


@pytest.fixture(scope="module")
def store_path(tmp_path_factory: pytest.TempPathFactory):
    """60 tracks, 3 classes, 20 groups of 3; two audio-related spaces share a latent, one is noise."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("store") / "run.h5"
    ids = [f"t{i:03d}" for i in range(N_TRACKS)]
    classes = np.array([CLASSES[i % 3] for i in range(N_TRACKS)])
    table = pd.DataFrame({"id": ids, "audio_filename": [f"{i}.wav" for i in ids],
                          "midi_filename": [f"{i}.mid" for i in ids], "split": "",
                          "group": [f"g{i // 3}" for i in range(N_TRACKS)], "style": classes})
    table.loc[5, "style"] = ""  # one unlabelled track
    centres = rng.normal(size=(3, 6)) * 2.0
    latent = centres[[CLASSES.index(c) for c in classes]] + rng.normal(size=(N_TRACKS, 6))
    audio = latent @ rng.normal(size=(6, 16)) + 0.1 * rng.normal(size=(N_TRACKS, 16))
    rotation = np.linalg.qr(rng.normal(size=(16, 16)))[0]
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        _write_encoder(writer, "clamp3-audio", "audio", ids, audio, shared_space="clamp3:variant=saas")
        # A shared space (recorded as the encoders declare it): the symbolic branch sees the same music, a little differently.
        _write_encoder(writer, "clamp3-symbolic", "symbolic", ids, audio + 0.3 * rng.normal(size=audio.shape),
                       shared_space="clamp3:variant=saas")
        # Another symbolic encoder: a rotated, rescaled copy for the first 40 tracks only.
        _write_encoder(writer, "symbolic-stats", "symbolic", ids[:40], 5.0 * audio[:40] @ rotation)
    return path


@pytest.fixture(scope="module")
def result(store_path, tmp_path_factory):
    return run_compare(store_path, CompareSettings(label="style", k=5, n_boot=30, seed=0, n_perm=49, fixed_n_perm=True))


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    """The comparison's folder and the files written into it, every figure in each format asked for."""
    out = tmp_path_factory.mktemp("compare")
    return out, write_comparison(result, out, formats=("png", "svg", "pdf"))


def test_every_audio_symbolic_pair_is_compared_on_paired_tracks(result):
    pairs = {(p.audio, p.symbolic): p.n_pairs for p in result.pairs}
    # 59 labelled tracks; symbolic-stats has embeddings for the first 40 (one of them unlabelled).
    assert pairs == {("clamp3-audio", "clamp3-symbolic"): 59, ("clamp3-audio", "symbolic-stats"): 39}
    assert result.group == "group"
    assert any("without a 'style' label" in note for note in result.notes)


def test_alignment_table_has_figures_with_intervals_and_p_values(result):
    table = result.alignment
    cka = table[(table.measure == "cka") & (table.symbolic == "symbolic-stats")].iloc[0]
    assert cka.value == pytest.approx(1.0, abs=1e-9)     # rotated, rescaled copy
    assert cka.p_value == pytest.approx(1 / 50)           # smallest possible with 49 permutations
    assert cka.chance < 0.5
    related = table[(table.measure == "cka_debiased") & (table.symbolic == "clamp3-symbolic")].iloc[0]
    assert related.ci_low <= related.value <= related.ci_high
    assert related.p_value < 0.05
    measures = set(table.measure)
    assert {"cka", "cka_debiased", "rsa_spearman", "mutual_knn@5",
            "recall@1", "recall@5", "recall@10", "median_rank", "mrr"} <= measures
    assert set(result.label_structure.measure) == {"centroid_agreement", "label_transfer", "error_agreement",
                                                   "confusion_similarity"}


def test_shared_space_gets_direct_retrieval_and_chance_levels(result):
    table = result.alignment
    retrieval = table[table.family == "retrieval"]
    methods = retrieval.groupby("symbolic").method.apply(set).to_dict()
    assert methods["clamp3-symbolic"] == {"ridge", "cca", "shared"}
    assert methods["symbolic-stats"] == {"ridge", "cca"}
    pair = next(p for p in result.pairs if p.symbolic == "symbolic-stats")
    n_test = len(pair.test_labels)
    r1 = retrieval[(retrieval.measure == "recall@1") & (retrieval.symbolic == "symbolic-stats")]
    assert np.allclose(r1.chance, 1 / n_test)
    assert (r1.value == 1.0).all()                       # a rotated copy is found every time
    shared = retrieval[(retrieval.method == "shared") & (retrieval.measure == "mrr")]
    assert (shared.value > shared.chance).all()


def test_files_are_written_and_json_is_complete(result, written):
    out_dir, files = written
    for path in files.values():
        assert path.is_file()
    on_disk = pd.read_csv(files["alignment"])
    assert len(on_disk) == len(result.alignment)
    document = json.loads(files["json"].read_text())
    assert document["settings"]["label"] == "style"
    assert len(document["pairs"]) == 2
    for pair in document["pairs"]:
        for name in pair["plots"].values():
            assert (out_dir / name).stat().st_size > 1000   # a real PNG
    assert {row["encoder"] for row in document["label_quality"]} == {"clamp3-audio", "clamp3-symbolic", "symbolic-stats"}


def test_label_quality_beats_chance_on_class_structured_spaces(result):
    quality = result.label_quality
    accuracy = quality[(quality.measure == "probe_accuracy") & (quality.encoder == "clamp3-audio")].iloc[0]
    assert accuracy.value > accuracy.chance


def test_html_section_shows_tables_and_plots(result, written):
    out_dir, _ = written
    section = compare_html_section(result, out_dir, out_dir.parent)
    assert section.startswith('<section class="compare" id="compare">')
    assert 'class="sortable' in section and "data:image/png;base64," not in section   # drawn in the page instead
    assert section.count('<div class="cp-figure"') == 2 * len(result.pairs)   # each pair's ranks and CCA plot
    spec = json.loads(section.split('class="cp-figure-spec">')[1].split("</script>")[0])
    pair = result.pairs[0]
    bars = [trace for trace in spec["data"] if trace["type"] == "bar"]
    assert len(bars) == len(pair.retrieval.runs)
    assert [sum(trace["y"]) for trace in bars] == [len(run.ranks) for run in pair.retrieval.runs]   # every query
    assert f"{out_dir.name}/ranks_" in section and f"{out_dir.name}/cca_" in section and ".svg" in section
    assert "symbolic-stats" in section


def test_every_plot_is_written_in_each_format(result, written):
    out_dir, _ = written
    for pair in result.pairs:
        for name in plot_names(pair).values():
            for suffix in (".png", ".svg", ".pdf"):
                assert (out_dir / name).with_suffix(suffix).stat().st_size > 1000, (name, suffix)


def test_verdict_table_holds_the_headline_figures_with_holm_p(result):
    table = verdict_table(result)
    pair = table[table.symbolic == "symbolic-stats"]
    assert sorted(pair.measure) == ["cka_debiased", "mutual_knn@5", "recall@1", "recall@1", "rsa_spearman"]
    assert set(pair.loc[pair.measure == "recall@1", "method"]) == {"ridge"}
    assert len(table) == 5 * len(result.pairs)
    assert (table.p_holm >= table.p_value).all() and (table.p_holm <= 1).all()


def test_every_table_adjusts_its_p_values_over_its_own_family(result, written):
    alignment, quality, verdict = result.alignment, result.label_quality, verdict_table(result)
    # alignment.csv: all pairs × all figures are one family; its Holm p is not the per-pair one.
    assert alignment.p_value.notna().sum() > 20 and alignment.p_holm.tolist() == pytest.approx(
        holm_adjust(alignment.p_value).tolist(), nan_ok=True)
    assert alignment.p_bh.tolist() == pytest.approx(bh_adjust(alignment.p_value).tolist(), nan_ok=True)
    one_pair = alignment[alignment.symbolic == "symbolic-stats"]
    assert not np.allclose(holm_adjust(one_pair.p_value), one_pair.p_holm, equal_nan=True)
    # label_quality.csv: the accuracies (binomial p against the majority share) are its family.
    tested = quality[quality.p_value.notna()]
    assert set(tested.measure) == {"knn_accuracy", "probe_accuracy"} and len(tested) == 2 * quality.encoder.nunique()
    assert tested.p_holm.tolist() == pytest.approx(holm_adjust(tested.p_value).tolist())
    # The verdict: its own rows, not the alignment table's.
    assert verdict.p_bh.tolist() == pytest.approx(bh_adjust(verdict.p_value).tolist())
    assert verdict.p_holm.tolist() == pytest.approx(holm_adjust(verdict.p_value).tolist())
    _, files = written
    for key in ("alignment", "label_quality", "verdict"):
        assert {"p_holm", "p_bh"} <= set(pd.read_csv(files[key]).columns), key
    assert json.loads(files["json"].read_text())["p_value_families"] == P_VALUE_FAMILIES


def test_too_few_permutations_for_a_family_are_noted_and_the_default_scales(result):
    # 49 permutations: p ≥ 1/50, so 10 verdict tests reach Holm p 0.2 at best.
    assert any(note.startswith("verdict table: 10 tests with 49 permutations") and "--n-perm 1999" in note
               for note in result.notes)
    assert any(note.startswith("alignment table:") for note in result.notes)
    settings = CompareSettings(label="style")   # 199 at least, raised to the verdict's need
    assert verdict_permutations(settings, 2).n_perm == 1999 and verdict_permutations(settings, 10).n_perm == 9999
    assert verdict_permutations(CompareSettings(label="style", n_perm=20_000), 2).n_perm == 20_000   # never lowered
    assert verdict_permutations(CompareSettings(label="style", n_perm=49, fixed_n_perm=True), 10).n_perm == 49


def test_the_verdict_follows_the_one_permutation_rule_of_every_analysis_capped_like_the_layer_maps():
    # One rule (significance.family_permutations) for the comparison, the layer maps, the time-aligned
    # comparison and the factors: 12 pairs × 5 verdict rows would ask for 11,999, capped at 9,999 as a layer map is.
    settings = CompareSettings(label="style")
    for n_pairs in (1, 2, 10, 12, 40):
        m = n_pairs * verdict_rows_per_pair()
        assert verdict_permutations(settings, n_pairs).n_perm == family_permutations(settings.n_perm, m)
    assert verdict_permutations(settings, 12).n_perm == MAX_FAMILY_PERMUTATIONS


def test_neighbours_list_each_track_in_and_across_spaces(result):
    nn = result.neighbours
    views = set(nn.view)
    assert {"symbolic-stats", "clamp3-audio", "clamp3-audio → symbolic-stats (ridge)",
            "clamp3-audio → clamp3-symbolic (shared)"} <= views
    across = nn[(nn.view == "clamp3-audio → symbolic-stats (ridge)") & nn.query_held_out & (nn["rank"] == 1)]
    assert len(across) and (across["query"] == across["neighbour"]).all()   # a rotated copy maps onto its partner
    within = nn[nn.view == "symbolic-stats"]
    assert (within["query"] != within["neighbour"]).all()


def test_unknown_label_column_is_a_store_error_naming_the_columns(store_path, tmp_path):
    with pytest.raises(StoreError, match="no label column 'genre'.*style"):
        run_compare(store_path, CompareSettings(label="genre", k=5, n_boot=5, n_perm=5))


def test_headline_table_has_one_row_per_pair(result):
    table = headline_table(result)
    assert len(table) == 2
    row = table[table.symbolic == "symbolic-stats"].iloc[0]
    assert row["cka"] == pytest.approx(1.0) and row["recall@1 (ridge a→s)"] == 1.0
    assert row["recall@1 chance"] < 1.0


def test_spaces_too_small_to_compare_are_noted_not_fatal(tmp_path):
    rng = np.random.default_rng(3)
    ids = [f"s{i:02d}" for i in range(30)]
    table = pd.DataFrame({"id": ids, "audio_filename": "", "midi_filename": "", "split": "", "group": "",
                          "style": [CLASSES[i % 3] for i in range(30)]})
    path = tmp_path / "small.h5"
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        _write_encoder(writer, "audio-stats", "audio", ids, rng.normal(size=(30, 4)))
        _write_encoder(writer, "symbolic-stats", "symbolic", ids[:3], rng.normal(size=(3, 4)))
    result = run_compare(path, CompareSettings(label="style", k=3, n_boot=5, n_perm=5))
    assert result.pairs == [] and result.alignment.empty
    assert any("only 3 paired tracks" in note for note in result.notes)
    assert any(note.startswith("symbolic-stats: no label quality") for note in result.notes)
    assert set(result.label_quality.encoder) == {"audio-stats"}
    assert json.loads(write_comparison(result, tmp_path / "out")["json"].read_text())["pairs"] == []


def test_named_descriptors_are_z_scored_so_one_unit_does_not_dominate(tmp_path):
    # The symbolic descriptors carry the audio's structure, plus one unrelated column in
    # large units (think tempo in BPM next to ratios); unscaled, that column is all CKA sees.
    rng = np.random.default_rng(4)
    ids = [f"d{i:02d}" for i in range(60)]
    table = pd.DataFrame({"id": ids, "audio_filename": "", "midi_filename": "", "split": "", "group": "",
                          "style": [CLASSES[i % 3] for i in range(60)]})
    audio = rng.normal(size=(60, 5))
    descriptors = np.column_stack([audio @ rng.normal(size=(5, 5)), 1e4 * rng.normal(size=60)])
    path = tmp_path / "named.h5"
    with StoreWriter(path) as writer:
        writer.set_tracks(table)
        _write_encoder(writer, "audio-stats", "audio", ids, audio)
        _write_encoder(writer, "symbolic-stats", "symbolic", ids, descriptors, [f"f{i}" for i in range(6)])
    result = run_compare(path, CompareSettings(label="style", k=5, n_boot=5, n_perm=19))
    cka = result.alignment[result.alignment.measure == "cka"].value.iloc[0]
    raw = linear_cka(audio, descriptors)
    assert raw < 0.1 < 0.5 < cka
    assert any("z-scored" in note for note in result.notes)


#: The range of every figure: CKA is a ratio of squared norms; debiased CKA a cosine of
#: U-centred kernels (Cauchy–Schwarz: [-1, 1], ≈ 0 for unrelated spaces); RSA, centroid
#: agreement and silhouettes are correlations or silhouettes; the rest are shares.
RANGES = {"cka": (0, 1), "cka_debiased": (-1, 1), "rsa_spearman": (-1, 1), "mutual_knn@5": (0, 1),
          "centroid_agreement": (-1, 1), "recall@1": (0, 1), "recall@5": (0, 1), "recall@10": (0, 1),
          "mrr": (0, 1), "knn_accuracy": (0, 1), "knn_macro_f1": (0, 1), "probe_accuracy": (0, 1),
          "probe_macro_f1": (0, 1), "silhouette": (-1, 1), "label_transfer": (0, 1), "error_agreement": (-1, 1),
          "confusion_similarity": (-1, 1)}
#: Intervals reflected around the value (half-samples) contain it by construction.
REFLECTED = {"cka", "cka_debiased", "rsa_spearman"}


def test_every_statistic_lies_in_its_range(result, written):
    rows = pd.concat([result.alignment, result.label_structure,
                      result.label_quality.rename(columns={"encoder": "audio"})])
    assert set(rows.measure) - {"median_rank"} == set(RANGES)
    for row in rows.itertuples():
        low, high = RANGES.get(row.measure, (1, row.n))          # median rank: 1..number of candidates
        assert low <= row.value <= high, row
        assert row.measure != "mrr" or row.value > 0
        assert low <= row.ci_low <= row.ci_high <= high, row
        if row.measure in REFLECTED:
            assert row.ci_low <= row.value <= row.ci_high, row
        assert np.isnan(row.p_value) or 0 < row.p_value <= 1, row
        assert np.isnan(row.chance) or low <= row.chance <= high, row
    document = json.loads(written[1]["json"].read_text())
    for pair in document["pairs"]:
        assert pair["cca_correlations"] and all(0 <= c <= 1 for c in pair["cca_correlations"])


def test_unknown_group_column_is_a_named_error_listing_the_columns(store_path, tmp_path):
    with pytest.raises(StoreError, match=r"no group column 'nosuch' in the track table \(it has: id, split, group, "
                                         r"style\) — pass one of those as --group"):
        run_compare(store_path, CompareSettings(label="style", group="nosuch", k=5, n_boot=5, n_perm=5))
    for command in (["compare", "--group", "nosuch"], ["analyze", "--group", "nosuch"]):
        outcome = CliRunner().invoke(app, [command[0], str(store_path), "--label", "style",
                                           "--out", str(tmp_path / "x"), *command[1:]])
        assert outcome.exit_code == 2 and "no group column 'nosuch'" in outcome.output, outcome.output
        assert not (tmp_path / "x" / "compare.json").exists()


def test_compare_says_why_when_no_pair_qualifies(tmp_path):
    rng = np.random.default_rng(5)
    ids = [f"s{i:02d}" for i in range(30)]
    table = pd.DataFrame({"id": ids, "audio_filename": "", "midi_filename": "", "split": "", "group": "",
                          "style": [CLASSES[i % 3] for i in range(30)]})
    path = tmp_path / "apart.h5"
    with StoreWriter(path) as writer:   # audio for the first 15 tracks, MIDI for the other 15: nothing paired
        writer.set_tracks(table)
        _write_encoder(writer, "audio-stats", "audio", ids[:15], rng.normal(size=(15, 4)))
        _write_encoder(writer, "symbolic-stats", "symbolic", ids[15:], rng.normal(size=(15, 4)))
    outcome = CliRunner().invoke(app, ["compare", str(path), "--label", "style", "--out", str(tmp_path / "out"),
                                       "--n-boot", "5", "--n-perm", "5"])
    assert outcome.exit_code == 0, outcome.output
    assert "No audio × symbolic pair could be compared: none has 10 labelled tracks embedded by both encoders " \
           "(the most any pair shares is 0)." in outcome.output
    assert "Empty DataFrame" not in outcome.output


def test_each_spaces_logistic_probe_is_fitted_once_for_every_section(store_path, monkeypatch):
    """The per-space analysis, label knowledge, label quality and each compared pair show the same probe accuracy:
    its logistic regressions run once per (embeddings, labels, folds), every later caller reads the same predictions."""
    import counterpoint.probe_protocol as protocol
    from counterpoint.analysis.analyze import analyze_store
    from counterpoint.config import AnalysisSettings

    fitted: list[tuple[int, ...]] = []
    real = protocol.logistic_fit_predict

    def counted(X, labels, seed=0):
        fitted.append(X.shape)
        return real(X, labels, seed)

    monkeypatch.setattr(protocol, "logistic_fit_predict", counted)
    monkeypatch.setattr(protocol, "_logistic_predictions", OrderedDict(), raising=False)   # none kept yet
    analysis = analyze_store(store_path, AnalysisSettings(label="style", reductions=("pca",)))
    compared = run_compare(store_path, CompareSettings(label="style", k=5, n_boot=30, seed=0, n_perm=49,
                                                       fixed_n_perm=True))
    # Three spaces (59, 59 and 39 labelled tracks), and clamp3-audio on the 39 tracks it shares with symbolic-stats:
    # four sets of folds, where each section fitting its own made 3 + 3 + 3 + 2 × 2 = 13.
    assert sorted(fitted) == [(39, 16), (39, 16), (59, 16), (59, 16)]
    knowledge = compared.knowledge.set_index("encoder")
    quality = compared.label_quality.query("measure == 'probe_accuracy'").set_index("encoder")
    for space in analysis.spaces:
        assert space.probe.accuracy == knowledge.loc[space.spec, "accuracy"] == quality.loc[space.spec, "value"]


def test_label_quality_states_the_k_nn_votes_subsample_above_its_cap(store_path, monkeypatch):
    """Above KNN_VOTE_MAX_N labelled tracks the k-NN vote runs on a seeded subsample: label_quality.csv's n_resample
    and a note say so; the logistic probe keeps every track."""
    import counterpoint.analysis.compare as compare

    monkeypatch.setattr(compare, "KNN_VOTE_MAX_N", 40, raising=False)
    capped = run_compare(store_path, CompareSettings(label="style", k=5, n_boot=30, seed=0, n_perm=49,
                                                     fixed_n_perm=True))
    rows = capped.label_quality.set_index(["encoder", "measure"])
    for spec in ("clamp3-audio", "clamp3-symbolic"):          # 59 labelled tracks each
        assert rows.loc[(spec, "knn_accuracy"), "n_resample"] == 40 and rows.loc[(spec, "knn_accuracy"), "n"] == 59
        assert rows.loc[(spec, "probe_accuracy"), "n_resample"] == 59
        assert any(note.startswith(f"{spec}: label quality — the k-NN vote ran on a seeded subsample of 40 of the 59")
                   for note in capped.notes)
    assert rows.loc[("symbolic-stats", "knn_accuracy"), "n_resample"] == 39   # below the cap: every track
    assert not any(note.startswith("symbolic-stats: label quality — the k-NN vote") for note in capped.notes)


def test_above_their_caps_label_structure_and_neighbour_lists_run_on_stated_stratified_subsamples(store_path, result,
                                                                                                 monkeypatch):
    """Verdict (b) on at most LABEL_STRUCTURE_MAX_N paired tracks (in the protocol's folds restricted to them),
    nearest-track lists for at most NEIGHBOUR_QUERIES_MAX_N queries per view (every track a candidate); each
    stated in a note, and the tables' n the subsample's."""
    import counterpoint.analysis.compare as compare
    import counterpoint.analysis.neighbours as neighbours

    monkeypatch.setattr(compare, "LABEL_STRUCTURE_MAX_N", 30)
    monkeypatch.setattr(neighbours, "NEIGHBOUR_QUERIES_MAX_N", 21)
    capped = run_compare(store_path, CompareSettings(label="style", k=5, n_boot=30, seed=0, n_perm=49,
                                                     fixed_n_perm=True))
    tracks = Store(store_path).tracks().set_index("id")
    shared = capped.label_structure[(capped.label_structure.audio == "clamp3-audio")
                                    & (capped.label_structure.symbolic == "clamp3-symbolic")]
    assert set(shared.n) == {30} and set(shared.measure) >= {"centroid_agreement", "label_transfer"}
    assert any(note.startswith("clamp3-audio × clamp3-symbolic: label structure (verdict (b)) on a subsample of 30 "
                               "of the 59 paired tracks") for note in capped.notes)
    influential = capped.influence[capped.influence.symbolic == "clamp3-symbolic"]
    assert len(influential)
    assert set(result.label_structure.query("symbolic == 'clamp3-symbolic'").n) == {59}   # below the caps: all
    assert result.neighbours.groupby("view")["query"].nunique().min() >= 39
    for view, rows in capped.neighbours.groupby("view"):
        queries = rows["query"].unique()
        assert len(queries) == 21 and rows["rank"].max() == NEIGHBOURS_K, view
        assert set(tracks.loc[queries, "style"]) == set(CLASSES)          # stratified by the label
        assert set(rows["neighbour"]) - set(queries)                       # every track a candidate
    for spec in ("clamp3-audio", "clamp3-symbolic", "symbolic-stats"):
        assert any(note.startswith(f"{spec}: nearest-track lists of a subsample of 21 of the") for note in capped.notes)
