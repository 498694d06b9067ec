"""The report page in a real browser: headless Chromium (Debian's ``chromium``) driven by Playwright.

Without Chromium or Playwright the test fails when ``CI`` is set (CI must run it: ``make test``
installs both) and is skipped with the install command otherwise.
"""

from __future__ import annotations

import os
import re
import shutil
from contextlib import contextmanager
from dataclasses import replace
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
COMPOSERS = ["Clara Schumann", "Fanny Hensel"]
N_TRACKS = 18
#: A track id as long as a real file name: the track chooser must still fit a phone's screen.
LONG_ID = "t17-" + "a-long-recording-session-name-" * 3
#: The scatter limit of the second report: 2 tracks of each class drawn of 6 each.
SUBSAMPLE = 6


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
    rows = [{"id": f"t{i}" if i < N_TRACKS - 1 else LONG_ID, "audio_filename": f"a{i}.wav",
             "midi_filename": f"m{i}.mid", "style": LABELS[i % 3], "composer": COMPOSERS[i % 2],
             "tempo": str(60 + 5 * i)} for i in range(N_TRACKS)]
    store = root / "store.h5"
    embed_dataset(make_info_csv_dataset(root / "data", rows), store, "symbolic-stats,audio-stats")
    options = AnalysisSettings(label="style", reductions=("pca",), figure_formats=("png",))
    analyze_everything(store, replace(options, compare=False, scatter_limit=SUBSAMPLE), root / "subsampled")
    return analyze_everything(store, options, root / "report").report


