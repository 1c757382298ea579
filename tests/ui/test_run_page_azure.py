"""The run page's Models section and Azure's four chart logs: the API's fields and the drawn page."""

from __future__ import annotations

import math

import pytest

import tracklog

from .test_browser import _screenshot, browser, page  # noqa: F401 (the headless Chromium fixtures)

XSS = "<img src=x onerror=\"window.__pwned=1\">"
CM = {"schema_type": "confusion_matrix", "schema_version": "1.0.0",
      "data": {"class_labels": ["cat", "dog", XSS], "matrix": [[5, 1, 0], [2, 7, 1], [0, 0, 4]]}}
ACC = {"schema_type": "accuracy_table", "schema_version": "1.0.2",
       "data": {"probability_tables": [[[10, 10, 0, 0], [8, 3, 7, 2], [0, 0, 10, 10]],
                                       [[10, 10, 0, 0], [6, 5, 5, 4], [0, 0, 10, 10]]],
                "percentile_tables": [[[10, 10, 0, 0]], [[10, 10, 0, 0]]],
                "probability_thresholds": [0.0, 0.5, 1.0], "percentile_thresholds": [0.0],
                "class_labels": ["a", "b"]}}
RES = {"schema_type": "residuals", "schema_version": "1.0.0",
       "data": {"bin_edges": [-2, -1, 0, 1, 2], "bin_counts": [3, 9, 11, 2]}}
PRED = {"schema_type": "predictions", "schema_version": "1.0.0",
        "data": {"bin_averages": [0.4, 1.6, 2.4], "bin_errors": [0.1, 0.2, float("nan")],
                 "bin_counts": [5, 6, 4], "bin_edges": [0, 1, 2, 3]}}


@pytest.fixture
def azure_run(workspace, tmp_path):
    """A finished run with a registered model (tags, properties, description) and the four charts."""
    model = tmp_path / "model.pkl"
    model.write_bytes(b"weights")
    run = tracklog.Experiment(workspace, "azure-charts").start_logging(outputs=None)
    run.upload_file("outputs/model.pkl", str(model))
    run.log_confusion_matrix("cm", CM)
    run.log_accuracy_table("acc", ACC)
    run.log_residuals("res", RES)
    run.log_predictions("pred", PRED)
    run.register_model("clf", "outputs/model.pkl", tags={"alpha": 0.5, "note": XSS},
                       properties={"auc": "0.9"}, description=XSS)
    run.register_model("clf", "outputs/model.pkl", description="second")
    run.complete()
    return run


def test_run_api_lists_the_runs_models_and_azure_charts(client, azure_run, workspace):
    """/api/runs/<id> carries the run's model versions and each chart file's kind and data."""
    other = tracklog.Experiment(workspace, "azure-charts").start_logging(outputs=None)
    other.complete()
    detail = client.json(f"/api/runs/{azure_run.id}")
    models = detail["models"]
    assert [(m["name"], m["version"]) for m in models] == [("clf", 1), ("clf", 2)]
    first = models[0]
    assert first["path"] == "outputs/model.pkl" and first["description"] == XSS
    assert first["tags"] == {"alpha": "0.5", "note": XSS} and first["properties"]["auc"] == "0.9"
    charts = {c["name"]: c for c in detail["azure_charts"]}
    assert {n: c["kind"] for n, c in charts.items()} == {
        "cm": "confusion_matrix", "acc": "accuracy_table", "res": "residuals", "pred": "predictions"}
    assert charts["cm"]["data"]["matrix"] == CM["data"]["matrix"]
    assert charts["res"]["data"]["bin_counts"] == [3, 9, 11, 2]
    assert charts["acc"]["data"]["probability_tables"] == ACC["data"]["probability_tables"]
    assert charts["pred"]["data"]["bin_errors"][:2] == [0.1, 0.2]
    assert charts["pred"]["data"]["bin_errors"][2] is None  # NaN: strict JSON carries null
    assert charts["cm"]["file"] == "charts/cm.json"
    empty = client.json(f"/api/runs/{other.id}")
    assert empty["models"] == [] and empty["azure_charts"] == []


def test_a_chart_file_that_is_not_azure_json_is_listed_not_drawn(client, workspace, tmp_path):
    """A user's own charts/x.json that is not one of Azure's shapes: named, with kind null."""
    bad = tmp_path / "x.json"
    bad.write_text("not json")
    run = tracklog.Experiment(workspace, "azure-charts").start_logging(outputs=None)
    run.upload_file("charts/x.json", str(bad))
    run.complete()
    (chart,) = client.json(f"/api/runs/{run.id}")["azure_charts"]
    assert chart["name"] == "x" and chart["kind"] is None and chart["data"] is None


def test_the_run_page_shows_models_and_the_four_azure_charts(page, serve, workspace, azure_run, tmp_path):  # noqa: F811
    """The Models table and one card per chart: heatmap table, ROC curves, residual bars, prediction bars."""
    server = serve(workspace)
    page.goto(server.url + f"#/run/{azure_run.id}")
    page.wait_for_selector("#models tbody tr")
    rows = page.locator("#models tbody tr")
    assert rows.count() == 2
    text = page.locator("#models").inner_text()
    assert "clf" in text and "outputs/model.pkl" in text and "auc=0.9" in text and "alpha=0.5" in text
    assert XSS in text  # the user's text shown as text
    page.wait_for_selector('.card.azure[data-chart="pred"] svg')
    cm = page.locator('.card.azure[data-chart="cm"] table.confusion')
    assert cm.locator("tbody tr").count() == 3 and "dog" in cm.inner_text() and XSS in cm.inner_text()
    assert cm.locator("tbody tr").nth(1).locator("td").nth(1).inner_text() == "7"
    assert page.locator('.card.azure[data-chart="acc"] svg polyline.curve').count() == 2
    assert page.locator('.card.azure[data-chart="res"] svg rect.bar').count() == 4
    assert page.locator('.card.azure[data-chart="pred"] svg rect.bar').count() == 6
    heights = page.locator('.card.azure[data-chart="res"] rect.bar').evaluate_all(
        "rs => rs.map(r => +r.getAttribute('height'))")
    assert heights.index(max(heights)) == 2 and all(h > 0 and math.isfinite(h) for h in heights)
    assert page.evaluate("() => window.__pwned") is None
    assert page.locator("#run-models img, #azure-charts img").count() == 0
    _screenshot(page, tmp_path, "run-page-azure.png")
