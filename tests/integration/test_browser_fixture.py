"""The shipped browser fixtures: a real headless Chromium that opens local pages.

The page under test is one self-contained HTML file (inline script, an inline
PNG), opened through ``file://``; the assertions are what a person would see.
"""

from __future__ import annotations

import base64
import io
import time
from pathlib import Path

import pytest
from PIL import Image
from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from mxcubecore_lims.testing.browser import ENV_CHROMIUM, WINDOW_SIZE, save_screenshot
from mxcubecore_lims.testing.pytest_plugin import ChromiumFactory, is_ci, require_chromium

pytestmark = pytest.mark.integration

SAMPLES = ["lysozyme", "thaumatin", "insulin", "trypsin", "proteinase K"]


def png_data_uri() -> str:
    image = Image.new("RGB", (24, 12), (200, 30, 30))
    image.paste((30, 30, 200), (12, 0, 24, 12))
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def write_page(directory: Path) -> Path:
    rows = "\n".join(f"<tr><td>{n}</td><td>{name}</td></tr>" for n, name in enumerate(SAMPLES, start=1))
    page = directory / "samples.html"
    page.write_text(
        f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Samples</title></head>
<body>
<h1>Samples <img id="logo" alt="logo" src="{png_data_uri()}"></h1>
<label>Filter <input id="f" autocomplete="off"></label>
<table id="samples"><thead><tr><th>#</th><th>Name</th></tr></thead>
<tbody>
{rows}
</tbody></table>
<script>
document.body.dataset.js = "on";
document.getElementById("f").addEventListener("input", function (event) {{
  var wanted = event.target.value.toLowerCase();
  document.querySelectorAll("#samples tbody tr").forEach(function (row) {{
    row.hidden = row.cells[1].textContent.toLowerCase().indexOf(wanted) < 0;
  }});
}});
</script>
</body></html>
""",
        encoding="utf-8",
    )
    return page


def visible_names(driver: WebDriver) -> list[str]:
    rows = driver.find_elements(By.CSS_SELECTOR, "#samples tbody tr")
    return [row.find_elements(By.TAG_NAME, "td")[1].text for row in rows if row.is_displayed()]


def test_a_local_page_shows_filters_and_screenshots(chromium: WebDriver, tmp_path: Path, artefact_dir: Path) -> None:
    chromium.get(write_page(tmp_path).as_uri())

    assert chromium.title == "Samples"
    assert visible_names(chromium) == SAMPLES
    assert chromium.execute_script("return document.body.dataset.js") == "on"
    logo = chromium.find_element(By.ID, "logo")
    assert logo.is_displayed()
    assert chromium.execute_script("return arguments[0].complete && arguments[0].naturalWidth", logo) == 24

    chromium.find_element(By.ID, "f").send_keys("THAUM")
    assert visible_names(chromium) == ["thaumatin"]

    shot = save_screenshot(chromium, artefact_dir / "browser-fixture-filtered.png")
    assert shot.is_file()
    assert shot.stat().st_size > 0
    with Image.open(shot) as image:
        image.verify()
    with Image.open(shot) as image:
        assert image.format == "PNG"
        assert image.width == WINDOW_SIZE[0]


def test_without_javascript_the_page_is_still_readable(chromium_factory: ChromiumFactory, tmp_path: Path) -> None:
    driver = chromium_factory(javascript=False)
    driver.get(write_page(tmp_path).as_uri())

    assert driver.execute_script("return document.body.dataset.js") is None  # the page's script did not run
    assert visible_names(driver) == SAMPLES
    driver.find_element(By.ID, "f").send_keys("thaum")
    assert visible_names(driver) == SAMPLES  # nothing filters, nothing is lost
    assert driver.find_element(By.ID, "logo").is_displayed()


def test_the_internet_is_refused_at_once(chromium: WebDriver) -> None:
    started = time.monotonic()
    for url in ["http://example.com/", "http://93.184.215.14/"]:
        with pytest.raises(WebDriverException, match="ERR_"):
            chromium.get(url)
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("ci", "outcome"),
    [("true", pytest.fail.Exception), ("1", pytest.fail.Exception), (None, pytest.skip.Exception)],
)
def test_missing_chromium_skips_locally_and_fails_under_ci(
    tmp_path: Path, ci: str | None, outcome: type[BaseException]
) -> None:
    environ = {ENV_CHROMIUM: str(tmp_path / "no-such-chromium")}
    if ci is not None:
        environ["CI"] = ci
    assert is_ci(environ) is (outcome is pytest.fail.Exception)
    with pytest.raises(outcome, match="no-such-chromium"):
        require_chromium(environ=environ)
