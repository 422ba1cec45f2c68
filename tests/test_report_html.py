"""The HTML report: a row per check, every plot drawn, float32's drift, the CLI option."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from reference_rnn import pages
from reference_rnn.checker.apis.calling import Output
from reference_rnn.checker.battery import battery
from reference_rnn.checker.html import value_errors
from reference_rnn.cli import main
from reference_rnn.core.measure import first_step_over
from reference_rnn.verify import command as verify_command
from reference_rnn.verify import drift
from reference_rnn.verify import html as report_html
from reference_rnn.verify.drift import Drift, measure_drift
from reference_rnn.verify.html import render
from reference_rnn.verify.rows import Row, Verification

CHECKS = [
    Row("rnn_forward/backward tanh", "torch", "float64", 2.1e-16, 1e-12),
    Row("rnn_forward/backward tanh", "torch", "float32", 3.0e-7, 1e-5),
    Row("RNN 1 layer <tanh> & more", "jax", "float32", 0.0, 1e-5),
    Row("RNN lengths", "onnx reference", "float64", 0.4, 1e-12, known_difference="ignores it"),
    Row("RNN crashed", "keras", "float64", None, 1e-12, error="ValueError: boom"),
    Row("SimpleRNN final state", "finite differences", "float64", 2e-6, 1e-7),
    Row("the same seed, the same arrays", "definition", "float64", 0.0, 0.0),  # exact
]
ACCURACY = [
    {"case": "rnn_step_forward/backward tanh", "reference_rnn": 0.5, "torch": 1.5, "jax": None},
    {"case": "RNN bidirectional", "reference_rnn": 0.0, "torch": 2.0, "jax": 3.25},
]
SMALL_DRIFT = Drift(
    baseline="a float64 baseline",
    lengths=(1, 10),
    by_length={1.0: [1e-7, 2e-7]},
    scales=(0.5, 1.0),
    scale_length=10,
    radii=[0.3, 0.6],
    by_scale=[1e-7, 2e-7],
    tolerance=1e-5,
)


class _Page(HTMLParser):
    """The page's check rows (cells' text), the ids of its elements, and its svg count."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.ids: set[str] = set()
        self.svgs = 0
        self._in_row = False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "id" in attributes and tag != "path":
            self.ids.add(attributes["id"])
        self.svgs += tag == "svg"
        if tag == "tr" and attributes.get("class") == "check":
            self._in_row = True
            self.rows.append([])
        elif tag == "td" and self._in_row:
            self.rows[-1].append("")

    def handle_endtag(self, tag):
        if tag == "tr":
            self._in_row = False

    def handle_data(self, data):
        if self._in_row and self.rows[-1]:
            self.rows[-1][-1] += data


def _report(accuracy=()) -> Verification:
    report = Verification(
        checks=list(CHECKS), versions={"torch": "2.13.0"}, skipped={"exact": "no"}
    )
    report.accuracy = list(accuracy)
    return report


@pytest.fixture(scope="module")
def text() -> str:
    """The page of a report with every status, accuracy rows and a drift measurement."""
    return render(_report(ACCURACY), SMALL_DRIFT)


def test_every_check_is_a_row_with_its_status_and_numbers(text):
    page = _Page(text)
    assert len(page.rows) == len(CHECKS)
    for i, (row, check) in enumerate(zip(page.rows, CHECKS, strict=True), 1):
        number, name, against, dtype, error, tolerance, _, status, note = row
        assert (int(number), name, against, dtype) == (i, check.name, check.against, check.dtype)
        assert tolerance == f"{check.tolerance:.0e}"
        assert error == ("\N{EN DASH}" if check.max_error is None else f"{check.max_error:.1e}")
        statuses = {"torch": "pass", "jax": "pass", "definition": "pass"}
        assert status == (statuses | {"onnx reference": "known difference"}).get(against, "FAIL")
        assert note == (check.error or check.known_difference or "")


def test_the_page_has_each_plot_the_summary_and_the_sources(text):
    page = _Page(text)
    assert {
        "summary",
        "sources",
        "skipped",
        "plot-errors",
        "plot-accuracy",
        "plot-drift",
    } <= page.ids
    assert page.svgs == 3
    assert "FAILED: 4 of 6 checks passed" in text
    assert "accuracy-absent" not in page.ids
    assert "<td>torch 2.13.0</td><td>2 of 2 passed" in text.replace("\n", "")
    # the accuracy table: a missing value is a dash, not a number
    assert '<td class="num">3.25</td>' in text
    assert '<td class="num">&ndash;</td>' in text
    # nothing to fetch (XML namespaces are names, not requests) and no script
    for fetch in ('src="', 'href="http', "<link", "<script", "url(http", "@import"):
        assert fetch not in text


