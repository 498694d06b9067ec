"""Distribution distances (issue 23 §3): the Fréchet distance against its closed form, its stability on
rank-deficient covariances, FD∞ against a known intercept, the unbiased MMD² against its zero mean, the
permutation test under the null and under a shift; then end to end on real stores written by embed, through
the command line, with its errors."""

from __future__ import annotations

import json
import math
import re
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
from scipy.stats import ortho_group
from typer.testing import CliRunner

from conftest import make_class_folders
from counterpoint.analysis.distances import (MIN_TRACKS, _KernelSets, encoder_distances, extrapolate_frechet,
                                             frechet_at_infinity, frechet_distance, frechet_distance_gaussians,
                                             mmd2_unbiased, run_distances)
from counterpoint.config import DistanceSettings
from counterpoint.errors import CounterpointError, StoreError
from counterpoint.store import Store

#: float64 sums of d squared terms: rounding stays far below 1e-9 of the figure's scale.
FLOAT64_RTOL = 1e-9


def commuting_gaussians(seed: int, d: int = 6) -> tuple[tuple, tuple, float]:
    """Two Gaussians whose covariances share eigenvectors (a random rotation), and their Fréchet distance in
    closed form: ‖μ_a − μ_b‖² + Σ (√λ_a − √λ_b)²."""
    rng = np.random.default_rng(seed)
    rotation = ortho_group.rvs(d, random_state=seed)
    values_a, values_b = rng.uniform(0.1, 4.0, d), rng.uniform(0.1, 4.0, d)
    mean_a, mean_b = rng.normal(size=d), rng.normal(size=d)
    first = (mean_a, rotation @ np.diag(values_a) @ rotation.T)
    second = (mean_b, rotation @ np.diag(values_b) @ rotation.T)
    closed = float(np.sum((mean_a - mean_b) ** 2) + np.sum((np.sqrt(values_a) - np.sqrt(values_b)) ** 2))
    return first, second, closed


@pytest.mark.parametrize("seed", range(5))
def test_frechet_of_gaussians_with_commuting_covariances_is_the_closed_form(seed):
    first, second, closed = commuting_gaussians(seed)
    assert frechet_distance_gaussians(first, second) == pytest.approx(closed, rel=FLOAT64_RTOL)
    assert frechet_distance_gaussians(second, first) == pytest.approx(closed, rel=FLOAT64_RTOL)


def test_frechet_of_samples_is_the_closed_form_of_their_moments():
    # Exact samples: the sample mean and covariance are what the closed form is given.
    rng = np.random.default_rng(3)
    a, b = rng.normal(size=(400, 5)), rng.normal(size=(300, 5)) * 2.0 + 1.0
    moments = [(x.mean(axis=0), np.cov(x, rowvar=False)) for x in (a, b)]
    assert frechet_distance(a, b) == pytest.approx(frechet_distance_gaussians(*moments), rel=FLOAT64_RTOL)
    # One dimension by hand: (μ_a − μ_b)² + (σ_a − σ_b)².
    x, y = np.array([[0.0], [2.0]]), np.array([[1.0], [5.0]])  # means 1, 3; sample variances 2, 8
    assert frechet_distance(x, y) == pytest.approx(4.0 + (math.sqrt(2) - math.sqrt(8)) ** 2, rel=FLOAT64_RTOL)


def test_fewer_tracks_than_dimensions_stays_real_nonnegative_and_zero_for_one_set():
    rng = np.random.default_rng(0)
    for trial in range(20):
        a, b = rng.normal(size=(4, 50)), rng.normal(size=(6, 50)) + rng.normal(size=50)
        value = frechet_distance(a, b)
        assert isinstance(value, float) and math.isfinite(value) and value >= 0.0
        # The singular-value path (n < d) and the eigenvalue path of the same rank-deficient moments agree;
        # the eigenvalue path takes square roots of rounding-level eigenvalues, ~1e-8 of the scale.
        moments = [(x.mean(axis=0), np.cov(x, rowvar=False)) for x in (a, b)]
        assert frechet_distance_gaussians(*moments) == pytest.approx(value, rel=1e-6)
        # The same set twice: 0 within float64 rounding of its total variance.
        scale = np.trace(np.cov(a, rowvar=False))
        assert 0.0 <= frechet_distance(a, a) <= 1e-12 * scale
        assert 0.0 <= frechet_distance_gaussians(moments[0], moments[0]) <= 1e-6 * scale


