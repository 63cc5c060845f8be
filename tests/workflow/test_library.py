"""Every workflow node is in the node library the editor lists, under "Workflow Logic"."""

from __future__ import annotations

from typing import Any

from sidecar.runtime import node_library

WORKFLOW_NODES = {
    "Workflow IF",
    "Workflow Switch",
    "Workflow For Each",
    "Workflow Merge",
    "Workflow Split",
    "Workflow Try Catch",
    "Workflow Retry",
    "Workflow Stop",
    "Workflow Wait",
    "Workflow Wait Until",
    "Workflow Debounce",
}


def _entries() -> dict[str, dict[str, Any]]:
    return {entry["name"]: entry for entry in node_library() if entry["category"] == "Workflow Logic"}


def test_the_library_lists_every_workflow_node_with_docs() -> None:
    entries = _entries()

    assert set(entries) == WORKFLOW_NODES
    assert all(entry["docs"] and entry["displayNodeName"] for entry in entries.values())


def test_ports_carry_types_and_the_planned_defaults() -> None:
    ports = {name: {p["name"]: p for p in entry["ports"]} for name, entry in _entries().items()}

    assert ports["Workflow Retry"]["maxAttempts"] == {
        "name": "maxAttempts",
        "plug": "input",
        "type": "number",
        "displayName": "Max Attempts",
        "default": 3,
    }
    assert ports["Workflow Retry"]["delayMs"]["default"] == 1000
    assert ports["Workflow Retry"]["backoffMultiplier"]["default"] == 2
    assert ports["Workflow Stop"]["errorMessage"]["default"] == "Workflow stopped"
    assert ports["Workflow Stop"]["isError"]["default"] is True
    assert ports["Workflow Wait"]["duration"]["default"] == 1000
    assert [e["value"] for e in ports["Workflow Wait"]["unit"]["type"]["enums"]] == ["ms", "s", "min", "h"]
    assert ports["Workflow Debounce"]["delay"]["default"] == 500
    assert ports["Workflow Merge"]["branchCount"]["default"] == 2
    for name in ("Workflow IF", "Workflow Switch", "Workflow For Each", "Workflow Wait"):
        assert ports[name]["run"]["type"] == "signal"
    assert ports["Workflow IF"]["onTrue"]["plug"] == "output"
    assert ports["Workflow For Each"]["allResults"]["type"] == "array"


def test_numbered_ports_are_described_as_dynamic() -> None:
    entries = _entries()

    assert entries["Workflow Switch"]["dynamicPorts"] == [
        {"pattern": "case_<n>", "plug": "output", "type": "signal", "countFrom": "cases"}
    ]
    assert [p["pattern"] for p in entries["Workflow Merge"]["dynamicPorts"]] == ["branch_<i>", "data_<i>"]
    assert [p["pattern"] for p in entries["Workflow Split"]["dynamicPorts"]] == ["branch_<n>"]


def test_entries_fit_the_ipc_wire_model_of_runtime_node_library() -> None:
    from ipc_schema.runtime import NodeType

    for entry in _entries().values():
        wire = NodeType.model_validate(entry).to_wire()
        assert (wire["name"], wire["category"]) == (entry["name"], "Workflow Logic")
        assert wire.get("dynamicPorts") == entry.get("dynamicPorts")
