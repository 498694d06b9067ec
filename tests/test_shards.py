"""Shards for job arrays: a stable partition of the tracks by id, and `embed --shard i/N` (real files, real store)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import make_class_folders
from counterpoint.cli import app
from counterpoint.errors import CounterpointError
from counterpoint.shards import Shard, parse_shard, shard_ids, shard_index
from counterpoint.store import Store

runner = CliRunner()


def invoke(*args: object):
    return runner.invoke(app, [str(a) for a in args])


def corpus_ids(count: int, prefix: str = "piece") -> list[str]:
    return [f"{prefix}/{i:05d}" for i in range(count)]


@pytest.mark.parametrize("count", [1, 3, 8])
def test_the_shards_partition_the_ids(count: int) -> None:
    ids = corpus_ids(2000)
    parts = [shard_ids(ids, Shard(i, count)) for i in range(count)]
    assert sorted(i for part in parts for i in part) == sorted(ids)  # every id in exactly one shard
    # each shard keeps the manifest's order, and none is starved (SHA-256 spreads ids evenly)
    for part in parts:
        assert part == [i for i in ids if i in set(part)]
        assert len(part) > 0.8 * len(ids) / count


def test_an_id_s_shard_is_its_sha256_modulo_n() -> None:
    """The rule the README gives, so any tool (a shell script, another language) can compute it."""
    for track_id in ["a", "Bach/BWV 846", "Åsa-007"]:
        digest = int(hashlib.sha256(track_id.encode("utf-8")).hexdigest()[:16], 16)
        assert shard_index(track_id, 8) == digest % 8


def test_adding_tracks_never_moves_a_track_to_another_shard() -> None:
    ids = corpus_ids(500)
    grown = corpus_ids(301, prefix="new") + ids[:250] + corpus_ids(203, prefix="late") + ids[250:]
    for count in (2, 8):
        before = {i: shard_index(i, count) for i in ids}
        after = {i: shard_index(i, count) for i in grown}
        assert all(after[i] == before[i] for i in ids)
        # and by position it would not hold: the shard of the same position moved for many tracks
        assert sum(grown.index(i) % count != ids.index(i) % count for i in ids) > len(ids) / 4


@pytest.mark.parametrize("text", ["3/3", "a/b", "0/0", "-1/4", "2", "", "1/2/3", "1.5/4"])
def test_a_bad_shard_is_refused(text: str) -> None:
    with pytest.raises(CounterpointError, match="i/N"):
        parse_shard(text)


def test_a_good_shard_is_read() -> None:
    assert parse_shard(" 7/8 ") == Shard(7, 8)
    assert str(parse_shard("0/1")) == "0/1"


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return make_class_folders(tmp_path_factory.mktemp("shards") / "data", per_class=5, seconds=1.0)


def test_embed_with_a_bad_shard_is_refused_before_reading_the_dataset(tmp_path: Path, dataset: Path) -> None:
    result = invoke("embed", dataset, "-e", "symbolic-stats", "-o", tmp_path / "s.h5", "--shard", "3/3")
    assert result.exit_code == 2
    assert "--shard 3/3" in result.output and "2/3" in result.output
    assert not (tmp_path / "s.h5").exists()


def test_embed_shard_holds_its_tracks_and_resumes(tmp_path: Path, dataset: Path) -> None:
    out = tmp_path / "shard1.h5"
    result = invoke("embed", dataset, "-e", "symbolic-stats", "-o", out, "--shard", "1/2")
    assert result.exit_code == 0, result.output
    store = Store(out)
    every = list(store.tracks()["id"])
    assert len(every) == 10  # the whole track table, so that merged shards hold the manifest's order
    ours = shard_ids(every, Shard(1, 2))
    assert 0 < len(ours) < 10
    assert store.embedded_ids("symbolic-stats") == ours
    assert store.attrs["shard"] == "1/2" and len(store.attrs["manifest_fingerprint"]) == 16

    again = invoke("embed", dataset, "-e", "symbolic-stats", "-o", out, "--shard", "1/2")
    assert again.exit_code == 0, again.output
    assert f"symbolic-stats: 0 embedded, {len(ours)} already in the store" in again.output

    other = invoke("embed", dataset, "-e", "symbolic-stats", "-o", out, "--shard", "0/2")
    assert other.exit_code == 2 and "holds shard 1/2" in other.output
    whole = invoke("embed", dataset, "-e", "symbolic-stats", "-o", out)
    assert whole.exit_code == 2 and "--shard 1/2" in whole.output
    assert Store(out).embedded_ids("symbolic-stats") == ours
