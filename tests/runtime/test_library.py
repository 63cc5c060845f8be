"""The node library matches what the real cloud runtime declares for the editor."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sidecar.runtime.library import node_library


def _type_name(port_type: Any) -> Any:
    return port_type.get("name") if isinstance(port_type, dict) else port_type


def _reference(fixtures_dir: Path) -> dict[str, dict[str, Any]]:
    data = json.loads((fixtures_dir / "cloud-nodelib.json").read_text(encoding="utf-8"))
    return {entry["name"]: entry for entry in data["nodetypes"] if entry.get("category") != "Visual"}


def test_every_cloud_node_type_is_in_the_library(fixtures_dir: Path) -> None:
    ours = {entry["name"] for entry in node_library()}

    assert sorted(set(_reference(fixtures_dir)) - ours) == []


def test_names_categories_and_static_ports_match_the_reference(fixtures_dir: Path) -> None:
    ours = {entry["name"]: entry for entry in node_library()}
    mismatches: list[tuple[Any, ...]] = []
    for name, reference in _reference(fixtures_dir).items():
        mine = ours[name]
        if (mine["displayNodeName"], mine["category"]) != (
            reference.get("displayNodeName") or name,
            reference["category"],
        ):
            mismatches.append((name, "display/category", mine["displayNodeName"], mine["category"]))
        my_ports = {(p["name"], p["plug"]): p for p in mine["ports"]}
        for port in reference.get("ports", []):
            found = my_ports.get((port["name"], port["plug"]))
            if found is None:
                mismatches.append((name, port["name"], "missing"))
            elif _type_name(found["type"]) != _type_name(port["type"]):
                mismatches.append((name, port["name"], _type_name(found["type"]), _type_name(port["type"])))
            elif "default" in port and found.get("default") != port["default"]:
                mismatches.append((name, port["name"], found.get("default"), port["default"]))

    assert mismatches == []


def test_library_is_plain_json() -> None:
    assert json.loads(json.dumps(node_library())) == node_library()