def test_extrapolation_recovers_the_intercept_of_an_exact_one_over_n_law():
    inverse_n = 1.0 / np.array([50, 60, 80, 100, 150, 200]) * 2
    fit = extrapolate_frechet(inverse_n, 3.0 + 7.0 * inverse_n)
    assert fit.value == pytest.approx(3.0, rel=FLOAT64_RTOL) and fit.slope == pytest.approx(7.0, rel=FLOAT64_RTOL)
    assert fit.ci_low <= 3.0 <= fit.ci_high and fit.r2 == pytest.approx(1.0)


def test_fd_infinity_removes_the_finite_sample_bias_of_one_distribution():
    # Two samples of one Gaussian: the true distance is 0; a finite sample's is biased upwards by ~c/n.
    raw, extrapolated = [], []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(size=(200, 6)), rng.normal(size=(200, 6))
        raw.append(frechet_distance(a, b))
        extrapolated.append(frechet_at_infinity(a, b, steps=10, min_fraction=0.3, seed=seed).value)
    raw, extrapolated = np.array(raw), np.array(extrapolated)
    standard_error = lambda values: values.std(ddof=1) / math.sqrt(len(values))  # noqa: E731
    assert raw.mean() > 10 * standard_error(raw)  # the bias FD∞ is for
    assert abs(extrapolated.mean()) < 3 * standard_error(extrapolated)


def test_unbiased_mmd_averages_to_zero_for_one_distribution_and_not_for_a_shift():
    same, shifted = [], []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        a, b = rng.normal(size=(20, 3)), rng.normal(size=(25, 3))
        same.append(mmd2_unbiased(a, b, bandwidth=1.5))
        shifted.append(mmd2_unbiased(a, b + 1.0, bandwidth=1.5))
    same, shifted = np.array(same), np.array(shifted)
    standard_error = same.std(ddof=1) / math.sqrt(len(same))
    assert abs(same.mean()) < 3 * standard_error
    assert shifted.mean() > 20 * standard_error and (shifted > 0).mean() > 0.95


def test_the_kernel_shortcuts_equal_the_direct_computation():
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=(12, 4)), rng.normal(size=(9, 4)) + 0.3
    kernel = _KernelSets(np.vstack([a, b]), len(a), 1.2)
    assert kernel.value() == pytest.approx(mmd2_unbiased(a, b, bandwidth=1.2), rel=FLOAT64_RTOL)
    without = kernel.leave_one_out()
    assert without[2] == pytest.approx(mmd2_unbiased(np.delete(a, 2, axis=0), b, bandwidth=1.2), rel=FLOAT64_RTOL)
    assert without[14] == pytest.approx(mmd2_unbiased(a, np.delete(b, 2, axis=0), bandwidth=1.2), rel=FLOAT64_RTOL)
    # A resample that draws every track once is the sets themselves, in another order.
    draws_a, draws_b = rng.permutation(12)[None], rng.permutation(9)[None]
    assert kernel.bootstrap(draws_a, draws_b)[0] == pytest.approx(kernel.value(), rel=FLOAT64_RTOL)
    # A permutation of the pooled rows: the MMD² of the sets it makes.
    order = rng.permutation(21)
    pooled = np.vstack([a, b])
    assert kernel.permuted(order[None])[0] == pytest.approx(
        mmd2_unbiased(pooled[order[:12]], pooled[order[12:]], bandwidth=1.2), rel=FLOAT64_RTOL)


