"""The light plotly.js bundle: installed only when its tarball has the published integrity, inlined by the
page when installed, the full bundle (and one note saying how to get the light one) otherwise. No network:
the tarballs are written here and read through ``file://`` URLs."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from counterpoint.errors import WeightsError
from counterpoint.report.html import page
from counterpoint.report.plotly_bundle import (CARTESIAN, FETCH_COMMAND, NpmBundle, full_bundle_note,
                                               install_plotly_bundle, installed_bundle, integrity_of)

SCRIPT = b"window.__light_plotly = 'cartesian';"


def _tarball(path: Path, member: str, content: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        info = tarfile.TarInfo(member)
        info.size = len(content)
        archive.addfile(info, io.BytesIO(content))
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv("COUNTERPOINT_CACHE", str(folder))
    return folder


def test_a_tarball_with_the_published_integrity_is_installed(tmp_path: Path, cache: Path) -> None:
    data = _tarball(tmp_path / "bundle.tgz", "package/plotly-cartesian.min.js", SCRIPT)
    bundle = NpmBundle("plotly.js-cartesian-dist-min", "0.0.1", integrity_of(data), "package/plotly-cartesian.min.js")
    path = install_plotly_bundle(bundle, source=(tmp_path / "bundle.tgz").as_uri())
    assert path == installed_bundle(bundle) and path.parent.parent == cache
    assert path.read_bytes() == SCRIPT


def test_a_corrupted_download_is_refused_and_nothing_installed(tmp_path: Path, cache: Path) -> None:
    data = _tarball(tmp_path / "bundle.tgz", "package/plotly-cartesian.min.js", SCRIPT)
    bundle = NpmBundle("plotly.js-cartesian-dist-min", "0.0.1", integrity_of(data), "package/plotly-cartesian.min.js")
    corrupted = bytearray(data)
    corrupted[len(corrupted) // 2] ^= 0xFF
    (tmp_path / "bundle.tgz").write_bytes(bytes(corrupted))
    with pytest.raises(WeightsError, match="does not match the published sha512-.*nothing was installed"):
        install_plotly_bundle(bundle, source=(tmp_path / "bundle.tgz").as_uri())
    assert installed_bundle(bundle) is None


def test_the_pinned_cartesian_bundle_refuses_any_other_tarball(tmp_path: Path, cache: Path) -> None:
    _tarball(tmp_path / "other.tgz", CARTESIAN.member, SCRIPT)
    with pytest.raises(WeightsError, match=f"{CARTESIAN.package}@{CARTESIAN.version}.*{FETCH_COMMAND}"):
        install_plotly_bundle(source=(tmp_path / "other.tgz").as_uri())
    assert installed_bundle() is None


def test_an_unreachable_source_is_a_clear_error(tmp_path: Path, cache: Path) -> None:
    with pytest.raises(WeightsError, match="could not download .*missing.tgz"):
        install_plotly_bundle(source=(tmp_path / "missing.tgz").as_uri())


def test_the_page_inlines_the_cartesian_bundle_when_installed(cache: Path) -> None:
    light = cache / "plotly" / CARTESIAN.installed_name
    light.parent.mkdir(parents=True)
    light.write_bytes(SCRIPT)
    text = page("t", "s", [], payload={"spaces": []})
    assert SCRIPT.decode() in text and "plotly.js v4" not in text
    assert full_bundle_note() is None


def test_the_page_inlines_the_full_bundle_otherwise_and_says_how_to_get_the_light_one(cache: Path) -> None:
    from plotly.offline import get_plotlyjs

    text = page("t", "s", [], payload={"spaces": []})
    assert get_plotlyjs() in text and SCRIPT.decode() not in text
    assert FETCH_COMMAND in full_bundle_note()


def test_a_page_whose_scatters_use_webgl_inlines_the_full_bundle_even_when_the_light_one_is_installed(cache: Path) -> None:
    """The cartesian bundle has no scattergl: a subsampled large-corpus page needs the full one."""
    from plotly.offline import get_plotlyjs

    light = cache / "plotly" / CARTESIAN.installed_name
    light.parent.mkdir(parents=True)
    light.write_bytes(SCRIPT)
    text = page("t", "s", [], payload={"spaces": [], "webgl": True})
    assert get_plotlyjs() in text and SCRIPT.decode() not in text