@pytest.fixture(scope="module")
def browser(report: Path):
    """Headless Chromium, started once for the module (after the reports are built)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@contextmanager
def opened(browser, report: Path):
    """``report`` in a new offline page of ``browser``: (page, console errors, refused network requests)."""
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
    yield page, errors, network
    context.close()


@pytest.fixture(scope="module")
def page_session(browser, report: Path):
    with opened(browser, report) as (page, errors, network):
        page.wait_for_selector("#cp-scatter-0 .scatterlayer .point")
        yield page, errors, network


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


def _visible_layout(page) -> dict:
    """The page's width against the screen's, and where the scatter panels and the verdict table lie."""
    return page.evaluate("""() => {
      const panels = Array.from(document.querySelectorAll('.cp-panel')).map(p => p.getBoundingClientRect());
      const table = document.querySelector('#verdict table');
      const box = (table.closest('.table-box') || table).getBoundingClientRect();
      const wider = Array.from(document.querySelectorAll('body *')).filter(e => {
        const r = e.getBoundingClientRect();
        return r.width > 0 && r.right > window.innerWidth + 1 && !e.closest('.table-box, .nn-view');
      }).map(e => e.tagName + '#' + e.id + '.' + e.className);
      return {scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth,
              panelTops: panels.map(r => Math.round(r.top)), panelRights: panels.map(r => r.right),
              tableBoxRight: box.right, wider: wider.slice(0, 5)};
    }""")


def test_a_phone_screen_scrolls_only_tables_and_wide_screens_keep_columns(page_session) -> None:
    page, errors, _ = page_session
    try:
        page.set_viewport_size({"width": 390, "height": 844})
        page.wait_for_timeout(400)   # plotly's responsive resize
        narrow = _visible_layout(page)
        assert narrow["scrollWidth"] <= narrow["innerWidth"], narrow
        assert narrow["wider"] == [], narrow
        assert narrow["tableBoxRight"] <= 390 and max(narrow["panelRights"]) <= 390, narrow
        assert len(set(narrow["panelTops"])) == len(narrow["panelTops"]), narrow   # one column
        # The mode bar of a scatter never covers its title.
        title, modebar = (page.locator(f"#cp-scatter-0 {s}").first.bounding_box() for s in (".gtitle", ".modebar"))
        assert title["y"] >= modebar["y"] + modebar["height"] or title["x"] + title["width"] <= modebar["x"], \
            (title, modebar)
    finally:
        page.set_viewport_size({"width": 1440, "height": 900})
        page.wait_for_timeout(400)
    wide = _visible_layout(page)
    assert len(set(wide["panelTops"])) == 1, wide   # side by side
    assert wide["scrollWidth"] <= wide["innerWidth"] and errors == []


def test_print_hides_the_controls_and_the_link_list_and_makes_a_pdf(page_session) -> None:
    page, errors, _ = page_session
    hidden = ["#cp-method", "#cp-track", "#cp-audio", "#cp-scatter-0 .modebar-container", "#data-files",
              ".cp-neighbour-explorer", "nav.contents"]
    shown = "s => Array.from(document.querySelectorAll(s)).map(e => getComputedStyle(e).display)"
    try:
        page.emulate_media(media="print")
        for selector in hidden:
            displays = page.evaluate(f"({shown})({selector!r})")
            assert displays and set(displays) == {"none"}, (selector, displays)
        assert page.evaluate(f"({shown})('#verdict table')") == ["table"]
        page.set_viewport_size({"width": 718, "height": 1000})   # A4's printable width at 96 px per inch
        page.wait_for_timeout(300)
        assert page.evaluate("document.documentElement.scrollWidth") <= 718
        pdf = page.pdf(format="A4")
    finally:
        page.emulate_media(media="screen")
        page.set_viewport_size({"width": 1440, "height": 900})
    assert pdf.startswith(b"%PDF") and len(re.findall(rb"/Type\s*/Page\b(?!s)", pdf)) >= 1
    assert errors == []


def test_a_focused_heading_sorts_its_table_with_enter_and_says_so_in_aria_sort(page_session) -> None:
    page, _, _ = page_session
    table = page.locator("#verdict-a table")
    heading = table.locator("thead th:nth-child(3)")
    assert heading.get_attribute("aria-sort") == "none"
    heading.locator("button").focus()
    page.keyboard.press("Enter")
    assert heading.get_attribute("aria-sort") == "ascending"
    values = [float(v) for v in table.locator("tbody tr td:nth-child(3)").all_inner_texts()]
    assert values == sorted(values)
    page.keyboard.press("Space")
    assert heading.get_attribute("aria-sort") == "descending"
    assert [float(v) for v in table.locator("tbody tr td:nth-child(3)").all_inner_texts()] == sorted(values,
                                                                                                     reverse=True)
    assert {table.locator("thead th").nth(i).get_attribute("aria-sort") for i in (0, 1)} == {"none"}


def test_landmarks_contents_captions_and_plot_descriptions(page_session) -> None:
    page, _, _ = page_session
    for landmark in ("header", "nav", "main", "footer"):
        assert page.locator(landmark).count() == 1, landmark
    sections = page.evaluate("Array.from(document.querySelectorAll('main section')).map(s => s.id)")
    assert sections and "" not in sections
    targets = page.evaluate("Array.from(document.querySelectorAll('nav a')).map(a => a.getAttribute('href'))")
    assert targets == [f"#{ident}" for ident in sections]
    tables = page.evaluate("Array.from(document.querySelectorAll('main table.sortable'))"
                           ".map(t => t.caption ? t.caption.textContent.trim() : '')")
    assert tables and "" not in tables
    plots = page.evaluate("Array.from(document.querySelectorAll('.js-plotly-plot'))"
                          ".map(p => [p.getAttribute('role'), p.getAttribute('aria-label') || ''])")
    assert plots and all(role == "img" and label for role, label in plots), plots
    assert all("tracks" in page.locator(f"#cp-scatter-{i}").get_attribute("aria-label") for i in (0, 1))


#: What Python writes for missing or logical values, and a zero rounded from below: never shown to a reader.
LEAKS = re.compile(r"\b(?:None|nan|NaN|True|False|inf)\b|-0\.0+(?![0-9])|<NA>")


def test_no_python_value_leaks_into_the_visible_text(page_session) -> None:
    page, _, _ = page_session
    text = page.locator("body").inner_text()
    assert LEAKS.findall(text) == [], [text[max(0, m.start() - 60):m.end() + 20] for m in LEAKS.finditer(text)]


def marker_colours(page, plot: str) -> list:
    """Every point's colour in ``plot`` (a trace's one colour for each of its points), in trace order."""
    return page.evaluate(f"""document.getElementById({plot!r}).data.slice(0, -1).flatMap(function (trace) {{
        return Array.isArray(trace.marker.color) ? trace.marker.color : trace.x.map(function () {{ return trace.marker.color; }});
    }})""")


def test_colouring_by_another_column_recolours_every_scatter_and_hover_shows_its_values(page_session) -> None:
    page, errors, _ = page_session
    options = page.locator("#cp-colour option").all_inner_texts()
    assert options[0] == "style" and {"composer", "tempo"} <= set(options)
    before = {plot: marker_colours(page, plot) for plot in ("cp-scatter-0", "cp-scatter-1")}
    page.select_option("#cp-colour", label="composer")
    page.wait_for_function("document.getElementById('cp-scatter-0').data[0].name.indexOf('Schumann') >= 0")
    for plot, colours in before.items():
        after = marker_colours(page, plot)
        assert len(after) == len(colours) == N_TRACKS and after != colours
        assert len(set(after)) == 2   # one colour per composer, in every panel
    names = page.evaluate("document.getElementById('cp-scatter-1').data.map(function (t) { return t.name; })")
    assert names[:2] == COMPOSERS
    hover = page.evaluate("document.getElementById('cp-scatter-0').data[0].hovertext[0]")
    assert "composer: Clara Schumann" in hover and "tempo: " in hover and "style: " in hover
    page.locator("#cp-scatter-0 .scatterlayer .point").first.hover(force=True)
    page.wait_for_selector(".hoverlayer .hovertext")
    assert "composer: " in page.locator(".hoverlayer .hovertext").first.text_content()
    # A numeric column: one colour scale (with its bar), the same range in every panel.
    page.select_option("#cp-colour", label="tempo")
    page.wait_for_selector("#cp-scatter-0 .colorbar")
    traces = page.evaluate("document.getElementById('cp-scatter-1').data[0].marker")
    assert traces["cmin"] == 60 and traces["cmax"] == 60 + 5 * (N_TRACKS - 1) and traces["showscale"] is True
    assert sorted(traces["color"]) == sorted(60 + 5 * i for i in range(N_TRACKS))
    page.select_option("#cp-colour", label="style")
    page.wait_for_function("document.getElementById('cp-scatter-0').data.length === 4")
    assert marker_colours(page, "cp-scatter-0") == before["cp-scatter-0"]
    assert errors == []


def test_a_subsampled_report_says_so_and_its_search_finds_a_track_it_does_not_draw(browser, report: Path) -> None:
    subsampled = report.parents[1] / "subsampled" / "index.html"
    with opened(browser, subsampled) as (page, errors, network):
        page.wait_for_function("document.getElementById('cp-scatter-0').data !== undefined")
        assert f"Showing {SUBSAMPLE} of {N_TRACKS} tracks, stratified by style" in page.locator("#cp-subsample").inner_text()
        drawn = page.evaluate("""[].concat.apply([], document.getElementById('cp-scatter-0').data.slice(0, -1)
                                 .map(function (trace) { return trace.customdata; }))""")
        assert len(drawn) == SUBSAMPLE and page.evaluate("document.getElementById('cp-scatter-0').data[0].type") == "scattergl"
        hidden = next(f"t{i}" for i in range(N_TRACKS) if f"t{i}" not in drawn)
        page.fill("#cp-track", hidden)
        page.press("#cp-track", "Enter")
        page.wait_for_function("document.getElementById('cp-chosen').textContent !== 'none'")
        assert page.locator("#cp-chosen").inner_text().startswith(f"{hidden} · ")
        assert "not drawn" in page.locator("#cp-chosen").inner_text()
        assert page.evaluate("document.getElementById('cp-audio').getAttribute('src')").endswith(f"a{hidden[1:]}.wav")
        page.fill("#cp-track", "1")   # t1, t10 … t17: more than one
        page.press("#cp-track", "Enter")
        assert "9 tracks match" in page.locator("#cp-search-note").inner_text()
        page.fill("#cp-track", "nothing-like-it")
        page.press("#cp-track", "Enter")
        assert "No track id contains" in page.locator("#cp-search-note").inner_text()
        assert errors == [] and network == []


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