def p_values(shift: float, seeds: range) -> pd.DataFrame:
    rows = []
    settings = DistanceSettings(n_boot=5, n_perm=99, extrapolation_steps=3)
    for seed in seeds:
        rng = np.random.default_rng(seed)
        a, b = rng.normal(size=(15, 3)), rng.normal(size=(15, 3)) + shift
        found = encoder_distances(a, b, settings, n_perm=99, seed_key=seed)
        rows += [{"measure": row["measure"], "p": row["p_value"]} for row in found.rows if "p_value" in row]
    return pd.DataFrame(rows)


def test_the_permutation_p_value_is_uniform_under_the_null_and_small_under_a_shift():
    null = p_values(0.0, range(60))
    for measure, p in null.groupby("measure").p:
        assert 0.35 < p.mean() < 0.65, measure          # uniform: mean 1/2 (SE of 60 draws ≈ 0.04)
        assert (p <= 0.1).mean() <= 0.2, measure         # about 10 % below 0.1
        assert (p <= 0.5).mean() == pytest.approx(0.5, abs=0.2), measure
    shifted = p_values(1.5, range(10))
    assert (shifted.p <= 0.02).all()


def matched_p_values(shift: float, seed: int, *, paired: bool) -> dict[str, float]:
    """Two renderings of the same 20 pieces: pieces far apart (sd 3), a rendering's own noise small (sd 0.3)."""
    rng = np.random.default_rng(seed)
    pieces = rng.normal(0.0, 3.0, (20, 3))
    a = pieces + rng.normal(0.0, 0.3, pieces.shape)
    b = pieces + rng.normal(0.0, 0.3, pieces.shape) + shift
    found = encoder_distances(a, b, DistanceSettings(n_boot=5, extrapolation_steps=3), n_perm=199, seed_key=seed,
                              paired=paired)
    return {row["measure"]: row["p_value"] for row in found.rows if "p_value" in row}


def test_paired_sets_are_tested_by_swapping_within_pairs():
    # A shift small beside the spread of the pieces: swapping within pairs sees it, reshuffling all tracks
    # (which breaks the pairs and widens the null) does not.
    for seed in range(5):
        assert matched_p_values(0.5, seed, paired=True)["frechet_distance"] <= 0.01
        assert matched_p_values(0.5, seed, paired=False)["frechet_distance"] > 0.05
    # The bootstrap resamples pairs: a resample drawing every pair once is the sets themselves, and the resamples
    # centre on the estimate (copies of a matched pair, counted as they fall, would pull MMD² far below it).
    rng = np.random.default_rng(0)
    pieces = rng.normal(0.0, 3.0, (20, 3))
    pooled = np.vstack([pieces + rng.normal(0.0, 0.3, pieces.shape), pieces + rng.normal(0.0, 0.3, pieces.shape)])
    kernel = _KernelSets(pooled, 20, 2.0)
    once = rng.permutation(20)[None]
    assert kernel.bootstrap(once, once, paired=True)[0] == pytest.approx(kernel.value(), rel=FLOAT64_RTOL)
    draws = rng.integers(0, 20, (400, 20))
    resampled = kernel.bootstrap(draws, draws, paired=True)
    assert abs(resampled.mean() - kernel.value()) < 0.2 * resampled.std()
    # Under the null the paired p-values spread over (0, 1]: mean about 1/2, few small.
    null = pd.DataFrame([matched_p_values(0.0, seed, paired=True) for seed in range(30)])
    for measure, p in null.items():
        assert 0.3 < p.mean() < 0.7 and (p <= 0.05).mean() <= 0.15, measure


# ---- real stores --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_class_store(tmp_path_factory) -> Path:
    """12 paired tracks, 6 low and 6 high (pitch an octave and more apart), embedded by audio-stats and
    symbolic-stats."""
    from counterpoint.embed import embed_dataset

    tmp = tmp_path_factory.mktemp("distances")
    root = make_class_folders(tmp / "data", {"low": 45, "high": 76}, per_class=6, seconds=1.0)
    embed_dataset(root, tmp / "store.h5", "symbolic-stats,audio-stats")
    return tmp / "store.h5"


