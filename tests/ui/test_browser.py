"""The page in a real browser: headless Chromium (Debian's package) driven by Playwright.

These tests skip with the reason when Chromium or Playwright is missing, except
under CI (CI=true), where scripts/test.sh installs Chromium and a skip would
hide a broken page. Set UI_SCREENSHOTS=<folder> to keep the screenshots.
"""

from __future__ import annotations

import logging
import math
import os
import platform
import shutil
import struct
import time
import zlib

import pytest

import tracklog
from tracklog.handlers import RunHandler

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
BLUE = "#1a73e8"  # the first series colour


def _missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright; never `playwright install`)"
    return None


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (the system's, never a downloaded one)."""
    reason = _missing()
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}: CI must run the browser tests")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    manager = sync_playwright().start()
    try:
        chromium = manager.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=120_000)
        yield chromium
        chromium.close()
    finally:
        manager.stop()


@pytest.fixture
def page(browser):
    """A fresh tab; fails the test on any script error in the page."""
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    yield tab
    context.close()
    assert not errors, errors


def _screenshot(tab, tmp_path, name: str) -> str:
    path = str(tmp_path / name)
    tab.screenshot(path=path, full_page=True)
    keep = os.environ.get("UI_SCREENSHOTS")
    if keep:
        os.makedirs(keep, exist_ok=True)
        shutil.copy(path, os.path.join(keep, name))
    return path


_PIXELS = """([selector, hex]) => {
  const canvas = document.querySelector(selector);
  if (!canvas) return null;
  const rgb = [1, 3, 5].map(i => parseInt(hex.slice(i, i + 2), 16));
  const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
  let painted = 0, series = 0;
  for (let i = 0; i < data.length; i += 4) {
    if (data[i + 3] === 0) continue;
    painted++;
    if (Math.abs(data[i] - rgb[0]) < 40 && Math.abs(data[i + 1] - rgb[1]) < 40 && Math.abs(data[i + 2] - rgb[2]) < 40) series++;
  }
  return {painted, series, width: canvas.width, height: canvas.height};
}"""


def _pixels(tab, selector: str, color: str = BLUE) -> dict:
    return tab.evaluate(_PIXELS, [selector, color])


def _logger(run) -> tuple[logging.Logger, RunHandler]:
    logger = logging.getLogger("train")
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    handler = RunHandler(run)
    logger.addHandler(handler)
    return logger, handler


def _png(path, width: int = 24, height: int = 16) -> str:
    """A small valid red PNG, written with zlib alone."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    rows = b"".join(b"\x00" + b"\xd9\x30\x25" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
                     + chunk(b"IEND", b""))
    return str(path)


@pytest.fixture
def demo(workspace, tmp_path):
    """Two finished runs: one with series, a table, text, an image, a child, logs; one failed."""
    exp = tracklog.Experiment(workspace, "mnist")
    good = exp.start_logging("good-run", tags={"model": "cnn"})
    good.log_image("sample", path=_png(tmp_path / "sample.png"))
    good.log_param("lr", 0.01)
    logger, handler = _logger(good)
    for i in range(3000):
        good.log("loss", math.exp(-i / 500))
        if i % 1000 == 0:
            logger.info("epoch %d done", i // 1000)
    logger.warning("watch out")
    logger.debug("noisy detail")
    good.log_list("acc", [0.1, 0.5, 0.9])
    for a in range(30):
        good.log_row("Cosine Wave", angle=a / 5, cos=math.cos(a / 5))
    good.log("phase", "warmup")
    good.log("phase", "train")
    good.child_run("fold-1").complete()
    logger.removeHandler(handler)
    good.complete()
    bad = exp.start_logging("bad-run", tags={"model": "rnn"})
    for i in range(100):
        bad.log("loss", 2 - i / 100)
    bad.fail("RuntimeError: diverged")
    return good, bad


def test_open_the_page_find_a_run_see_its_chart_and_logs(page, serve, workspace, demo, tmp_path):
    """From the runs list to a run's page: the loss chart is drawn and the log records show."""
    good, _bad = demo
    server = serve(workspace)
    page.goto(server.url)
    page.wait_for_selector("table.runs tbody tr")
    names = page.locator("table.runs a.run-link").all_inner_texts()
    assert {"good-run", "bad-run", "fold-1"} <= set(names)
    _screenshot(page, tmp_path, "runs-list.png")

    page.click("a.run-link:text-is('good-run')")
    page.wait_for_selector('.card[data-metric="loss"] canvas')
    page.wait_for_selector("#logs .line")
    page.wait_for_function(
        """() => { const c = document.querySelector('.card[data-metric="loss"] canvas');
                   return c && c.width > 100; }""")
    time.sleep(0.3)  # uPlot commits its first draw on the next frame
    pixels = _pixels(page, '.card[data-metric="loss"] canvas')
    assert pixels["painted"] > 500 and pixels["series"] > 200, pixels
    assert page.locator("h1").inner_text() == "good-run"
    assert page.locator("#run-head .status").inner_text() == "Completed"
    logs = page.locator("#logs").inner_text()
    assert "epoch 2 done" in logs and "watch out" in logs and "WARNING" in logs
    assert page.locator('.card[data-metric="Cosine Wave"] canvas').count() == 1
    assert "warmup" in page.locator('.card[data-metric="phase"]').inner_text()
    assert "fold-1" in page.locator("#children").inner_text()
    source = page.locator("#source").inner_text()
    assert "python" in source and platform.python_version() in source
    page.wait_for_function(
        """() => { const img = document.querySelector('.card[data-metric="sample"] img');
                   return img && img.complete && img.naturalWidth === 24; }""")
    assert "logs/python.log" in page.locator("#files").inner_text()
    assert page.locator('.card[data-metric="loss"] a:text("CSV")').get_attribute("href").endswith("csv?name=loss")
    shot = _screenshot(page, tmp_path, "run-page.png")
    assert os.path.getsize(shot) > 20_000

    page.select_option("#log-level", "WARNING")
    page.wait_for_function("() => !document.querySelector('#logs').innerText.includes('epoch')")
    assert "watch out" in page.locator("#logs").inner_text()


