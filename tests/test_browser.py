"""The report page and the documentation site in headless Chromium: rendered, whole, no errors.

Each page is opened in a real browser through the DevTools protocol; a page fails on a JavaScript
exception, an error in the console (a resource that did not load among them), an empty or blank
body, a plot that did not render or a missing check row. Screenshots go to ``$SCREENSHOTS`` (or
the test's temporary directory). The site is the one ``nox -s docs`` built into ``site/`` (or
``$SITE``); its tests skip when it is not there.

Needs Debian's ``chromium`` and ``websocket-client``; without them the tests skip, unless
``REQUIRE_BROWSER=1`` (as ``nox -s browser`` sets) makes that a failure.
"""

from __future__ import annotations

import base64
import importlib.util
import itertools
import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from reference_rnn.verify.rows import Row, Verification

REQUIRED = os.environ.get("REQUIRE_BROWSER") == "1"
ROOT = Path(__file__).resolve().parents[1]
SITE = Path(os.environ.get("SITE", ROOT / "site"))
SITE_PAGES = [
    "index",
    "math",
    "torch",
    "lstm",
    "gru",
    "verification",
    "checking",
    "training",
    "benchmark",
    "api",
    "architecture",
]
#: What a closed network and a throwaway profile need (see DEVELOPERS.md).
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]
#: Runs in the page after it loaded: what the assertions need to know, as JSON.
INSPECT = """JSON.stringify({
  title: document.title,
  text: document.body ? document.body.innerText.trim().length : 0,
  height: document.body ? document.body.getBoundingClientRect().height : 0,
  h1: document.querySelectorAll("h1").length,
  svgs: Array.from(document.querySelectorAll("figure svg")).map(s => {
    const box = s.getBoundingClientRect();
    return {width: box.width, height: box.height, marks: s.querySelectorAll("path, use").length};
  }),
  rows: document.querySelectorAll("#checks tr.check").length,
  count: document.querySelector("#checks") && Number(document.querySelector("#checks").dataset.count),
  api: document.querySelectorAll(".doc-heading").length,
  footer: document.querySelector(".md-copyright") && document.querySelector(".md-copyright").innerText.trim(),
  summary: document.querySelector("#summary") && document.querySelector("#summary").innerText,
})"""


def _require(found: object, what: str) -> None:
    if not found:
        if REQUIRED:
            pytest.fail(f"REQUIRE_BROWSER=1 but {what}")
        pytest.skip(what)


class Browser:
    """One headless Chromium with one tab, driven through the DevTools protocol."""

    def __init__(self, executable: str, profile: Path) -> None:
        import websocket  # websocket-client

        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 60
        while not port_file.exists() or not port_file.read_text().strip():
            if time.monotonic() > deadline or self.process.poll() is not None:
                msg = f"chromium did not start (exit code {self.process.poll()})"
                raise RuntimeError(msg)
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with no_proxy.open(f"http://127.0.0.1:{port}/json/list", timeout=30) as response:
            targets = json.load(response)
        page = next(target for target in targets if target["type"] == "page")
        self.socket = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.ids = itertools.count(1)
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log"):
            self.call(f"{domain}.enable")
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=1100,
            height=1000,
            deviceScaleFactor=1,
            mobile=False,
        )

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command; keep the events that arrive before its answer."""
        id_ = next(self.ids)
        self.socket.send(json.dumps({"id": id_, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == id_:
                if "error" in message:
                    msg = f"{method}: {message['error']}"
                    raise RuntimeError(msg)
                return dict(message["result"])
            self.events.append(message)

    def open(self, url: str) -> dict[str, Any]:
        """Load ``url``; the page's facts (INSPECT), its errors and a PNG of the viewport."""
        self.events.clear()
        self.call("Page.navigate", url=url)
        while not any(event.get("method") == "Page.loadEventFired" for event in self.events):
            self.events.append(json.loads(self.socket.recv()))
        time.sleep(1.0)  # the theme's scripts run after load
        facts = json.loads(self.call("Runtime.evaluate", expression=INSPECT)["result"]["value"])
        self.call("Runtime.evaluate", expression="0")  # collect events that came meanwhile
        facts["errors"] = [
            event["params"]
            for event in self.events
            if event.get("method") == "Runtime.exceptionThrown"
            or (
                event.get("method") == "Log.entryAdded"
                and event["params"]["entry"]["level"] == "error"
            )
            or (
                event.get("method") == "Runtime.consoleAPICalled"
                and event["params"]["type"] == "error"
            )
        ]
        png = self.call("Page.captureScreenshot", format="png")["data"]
        facts["png"] = base64.b64decode(png)
        return facts

    def close(self) -> None:
        self.socket.close()
        self.process.terminate()
        self.process.wait(timeout=30)


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    _require(executable, "chromium is not installed (apt-get install chromium)")
    _require(importlib.util.find_spec("websocket"), "websocket-client is not installed")
    assert executable is not None
    browser = Browser(executable, tmp_path_factory.mktemp("chromium-profile"))
    yield browser
    browser.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory) -> Path:
    directory = Path(os.environ.get("SCREENSHOTS", tmp_path_factory.mktemp("screenshots")))
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _assert_rendered(facts: dict[str, Any], name: str, screenshots: Path) -> None:
    (screenshots / f"{name}.png").write_bytes(facts["png"])
    assert facts["errors"] == [], facts["errors"]
    assert facts["h1"] >= 1
    assert facts["text"] > 200
    assert facts["height"] > 300
    # a blank viewport compresses to a few kilobytes
    assert len(facts["png"]) > 15_000, f"{name}: the screenshot looks blank"