FAST = DistanceSettings(n_boot=20, n_perm=49, fixed_n_perm=True, extrapolation_steps=3)


def test_two_selections_of_one_store_are_far_apart_in_every_encoder(two_class_store):
    store = Store(two_class_store)
    result = run_distances(store.where("class", "low"), store.where("class", "high"), FAST)
    table = result.distances.set_index(["encoder", "measure"])
    assert set(table.index.get_level_values("encoder")) == {"audio-stats", "symbolic-stats"}
    assert table.loc[("audio-stats", "frechet_distance"), "name"] == "FAD"
    assert table.loc[("symbolic-stats", "frechet_distance"), "name"] == "FMD"
    for encoder in ("audio-stats", "symbolic-stats"):
        frechet = table.loc[(encoder, "frechet_distance")]
        assert frechet.value > frechet.null_mean and frechet.p_value == pytest.approx(1 / 50)
        assert table.loc[(encoder, "mmd2"), "value"] > 0
    # Holm over the 4 tests (2 encoders × FD, MMD²): every p 1/50 → 4/50.
    assert result.distances.p_holm.dropna().to_numpy() == pytest.approx([4 / 50] * 4)
    # Every track of both sets has a contribution; the outliers are the top ranks.
    assert len(result.contributions) == 2 * 12 and set(result.contributions.set) == {"a", "b"}
    assert (result.outliers["rank"] <= 10).all()
    assert result.contributions.audio_filename.str.endswith(".wav").all()
    # audio-stats and symbolic-stats are named descriptors: z-scored over both sets first, and said so.
    assert sum("z-scored over both sets together" in note for note in result.notes) == 2


def test_one_store_against_itself_is_zero_and_says_the_sets_overlap(two_class_store):
    result = run_distances(Store(two_class_store), Store(two_class_store), FAST)
    frechet = result.distances[result.distances.measure == "frechet_distance"]
    assert (frechet.value.abs() <= 1e-9 * frechet.value.abs().max().clip(1)).all() and (frechet.value >= 0).all()
    assert any("in both sets" in note for note in result.notes)


def test_too_few_tracks_in_a_set_is_an_error_naming_the_set(two_class_store):
    store = Store(two_class_store)
    single = store.where("id", store.tracks().id.iloc[0])
    with pytest.raises(CounterpointError, match=rf"set A \(store.h5 where id=.*\) holds 1 track.*fewer than the "
                                                rf"{MIN_TRACKS}.*widen the selection"):
        run_distances(single, store.where("class", "high"), FAST)


def test_an_encoder_embedded_differently_in_the_other_store_is_refused(two_class_store, tmp_path):
    other = tmp_path / "other.h5"
    other.write_bytes(two_class_store.read_bytes())
    text = lambda value: value.decode() if isinstance(value, bytes) else str(value)  # noqa: E731
    changed = False
    with h5py.File(other, "r+") as handle:
        for key in handle["encoders"]:
            attrs = handle["encoders"][key].attrs
            if text(attrs["spec"]) == "audio-stats":
                attrs["fingerprint"] = json.dumps({**json.loads(text(attrs["fingerprint"])), "code_version": "other"})
                changed = True
    assert changed
    with pytest.raises(StoreError, match="audio-stats was embedded differently.*fingerprints differ"):
        run_distances(Store(two_class_store), Store(other), FAST, encoders=["audio-stats"])
    # Without --encoder it is left out with a note and the other encoder is compared.
    result = run_distances(Store(two_class_store), Store(other), FAST)
    assert set(result.distances.encoder) == {"symbolic-stats"}
    assert any("audio-stats: left out" in note for note in result.notes)


def run_cli(*args: str):
    from counterpoint.cli import app

    return CliRunner().invoke(app, ["distance", *args])