def test_runs_list_filters_by_status_and_tag_and_sorts(page, serve, workspace, demo):
    """The status and tag filters narrow the list; a metric header sorts by its last value."""
    server = serve(workspace)
    page.goto(server.url)
    page.wait_for_selector("table.runs tbody tr")
    rows = lambda: page.locator("table.runs tbody tr").evaluate_all("rs => rs.map(r => r.querySelector('a.run-link').textContent)")
    page.select_option("#filter-status", "Failed")
    assert rows() == ["bad-run"]
    page.select_option("#filter-status", "")
    page.fill("#filter-tag", "model=cnn")
    assert rows() == ["good-run"]
    page.fill("#filter-tag", "")
    page.click('th[data-sort="m:loss"]')
    first = rows()
    page.click('th[data-sort="m:loss"]')
    assert rows()[:2] == list(reversed(first[:2]))
    assert set(rows()[:2]) == {"good-run", "bad-run"}


def test_a_running_run_refreshes_itself_and_tails_its_log(page, serve, workspace, tmp_path):
    """While a run is running, its page shows new log lines and points without a reload."""
    run = tracklog.Experiment(workspace, "live").start_logging("live-run")
    logger, handler = _logger(run)
    try:
        for i in range(50):
            run.log("loss", 1 / (i + 1))
        logger.info("first line")
        run.flush()
        server = serve(workspace)
        page.goto(server.url + f"#/run/{run.id}")
        page.wait_for_selector('.card[data-metric="loss"] canvas')
        page.wait_for_selector("#logs .line")
        assert page.locator("#live").is_visible()
        assert page.locator("#run-head .status").inner_text() == "Running"
        logger.info("a line written after the page opened")
        for i in range(50, 120):
            run.log("loss", 1 / (i + 1))
        run.flush()
        page.wait_for_function(
            "() => document.querySelector('#logs').innerText.includes('after the page opened')", timeout=60_000)
        page.wait_for_function(
            """() => document.querySelector('.card[data-metric="loss"] .foot').innerText.includes('120 points')""",
            timeout=60_000)
    finally:
        logger.removeHandler(handler)
        run.complete()
    page.wait_for_function(
        "() => document.querySelector('#run-head .status').innerText === 'Completed'", timeout=60_000)
    assert not page.locator("#live").is_visible()
    _screenshot(page, tmp_path, "live-run.png")