def test_the_report_page_renders_every_plot_and_row(browser, screenshots, tmp_path):
    pytest.importorskip("matplotlib")
    from reference_rnn.verify import html as report_html
    from reference_rnn.verify.drift import measure_drift

    checks = [
        Row(f"check {i}", source, dtype, 10.0**-i, 1e-5 if dtype == "float32" else 1e-12)
        for i, (source, dtype) in enumerate(
            list(itertools.product(["torch", "jax", "golden fixture"], ["float64", "float32"])) * 3,
            3,
        )
    ]
    report = Verification(checks=checks, versions={"torch": "2.13.0"})
    report.accuracy = [{"case": "a case", "reference_rnn": 0.5, "torch": 1.0}]
    drift = measure_drift(lengths=(1, 10), length_scales=(1.0,), scales=(1.0, 4.0))
    path = tmp_path / "report.html"
    report_html.write(report, path, drift)
    facts = browser.open(path.as_uri())
    _assert_rendered(facts, "report", screenshots)
    assert facts["rows"] == facts["count"] == len(checks)
    assert len(facts["svgs"]) == 3
    for svg in facts["svgs"]:
        assert svg["width"] > 300
        assert svg["height"] > 150
        assert svg["marks"] > 10


@pytest.fixture(scope="module")
def site() -> Path:
    _require((SITE / "index.html").exists(), f"no built site in {SITE} (nox -s docs)")
    return SITE


@pytest.fixture(scope="module")
def footer(browser, site) -> str:
    """The front page's footer: the versions the site and its report page were built with."""
    line = browser.open((site / "index.html").as_uri())["footer"]
    assert line.startswith("The report page and this site were built with NumPy ")
    return line


@pytest.mark.parametrize("page", SITE_PAGES)
def test_each_page_of_the_site_renders(browser, screenshots, site, footer, page):
    path = site / "index.html" if page == "index" else site / page / "index.html"
    facts = browser.open(path.as_uri())
    _assert_rendered(facts, f"site-{page}", screenshots)
    assert facts["footer"] == footer
    if page == "api":
        assert facts["api"] >= 10  # mkdocstrings rendered the docstrings


def test_the_site_carries_this_build_s_report(browser, screenshots, site, footer):
    facts = browser.open((site / "report.html").as_uri())
    _assert_rendered(facts, "site-report", screenshots)
    assert facts["rows"] == facts["count"] > 50
    assert len(facts["svgs"]) >= 2  # the accuracy plot only where the exact oracle ran
    assert all(svg["marks"] > 10 for svg in facts["svgs"])
    # every framework the pages' footer names, at its version, is one the report ran on
    named = re.findall(r"(\w+) (\d+(?:\.\d+)+)", footer)
    assert len(named) == 7, footer
    for name, version in named:
        assert f"{name.lower()} {version}" in facts["summary"], (name, facts["summary"])


def test_the_check_page_renders_its_steps_and_rows(browser, screenshots, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    from reference_rnn.cli import main

    path = tmp_path / "check.html"
    seed = str(ROOT / "examples" / "seed_simple_rnn.py") + ":SimpleRNN"
    assert main(["check", seed, "--api", "sprint", "--html", str(path)]) == 1  # its mistakes
    capsys.readouterr()
    facts = browser.open(path.as_uri())
    _assert_rendered(facts, "check", screenshots)
    assert facts["rows"] == facts["count"] > 5
    assert len(facts["svgs"]) == 1
    assert facts["svgs"][0]["marks"] > 5


#: Runs in the check page: each tick label's rendered box, by panel (axes) and axis.
TICKS = """JSON.stringify(Array.from(document.querySelectorAll("figure svg g[id^='axes_']")).map(
  axes => Array.from(axes.querySelectorAll("g[id^='matplotlib.axis_']")).map(
    axis => Array.from(axis.querySelectorAll("g[id^='xtick_'] text, g[id^='ytick_'] text"))
      .map(t => t.getBoundingClientRect())
      .filter(r => r.width > 0)
      .map(r => ({left: r.left, right: r.right, top: r.top, bottom: r.bottom}))
  )
))"""


def test_the_check_page_s_tick_labels_are_readable_and_apart(browser, screenshots, tmp_path):
    pytest.importorskip("matplotlib")
    from reference_rnn.cli import main

    # three mistakes: six values fail, a panel each, weight gradients entry by entry among them
    path = tmp_path / "ticks.html"
    target = str(ROOT / "tests" / "buggy" / "rnn_layers_three_mistakes.py")
    assert main(["check", target, "--api", "cs231n", "--seed", "0", "--html", str(path)]) == 1
    facts = browser.open(path.as_uri())
    _assert_rendered(facts, "check-ticks", screenshots)
    panels = json.loads(browser.call("Runtime.evaluate", expression=TICKS)["result"]["value"])
    assert len(panels) == 8  # next_h, h, dx, dprev_h, dh0, dWx, dWh, db: three rows
    for axes in panels:
        for labels in axes:
            assert len(labels) >= 2
            # readable: at least 8 CSS pixels tall, as the page shows them at 1100 px wide
            assert min(box["bottom"] - box["top"] for box in labels) >= 8, labels
            for a, b in itertools.combinations(labels, 2):  # no two labels of one axis overlap
                apart = (
                    a["right"] <= b["left"]
                    or b["right"] <= a["left"]
                    or a["bottom"] <= b["top"]
                    or b["bottom"] <= a["top"]
                )
                assert apart, (a, b)
