"""The Prometheus exporter on its own: workflow labels bounded, statuses, a registry per backend."""

from __future__ import annotations

import json

import prometheus_client
from prometheus_client.parser import text_string_to_metric_families

from sidecar.history.rows import ExecutionRow
from sidecar.monitoring.prometheus import CONTENT_TYPE, OTHER, PrometheusExporter


def finished(workflow: str, status: str = "success", metadata: str = "{}") -> ExecutionRow:
    return ExecutionRow(
        f"exec_{workflow}", workflow, workflow, "schedule", status, 0, duration_ms=120, metadata=metadata
    )


def counts(exporter: PrometheusExporter, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    result = {}
    for family in text_string_to_metric_families(exporter.render().decode()):
        for sample in family.samples:
            if sample.name == name:
                result[tuple(sorted(sample.labels.items()))] = sample.value
    return result


def test_workflow_labels_past_the_budget_share_one_label() -> None:
    exporter = PrometheusExporter(dict, max_workflows=3)
    for index in range(10):
        exporter.run_finished(finished(f"wf{index}"), False)
    runs = counts(exporter, "noodl_function_duration_seconds_count")
    workflows = {dict(labels)["workflow"] for labels in runs}
    assert workflows == {"wf0", "wf1", "wf2", OTHER}
    assert runs[(("status", "success"), ("workflow", OTHER))] == 7.0


def test_statuses_and_rejected_fires() -> None:
    exporter = PrometheusExporter(lambda: {"history_backlog_rows": 4})
    exporter.run_finished(finished("a"), False)
    exporter.run_finished(finished("a", "error", json.dumps({"timedOut": True})), True)
    exporter.run_finished(finished("a", "error", '{"rejected":true}'), False)
    runs = counts(exporter, "noodl_function_duration_seconds_count")
    assert {dict(labels)["status"]: value for labels, value in runs.items()} == {
        "success": 1.0,
        "timeout": 1.0,
        "error": 1.0,
    }
    fires = counts(exporter, "noodl_trigger_fires_total")
    assert fires == {
        (("outcome", "run"), ("trigger_type", "schedule")): 2.0,
        (("outcome", "rejected"), ("trigger_type", "schedule")): 1.0,
    }
    assert counts(exporter, "noodl_history_backlog_rows") == {(): 4.0}


def test_each_backend_has_its_own_registry() -> None:
    first, second = PrometheusExporter(dict), PrometheusExporter(dict)
    first.run_finished(finished("only-in-first"), False)
    assert counts(first, "noodl_function_duration_seconds_count")
    assert counts(second, "noodl_function_duration_seconds_count") == {}


def test_durations_fill_cumulative_buckets_and_a_sum() -> None:
    exporter = PrometheusExporter(dict)
    for index, ms in enumerate((3, 40, 400_000)):
        exporter.run_finished(
            ExecutionRow(f"e{index}", "w", "w", "manual", "success", 0, duration_ms=ms), False
        )
    buckets = {
        dict(labels)["le"]: value
        for labels, value in counts(exporter, "noodl_function_duration_seconds_bucket").items()
    }
    assert (buckets["0.005"], buckets["0.025"], buckets["0.05"], buckets["300.0"], buckets["+Inf"]) == (
        1.0,
        1.0,
        2.0,
        2.0,
        3.0,
    )
    assert counts(exporter, "noodl_function_duration_seconds_sum")[
        (("status", "success"), ("workflow", "w"))
    ] == (400.043)


def test_http_requests_count_by_route_and_the_content_type_is_the_librarys() -> None:
    exporter = PrometheusExporter(dict)
    exporter.requests[("GET", "/health", "200")] += 2
    assert counts(exporter, "noodl_http_requests_total") == {
        (("method", "GET"), ("route", "/health"), ("status", "200")): 2.0
    }
    assert CONTENT_TYPE == prometheus_client.CONTENT_TYPE_LATEST