def test_a_million_point_series_draws_downsampled_and_zooms(page, serve, workspace, tmp_path):
    """1,000,000 points reach the page as ≤ 2 per pixel, draw quickly, keep their spike, and zoom in."""
    run = tracklog.Experiment(workspace, "big").start_logging("million")
    for i in range(1_000_000):
        run.log("signal", math.sin(i / 20_000) + (5.0 if i == 777_777 else 0.0))
    run.complete()
    server = serve(workspace)
    started = time.monotonic()
    with page.expect_response(lambda r: "/charts?" in r.url) as answer:
        page.goto(server.url + f"#/run/{run.id}")
    data = answer.value.json()
    page.wait_for_selector('.card[data-metric="signal"] canvas')
    page.wait_for_function(
        """() => document.querySelector('.card[data-metric="signal"] .foot').innerText.includes('1,000,000 points')""")
    elapsed = time.monotonic() - started
    series = data["metrics"][0]
    assert series["points"] == 1_000_000 and series["downsampled"] is True
    assert len(series["x"]) <= 2 * 4000 and max(series["y"]) > 5.5  # the one-point spike survives
    assert elapsed < 60, elapsed  # generous: a frozen page would never get here on a slow machine
    assert page.evaluate("() => 1 + 1") == 2  # the page still answers
    time.sleep(0.3)
    assert _pixels(page, '.card[data-metric="signal"] canvas')["series"] > 200
    _screenshot(page, tmp_path, "million.png")

    over = page.locator('.card[data-metric="signal"] .u-over')
    box = over.bounding_box()
    with page.expect_response(lambda r: "/series?" in r.url and "xmin=" in r.url) as zoomed:
        page.mouse.move(box["x"] + box["width"] * 0.40, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.41, box["y"] + box["height"] / 2, steps=5)
        page.mouse.up()
    finer = zoomed.value.json()
    assert finer["points"] < 1_000_000 and finer["x"][0] >= 350_000 and finer["x"][-1] <= 460_000
    page.wait_for_selector('.card[data-metric="signal"] a:text("reset zoom"):visible')
    assert page.locator('.card[data-metric="signal"] a:text("CSV")').count() == 1


def test_compare_overlays_the_selected_runs(page, serve, workspace, demo, tmp_path):
    """Tick two runs, press Compare: one chart overlays their loss in two colours."""
    server = serve(workspace)
    page.goto(server.url)
    page.wait_for_selector("table.runs tbody tr")
    for name in ("good-run", "bad-run"):
        page.locator("table.runs tbody tr", has=page.locator(f"a.run-link:text-is('{name}')")).locator("input").check()
    page.click("#compare-selected")
    page.wait_for_selector("#compare-chart canvas")
    page.wait_for_function("() => document.querySelector('#compare-metric').value === 'loss'")
    time.sleep(0.3)
    assert _pixels(page, "#compare-chart canvas", "#1a73e8")["series"] > 100
    assert _pixels(page, "#compare-chart canvas", "#e8710a")["series"] > 100
    table = page.locator("#compare-table").inner_text()
    assert "good-run" in table and "bad-run" in table and "3,000" in table
    _screenshot(page, tmp_path, "compare.png")


def test_the_runs_list_refreshes_itself_while_a_run_is_alive(page, serve, workspace):
    """With a run running, new runs and status changes appear without reloading the page."""
    exp = tracklog.Experiment(workspace, "live")
    first = exp.start_logging("first")
    server = serve(workspace)
    page.goto(server.url)
    page.wait_for_selector(f'tr[data-run-id="{first.id}"][data-status="Running"]')
    assert page.locator("#live").is_visible()
    second = exp.start_logging("second")
    page.wait_for_selector(f'tr[data-run-id="{second.id}"]', timeout=60_000)
    second.complete()
    first.complete()
    page.wait_for_selector(f'tr[data-run-id="{first.id}"][data-status="Completed"]', timeout=60_000)
    page.wait_for_function("() => document.querySelector('#live').hidden", timeout=60_000)


def test_choosing_an_experiment_lists_only_its_runs(page, serve, workspace, demo):
    """Experiments, then runs: the sidebar narrows the table to one experiment."""
    tracklog.Experiment(workspace, "other").start_logging("elsewhere").complete()
    server = serve(workspace)
    page.goto(server.url)
    page.wait_for_selector("a.run-link:text-is('elsewhere')")
    page.click("aside.experiments a:has-text('mnist')")
    page.wait_for_function("() => document.querySelector('h1').innerText === 'mnist'")
    page.wait_for_selector("a.run-link:text-is('good-run')")
    names = page.locator("table.runs a.run-link").all_inner_texts()
    assert "elsewhere" not in names and "bad-run" in names