def test_without_accuracy_or_drift_the_page_says_so():
    text = render(_report(), None)
    page = _Page(text)
    assert "accuracy-absent" in page.ids
    assert {"plot-accuracy", "plot-drift"}.isdisjoint(page.ids)
    assert page.svgs == 1
    assert "Not measured for this page." in text


def test_without_matplotlib_the_message_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(ImportError, match=r'pip install "reference-rnn\[report\]"'):
        pages.require_matplotlib()


def test_verify_html_writes_the_page(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(verify_command, "run", lambda **_: _report(ACCURACY))
    monkeypatch.setattr(drift, "measure_drift", lambda: SMALL_DRIFT)
    path = tmp_path / "report.html"
    assert main(["verify", "--html", str(path)]) == 1  # the report above has failures
    page = _Page(path.read_text(encoding="utf-8"))
    assert len(page.rows) == len(CHECKS)
    assert page.svgs == 3
    assert "FAILED" in capsys.readouterr().out


def test_float32_drifts_from_torch_float64_only_in_the_chaotic_regime(torch: ModuleType):
    threads = torch.get_num_threads()
    drift = measure_drift(
        lengths=(1, 200), length_scales=(1.0,), scales=(1.0, 4.0), scale_length=200
    )
    assert drift.baseline.startswith(f"torch {torch.__version__} float64")
    eps32 = float(np.finfo(np.float32).eps)
    # at torch's initialisation: rounding only, well under the float32 tolerance, but not zero
    assert 0 < drift.by_length[1.0][0] < 10 * eps32
    assert 0 < drift.by_length[1.0][1] < drift.tolerance
    # spectral radius well past 1: the sequences decorrelate, the error is of the values' order
    assert drift.radii[1] == pytest.approx(4 * drift.radii[0])
    assert drift.radii[1] > 2
    assert drift.by_scale[1] > 0.1
    assert torch.get_num_threads() == threads  # given back


def test_without_torch_the_drift_baseline_is_float64_reference(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    drift = measure_drift(lengths=(1,), length_scales=(1.0,), scales=(1.0,), scale_length=5)
    assert drift.baseline == "reference_rnn float64 (torch is not installed)"
    assert 0 < drift.by_length[1.0][0] < 10 * float(np.finfo(np.float32).eps)


def test_the_drift_plot_marks_where_the_tolerance_is_exceeded():
    chaotic = replace(SMALL_DRIFT, by_scale=[1e-7, 0.5])
    plt = pages.require_matplotlib()
    assert "from radius 0.60" in report_html.plot_drift(plt, chaotic)
    assert "from radius" not in report_html.plot_drift(plt, SMALL_DRIFT)


# -- check --html ---------------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parents[1]


def test_value_errors_are_zero_but_where_the_values_differ():
    case = battery("float64")[0]
    expected = case.expected["h"]  # (N, T, H)
    N, T, H = expected.shape
    assert T >= 2
    wrong = expected.copy()
    wrong[N - 1, 1, H - 1] += 0.5  # one entry at step 1
    errors = value_errors(Output("h", "hs", wrong), case)
    scale = float(np.abs(expected).max())
    assert errors == [0.0, 0.5 / scale] + [0.0] * (T - 2)
    assert first_step_over(errors, 1e-12) == 1
    # a value without a time axis: entry by entry, in C order
    dWh = case.expected["dWh"]  # (H, H)
    wrong = dWh.copy()
    wrong[1, 2] = np.nan
    wrong[0, 0] += 0.25
    errors = value_errors(Output("dWh", "dWh", wrong), case)
    scale = float(np.abs(dWh).max())
    assert len(errors) == dWh.size
    assert errors[0] == pytest.approx(0.25 / scale, rel=1e-12)
    assert errors[1 * dWh.shape[1] + 2] == np.inf  # a NaN is past every tolerance
    assert sum(e > 0 for e in errors) == 2
    # nothing to measure
    assert value_errors(Output("dWh", "dWh", dWh[:1]), case) is None
    assert value_errors(Output("h", "hs", expected[:, :1]), case) is None
    assert value_errors(Output("h", "hs", None, problem="raised ValueError"), case) is None


def _check_page(tmp_path, capsys, target: str) -> tuple[int, _Page, str, str]:
    path = tmp_path / "check.html"
    code = main(["check", target, "--api", "sprint", "--seed", "0", "--html", str(path)])
    text = path.read_text(encoding="utf-8")
    return code, _Page(text), text, capsys.readouterr().out


def test_check_html_shows_where_the_exercise_s_code_goes_wrong(tmp_path, capsys):
    seed = str(ROOT / "examples" / "seed_simple_rnn.py") + ":SimpleRNN"
    code, page, text, out = _check_page(tmp_path, capsys, seed)
    assert code == 1
    total = int(re.search(r"FAILED \(forward only\): \d+ of (\d+) checks passed", out).group(1))
    assert len(page.rows) == total
    rows = {row[1]: row for row in page.rows}
    # the exercise's sample passes; with a nonzero initial state it is wrong from step 0, which
    # the checker's own diagnosis says too
    assert rows["SimpleRNN.forward: h of case sample"][4:6] == ["pass", "\N{EN DASH}"]
    assert rows["SimpleRNN.forward: h of case sample-h0"][4:6] == ["FAIL", "0"]
    assert (
        "SimpleRNN.forward: h of case sample-h0: error 4.8e-02 against the reference, first at time step 0"
        in out
    )
    assert {"plot-errors", "diagnoses"} <= page.ids
    assert page.svgs == 1
    assert "ignores-initial-state" in text


def test_check_html_of_a_correct_layer_has_no_bad_step(tmp_path, capsys):
    corrected = str(ROOT / "examples" / "corrected_simple_rnn.py") + ":SimpleRNN"
    code, page, _, out = _check_page(tmp_path, capsys, corrected)
    assert code == 0
    total = int(re.search(r"PASSED: (\d+) of \1 checks passed", out).group(1))
    assert len(page.rows) == total
    assert all(row[4:6] == ["pass", "\N{EN DASH}"] for row in page.rows)
    assert "diagnoses" not in page.ids
    assert "output" not in page.ids  # it printed nothing
    assert page.svgs == 0  # nothing failed: nothing to plot
    assert "no-plot" in page.ids


def test_check_html_of_code_that_does_not_load(tmp_path, capsys):
    broken = tmp_path / "broken.py"
    broken.write_text("raise RuntimeError('no')\n", encoding="utf-8")
    code, page, text, _ = _check_page(tmp_path, capsys, f"{broken}:SimpleRNN")
    assert code == 1
    assert [row[1] for row in page.rows] == ["load: TARGET"]
    assert "No failing value could be compared: nothing to plot." in text
    assert page.svgs == 0


def test_check_html_draws_a_panel_per_failing_value_weight_gradients_too(tmp_path, capsys):
    path = tmp_path / "check.html"
    source = (ROOT / "examples" / "cs231n_rnn_layers.py").read_text(encoding="utf-8")
    wrong = tmp_path / "wrong_dwh.py"  # a wrong dWh, in rnn_backward too: the rest stays right
    wrong.write_text(source + _WRONG_DWH, encoding="utf-8")
    assert main(["check", str(wrong), "--api", "cs231n", "--html", str(path)]) == 1
    assert capsys.readouterr().err.endswith(f"wrote the HTML report to {path}\n")
    text = path.read_text(encoding="utf-8")
    titles = re.findall(r">(\w+)</text>", text)
    assert "dWh" in titles
    assert not {"h", "dx", "dWx", "db"} & set(titles)  # only failing values: no empty panel
    assert "entry (C order)" in text


_WRONG_DWH = """

_right_step_backward = rnn_step_backward


def rnn_step_backward(dnext_h, cache):
    dx, dprev_h, dWx, dWh, db = _right_step_backward(dnext_h, cache)
    return dx, dprev_h, dWx, 2 * dWh, db

"""


def test_check_html_shows_what_the_checked_code_printed(tmp_path, capsys):
    corrected = (ROOT / "examples" / "corrected_simple_rnn.py").read_text(encoding="utf-8")
    printing = tmp_path / "printing.py"
    printing.write_text('print("loading <my> RNN & co")\n' + corrected, encoding="utf-8")
    code, page, text, out = _check_page(tmp_path, capsys, f"{printing}:SimpleRNN")
    assert code == 0
    assert "output" in page.ids
    assert '<pre id="output">loading &lt;my&gt; RNN &amp; co</pre>' in text
    assert "  | loading <my> RNN & co" in out  # the text report shows the same lines


def test_the_check_plots_are_three_panels_a_row_at_most_and_none_empty():
    import matplotlib.pyplot as plt

    from reference_rnn.checker.html import PER_ROW, plot_errors

    values = ["h", "dx", "dh0", "dWx", "dWh"]  # five: a row of three, a row of two
    errors = {value: [([1e-3, 1e-1, 1.0], 1)] for value in values}
    figure = plot_errors(plt, errors, 1e-12)
    assert PER_ROW == 3
    assert len(re.findall(r'<g id="axes_\d+"', figure)) == len(values)  # the sixth place removed
    assert all(f">{value}</text>" in figure for value in values)  # each panel's title
    widths = re.search(r'<svg[^>]* width="([\d.]+)pt" height="([\d.]+)pt"', figure)
    assert widths is not None
    assert float(widths.group(1)) < 3 * 4.0 * 72 * 1.05  # three 4-inch panels wide, not five
    assert float(widths.group(2)) > 3.2 * 72  # two rows high
