"""The Prometheus exporter on its own: workflow labels bounded, statuses, a registry per backend."""

from __future__ import annotations

import json

from prometheus_client.parser import text_string_to_metric_families

from sidecar.history.rows import ExecutionRow
from sidecar.monitoring.prometheus import OTHER, PrometheusExporter


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
