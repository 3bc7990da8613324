"""The batch report: the Markdown file and the self-contained HTML page of one run, the page rendered by a real
browser (headless Chromium, the Debian package) at a phone's width."""
from __future__ import annotations

import base64
import os
import re
import shutil
import subprocess
from html import unescape
from io import BytesIO
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from pinterest_pipeline.batch.charts import CHARTS
from pinterest_pipeline.batch.figures import insight_title
from pinterest_pipeline.batch.insights import INSIGHTS
from pinterest_pipeline.batch.report import ReportPaths, write_report
from pinterest_pipeline.batch.report_html import html_table, png_image
from tests.support.batch_run import Run

pytestmark = pytest.mark.spark

#: Set to a path (``make report-screenshot``: img/report.png) to keep the browser's screenshot there.
SCREENSHOT_VARIABLE = "PINTEREST_REPORT_SCREENSHOT"
#: A phone's viewport (CSS pixels) and pixel ratio.
PHONE_WIDTH, PHONE_HEIGHT, PHONE_SCALE = 412, 1500, 2
SECTIONS = ("Records read", "Quarantined lines by reason", "Data quality", "Insights", "Delta tables")
#: Appended to a copy of the page: once everything has loaded, a marker counts images that decoded.
IMAGE_CHECK = """<script>
addEventListener("load", () => {
  const images = Array.from(document.images);
  const marker = document.createElement("div");
  marker.id = "image-check";
  marker.dataset.total = images.length;
  marker.dataset.decoded = images.filter(image => image.complete && image.naturalWidth > 0).length;
  document.body.append(marker);
});
</script>"""
HOSTILE = '<img src=x onerror="alert(1)"> & co'


@pytest.fixture(scope="module")
def report(run: Run, tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    return write_report(run.result, tmp_path_factory.mktemp("out"))


@pytest.fixture(scope="module")
def chromium() -> str:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        message = "headless Chromium not found: apt-get install -y chromium (.ci/run installs it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return binary


def browse(chromium: str, profile: Path, *args: str) -> str:
    """Run headless Chromium (its own profile, a phone's viewport) and return what it printed on stdout."""
    command = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
               f"--user-data-dir={profile}", f"--window-size={PHONE_WIDTH},{PHONE_HEIGHT}",
               f"--force-device-scale-factor={PHONE_SCALE}", "--virtual-time-budget=10000", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_the_html_page_stands_alone(report: ReportPaths) -> None:
    page = report.html.read_text()
    assert report.html == report.markdown.with_suffix(".html")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    sources = re.findall(r'(?:src|href)="([^"#][^"]*)"', page)
    assert sources and all(source.startswith("data:image/png;base64,") for source in sources)
    assert "<script" not in page and "<link" not in page and "url(" not in page


def test_every_chart_is_an_embedded_png_that_decodes(report: ReportPaths) -> None:
    page = report.html.read_text()
    images = re.findall(r'<img src="data:image/png;base64,([^"]+)" width="(\d+)" height="(\d+)"', page)
    assert len(images) == len(CHARTS)
    for data, width, height in images:
        pixels = matplotlib.image.imread(BytesIO(base64.b64decode(data)), format="png")
        assert pixels.shape[:2] == (int(height), int(width))


def test_the_page_holds_the_runs_figures_and_every_insight(run: Run, report: ReportPaths) -> None:
    text = unescape(re.sub(r"<[^>]+>", " ", report.html.read_text()))
    for section in SECTIONS:
        assert section in text
    for name in INSIGHTS:
        assert insight_title(name) in text and name in text
    result = run.result
    for reason in {reason for reasons in result.reasons.values() for reason in reasons}:
        assert reason in text
    figures = {"lines read": sum(c["raw"] for c in result.counts.values()), "quarantined": result.quarantined,
               "repeats removed": sum(result.duplicates.values())}
    for label, value in figures.items():
        assert re.search(rf"{value:,}\s+{label}", text), label


def test_values_from_data_are_escaped() -> None:
    table = html_table(pd.DataFrame({"country": [HOSTILE], "<b>count</b>": [3]}))
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; co" in table and "<img" not in table
    assert "&lt;b&gt;count&lt;/b&gt;" in table and "<b>" not in table
    png = BytesIO()
    matplotlib.image.imsave(png, np.zeros((2, 3, 3)), format="png")
    assert 'alt="&quot;&gt;&lt;script&gt;"' in png_image(png.getvalue(), '"><script>')


def test_the_markdown_report_links_its_charts(report: ReportPaths) -> None:
    text = report.markdown.read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    assert len(images) == len(CHARTS) and all((report.markdown.parent / image).is_file() for image in images)
    assert "## Quarantined lines by reason" in text


def test_chromium_renders_every_section_and_image_at_a_phones_width(chromium: str, report: ReportPaths,
                                                                     tmp_path: Path) -> None:
    checked = tmp_path / "checked.html"
    checked.write_text(report.html.read_text().replace("</body>", f"{IMAGE_CHECK}\n</body>"))
    dom = browse(chromium, tmp_path / "profile", "--dump-dom", checked.as_uri())
    marker = re.search(r'id="image-check" data-total="(?P<total>\d+)" data-decoded="(?P<decoded>\d+)"', dom)
    assert marker, "the page did not finish loading"
    assert int(marker["total"]) == int(marker["decoded"]) == len(CHARTS)
    headings = [unescape(re.sub(r"<[^>]+>", "", h)) for h in re.findall(r"<h[23][^>]*>(.*?)</h[23]>", dom)]
    assert headings == [*SECTIONS[:-1], *(insight_title(name) for name in INSIGHTS), SECTIONS[-1]]

    screenshot = tmp_path / "report.png"
    browse(chromium, tmp_path / "profile", f"--screenshot={screenshot}", report.html.as_uri())
    pixels = matplotlib.image.imread(screenshot)
    assert pixels.shape[:2] == (PHONE_HEIGHT * PHONE_SCALE, PHONE_WIDTH * PHONE_SCALE)
    header = pixels[10, 10, :3]  # the page's header band, in the report's accent colour (#bd081c)
    assert np.allclose(header, [0xBD / 255, 0x08 / 255, 0x1C / 255], atol=0.02)
    assert pixels[:, :, :3].std() > 0.1  # text, tables and charts, not a blank page
    if os.environ.get(SCREENSHOT_VARIABLE):
        shutil.copyfile(screenshot, os.environ[SCREENSHOT_VARIABLE])
