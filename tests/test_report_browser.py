"""The report page in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Without Chromium or Playwright the test fails when ``CI`` is set (CI must run it: ``make test``
installs both) and is skipped with the install command otherwise.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from conftest import make_info_csv_dataset
from counterpoint.config import AnalysisSettings
from counterpoint.embed import embed_dataset
from counterpoint.pipeline import analyze_everything

CHROMIUM = os.environ.get("COUNTERPOINT_CHROMIUM", "/usr/bin/chromium")
#: A label that would run script if any part of the page put it into HTML unescaped.
HOSTILE = "<img src=x onerror=window.__pwned=1>"
LABELS = ["rock", HOSTILE, "jazz & </script> blues"]
N_TRACKS = 18


def _browser_or_reason() -> str:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[dev]')"
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (as root: apt-get install -y chromium; or set COUNTERPOINT_CHROMIUM)"
    return ""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = _browser_or_reason()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"the browser test must run in CI: {reason}")
        pytest.skip(reason)
    root = tmp_path_factory.mktemp("browser")
    rows = [{"id": f"t{i}", "audio_filename": f"a{i}.wav", "midi_filename": f"m{i}.mid", "style": LABELS[i % 3]}
            for i in range(N_TRACKS)]
    store = root / "store.h5"
    embed_dataset(make_info_csv_dataset(root / "data", rows), store, "symbolic-stats,audio-stats")
    options = AnalysisSettings(label="style", reductions=("pca",), figure_formats=("png",))
    return analyze_everything(store, options, root / "report").report


@pytest.fixture(scope="module")
def page_session(report: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(viewport={"width": 1440, "height": 900})
        context.set_offline(True)
        network: list[str] = []

        def refuse(route):  # anything but the report's own files is a request the page must not make
            network.append(route.request.url)
            route.abort()

        context.route(lambda url: not url.startswith(("file:", "data:")), refuse)
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(report.as_uri())
        page.wait_for_selector("#cp-scatter-0 .scatterlayer .point")
        yield page, errors, network
        browser.close()


def test_the_page_loads_offline_without_errors_or_requests(page_session) -> None:
    page, errors, network = page_session
    assert errors == []
    assert network == []
    assert page.locator("#verdict .answer").count() == 1
    assert "agree track by track" in page.locator("#verdict .answer").inner_text()


def test_the_first_screen_asks_the_labels_question_and_shows_verdicts_a_and_b(page_session) -> None:
    page, _, _ = page_session
    page.evaluate("window.scrollTo(0, 0)")
    assert "style" in page.locator("h1").inner_text() and "style" in page.locator("h2.question").inner_text()
    # Two encoders, one pair: one sentence each for (a), one for (b).
    assert page.locator("#verdict-a .answer").count() == 2 and page.locator("#verdict-b .answer").count() == 1
    for section in ("#verdict-a", "#verdict-b"):
        box = page.locator(section).bounding_box()
        assert box is not None and box["y"] + box["height"] <= 900, (section, box)   # wholly above the fold
        assert page.locator(section).is_visible()
    # (a) and (b) come before (c), and (c) before the details.
    tops = [page.locator(s).bounding_box()["y"] for s in ("#verdict-a", "#verdict-b", "#verdict", "#quality")]
    assert tops == sorted(tops)


def test_each_scatter_holds_one_point_per_track(page_session) -> None:
    page, _, _ = page_session
    panels = page.locator(".cp-panel")
    assert panels.count() == 2
    for i in range(panels.count()):
        assert page.locator(f"#cp-scatter-{i} .scatterlayer .point").count() == N_TRACKS


def test_hovering_a_point_shows_its_track_id(page_session) -> None:
    page, errors, _ = page_session
    point = page.locator("#cp-scatter-0 .scatterlayer .point").first
    point.hover(force=True)
    page.wait_for_selector(".hoverlayer .hovertext")
    text = page.locator(".hoverlayer .hovertext").first.text_content()
    assert any(f"t{i}" in text for i in range(N_TRACKS)), text
    assert errors == []


def test_a_hostile_label_is_text_and_runs_nothing(page_session) -> None:
    page, errors, _ = page_session
    assert page.evaluate("window.__pwned") is None
    assert page.locator("img[src=x]").count() == 0
    assert HOSTILE in page.locator("body").inner_text()
    assert "</script> blues" in page.locator("body").inner_text()
    assert errors == []


def test_clicking_a_point_marks_its_partner_and_lists_neighbours(page_session) -> None:
    page, _, _ = page_session
    page.locator("#cp-scatter-0 .scatterlayer .point").first.click(force=True)
    page.wait_for_function("document.getElementById('cp-chosen').textContent !== 'none'")
    chosen = page.locator("#cp-chosen").inner_text().split(" · ")[0]
    highlighted = page.evaluate("document.getElementById('cp-scatter-1').data.slice(-1)[0].x.length")
    assert highlighted == 1
    assert page.locator("#cp-neighbours table").count() >= 2
    assert chosen in page.locator("#cp-neighbours").inner_text() or page.locator("#cp-neighbours tr").count() > 2
    assert page.evaluate("document.getElementById('cp-audio').getAttribute('src')").endswith(".wav")


def test_tables_sort_by_a_clicked_column(page_session) -> None:
    page, _, _ = page_session
    table = page.locator("#verdict table")
    values_before = table.locator("tbody tr td:nth-child(3)").all_inner_texts()
    table.locator("thead th:nth-child(3)").click()
    values = [float(v) for v in table.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    assert values == sorted(values) and len(values) == len(values_before)


def test_an_influential_track_plays_in_the_pages_player(page_session) -> None:
    page, errors, _ = page_session
    link = page.locator("#influence a[data-cp-track]").first
    track = link.get_attribute("data-cp-track")
    link.click()
    page.wait_for_function("document.getElementById('cp-chosen').textContent !== 'none'")
    assert page.locator("#cp-chosen").inner_text().startswith(track)
    assert page.evaluate("document.getElementById('cp-audio').getAttribute('src')").endswith(".wav")
    assert errors == []


def test_hovering_a_centroid_heatmap_cell_shows_its_value_from_the_csv(page_session, report: Path) -> None:
    import pandas as pd

    page, errors, _ = page_session
    csv = report.parent / "symbolic-stats_centroid_cosine_distance_normalised.csv"
    distances = pd.read_csv(csv, index_col=0)
    classes = sorted(LABELS)   # the heatmap names every class, in sorted order
    row, column = 2, 0
    figure = page.locator("#quality div.cp-figure[aria-label^='symbolic-stats']")
    figure.scroll_into_view_if_needed()
    page.wait_for_function("el => el.querySelector('.heatmaplayer image, .heatmaplayer .hm')",
                           arg=figure.element_handle())
    x, y = page.evaluate("""([el, row, column]) => {
        const layout = el._fullLayout, box = el.getBoundingClientRect();
        return [box.left + layout._size.l + layout.xaxis.l2p(column), box.top + layout._size.t + layout.yaxis.l2p(row)];
    }""", [figure.element_handle(), row, column])
    page.mouse.move(x, y)
    label = figure.locator(".hoverlayer .hovertext")
    label.wait_for()
    text = label.text_content()
    value = f"{distances.loc[classes[row], classes[column]]:.3f}"   # rounded as the tables round it
    assert text == f"{classes[row]} × {classes[column]}: {value}", text
    assert page.locator("#quality img[src^='data:image/png']").count() == 0   # the drawn map replaces the image
    assert errors == []


def test_every_heatmap_of_the_page_is_drawn_with_values_on_hover(page_session) -> None:
    page, errors, _ = page_session
    traces = page.evaluate("""() => Array.from(document.querySelectorAll('div.cp-figure'))
        .map(el => el.data.map(trace => [trace.type, trace.hovertemplate || '']))""")
    heatmaps = [trace for figure in traces for trace in figure if trace[0] == "heatmap"]
    assert len(heatmaps) == 2 and all("%{text}" in template for _, template in heatmaps)   # two spaces' centroids
    assert sum(trace[0] == "bar" for figure in traces for trace in figure) >= 2   # a pair's rank histograms
    assert errors == []