def test_distance_command_writes_tables_json_figure_and_a_page_with_playable_outliers(two_class_store, tmp_path):
    out = tmp_path / "out"
    done = run_cli(str(two_class_store), "--a", "class=low", "--b", "class=high", "--n-boot", "20",
                   "--extrapolation-steps", "3", "--out", str(out))
    assert done.exit_code == 0, done.output
    for name in ("distances.csv", "outliers.csv", "contributions.csv", "extrapolation.csv", "distances.json",
                 "index.html", "distances.png"):
        assert (out / name).is_file(), name
    written = json.loads((out / "distances.json").read_text())
    assert {row["measure"] for row in written["distances"]} == {"frechet_distance", "frechet_distance_inf", "mmd2",
                                                                 "kad"}
    assert written["n_perm"] == 799  # 4 tests: raised to what Holm's family needs (10·4/0.05 − 1)
    page = (out / "index.html").read_text()
    assert '<section id="distances">' in page and "<audio" in page and "low/piece0.wav" in page
    assert "FAD" in done.output and "symbolic-stats" in done.output


@pytest.mark.parametrize("args, message", [
    (["--a", "class=nothing", "--b", "class=high"], r"--a class=nothing.*selects no track.*high \(6\)"),
    (["--b", "class=high"], r"give --a and --b"),
    (["--a", "class"], r"COLUMN=VALUE"),
    (["--a", "class=low", "--b", "class=high", "--encoder", "musicnn"], r"no encoder 'musicnn'"),
])
def test_distance_command_errors_name_the_problem_and_the_fix(two_class_store, tmp_path, args, message):
    done = run_cli(str(two_class_store), *args, "--out", str(tmp_path / "out"))
    assert done.exit_code == 2
    assert re.search(message, " ".join(done.output.split())), done.output
    assert not (tmp_path / "out" / "index.html").exists()


def test_more_than_two_stores_is_an_error(two_class_store, tmp_path):
    done = run_cli(str(two_class_store), str(two_class_store), str(two_class_store), "--out", str(tmp_path))
    assert done.exit_code == 2 and "one store with --a and --b, or two stores" in " ".join(done.output.split())


def test_the_distances_join_the_main_report_and_follow_the_one_protocol(two_class_store, tmp_path):
    from counterpoint.analysis.analyze import analyze_store
    from counterpoint.config import AnalysisSettings
    from counterpoint.report.build import build_report
    from counterpoint.results import AnalysisOutcome

    store = Store(two_class_store)
    result = run_distances(store.where("class", "low"), store.where("class", "high"), FAST)
    assert isinstance(result, AnalysisOutcome)
    json.dumps(result.as_dict(), allow_nan=False)
    analysis = analyze_store(two_class_store, AnalysisSettings(label="class", reductions=("pca",)))
    index = build_report(analysis, out_dir=tmp_path / "report", figure_formats=("png",),
                         results={"distances": result})
    page = index.read_text()
    assert '<section id="distances">' in page and (tmp_path / "report" / "distances" / "distances.csv").is_file()
    # An outlier the page's explorer holds is a link that plays it there, as in the influence table.
    section = page.split('<section id="distances">')[1].split("</section>")[0]
    assert 'class="cp-track-link" data-cp-track="' in section and "<audio controls" in section


def test_pairing_by_a_column_with_repeated_values_is_refused_and_pairs_line_up(two_class_store):
    store = Store(two_class_store)
    with pytest.raises(StoreError, match=r"--paired class: 'low' names 6 tracks of set A.*pair by another column"):
        run_distances(store.where("class", "low"), store.where("class", "high"), replace(FAST, paired="class"))
    with pytest.raises(StoreError, match=r"no paired column 'piece'.*--paired"):
        run_distances(store, store, replace(FAST, paired="piece"))
    # The store against itself, paired by id: each pair is one track twice, so every swap changes nothing.
    result = run_distances(store, Store(two_class_store), replace(FAST, paired="id"))
    frechet = result.distances[result.distances.measure == "frechet_distance"]
    assert (frechet.value <= 1e-9).all() and (frechet.null_mean <= 1e-9).all() and (frechet.p_value == 1).all()
