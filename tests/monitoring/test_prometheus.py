"""The Prometheus exporter on its own: workflow labels bounded, statuses, a registry per backend."""

from __future__ import annotations

import json

import prometheus_client
import pytest
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


def test_the_cached_duration_family_parses_as_the_library_writes_it_and_follows_new_runs() -> None:
    from prometheus_client import CollectorRegistry, Histogram, generate_latest

    from sidecar.monitoring.prom_histograms import HistogramFamily
    from sidecar.monitoring.prometheus import DURATION_BUCKETS

    ours = HistogramFamily("d_seconds", "D.", ["workflow", "status"], DURATION_BUCKETS)
    registry = CollectorRegistry()
    theirs = Histogram("d_seconds", "D.", ["workflow", "status"], buckets=DURATION_BUCKETS, registry=registry)
    odd = 'quote " back \\ new\nline'
    values = [0.0, 0.005, 0.0051, 0.3, 1.0, 7.5, 299.0, 301.0, 5000.0]

    def parsed(text: bytes) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        found = {}
        for family in text_string_to_metric_families(text.decode()):
            for sample in family.samples:
                if not sample.name.endswith("_created"):
                    found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return found

    for round_values in (values, [0.02, 42.0]):
        for value in round_values:
            for labels in (("wf", "success"), (odd, "error")):
                ours.observe(labels, value)
                theirs.labels(*labels).observe(value)
        assert parsed(ours.render()) == pytest.approx(parsed(generate_latest(registry)))
    found = ours.samples(("wf", "success"))
    assert found is not None
    assert found[0] == 11
    assert found[1] == pytest.approx(sum(values) + 42.02)


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
