"""Write the generated parts of ``docs/``: the protocol's method, notification and error
tables and the node reference, straight from the code so they cannot drift.

    scripts/gen-docs           # rewrite the generated sections in docs/*.md
    scripts/gen-docs --check   # exit 1 if a generated section is stale

A generated section sits between ``<!-- BEGIN GENERATED: name -->`` and
``<!-- END GENERATED: name -->`` lines; everything outside the markers is written by hand
and left alone.
"""

from __future__ import annotations

import argparse
import importlib
import json
import re
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ipc_schema.catalog import Direction
from ipc_schema.generate import _ts, build_schema
from sidecar import errors

DOCS_DIR = Path(__file__).resolve().parent.parent / "docs"
_BEGIN = "<!-- BEGIN GENERATED: {name} (scripts/gen-docs; do not edit by hand) -->"
_END = "<!-- END GENERATED: {name} -->"


# ---- protocol.md ----------------------------------------------------------------------


def _cell(text: str) -> str:
    """Markdown table cell: one line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _code(text: str) -> str:
    return f"`{_cell(text)}`" if text else ""


def methods_table() -> str:
    schema = build_schema()
    rows = [
        "| method | params (argument array) | result | what it does |",
        "|---|---|---|---|",
    ]
    for name, method in schema["methods"].items():
        doc = method["description"]
        if method["diagnostic"]:
            doc += " (only with `NOODL_SIDECAR_DIAGNOSTICS=1`)"
        params = _ts(method["params"])
        rows.append(f"| `{name}` | {_code(params)} | {_code(_ts(method['result']))} | {_cell(doc)} |")
    return "\n".join(rows)


def notifications_table() -> str:
    schema = build_schema()
    rows = ["| notification | direction | params | meaning |", "|---|---|---|---|"]
    for name, note in schema["notifications"].items():
        to_sidecar = note["direction"] == Direction.TO_SIDECAR.value
        direction = "editor → sidecar" if to_sidecar else "sidecar → editor"
        rows.append(
            f"| `{name}` | {direction} | {_code(_ts(note['params']))} | {_cell(note['description'])} |"
        )
    return "\n".join(rows)


# Modules that define errors of their own besides sidecar/errors.py (listed, not discovered, so
# the table does not depend on what else happens to be imported).
_ERROR_MODULES = (
    "sidecar.errors",
    "sidecar.backends.registry",
    "sidecar.backends.manager",
    "sidecar.backends.backend",
    "sidecar.backends.workflows",
)


def _error_classes() -> Iterator[tuple[int, type[errors.SidecarError]]]:
    for module in _ERROR_MODULES:
        importlib.import_module(module)

    def walk(cls: type[errors.SidecarError], depth: int) -> Iterator[tuple[int, type[errors.SidecarError]]]:
        yield depth, cls
        for sub in sorted(cls.__subclasses__(), key=lambda c: c.__name__):
            if sub.__module__ in _ERROR_MODULES:
                yield from walk(sub, depth + 1)

    return walk(errors.SidecarError, 0)


def _tree_notes() -> dict[str, str]:
    """The one-line notes of the error tree in ``sidecar/errors.py``'s docstring, by class name."""
    notes: dict[str, str] = {}
    for line in (errors.__doc__ or "").splitlines():
        match = _TREE_LINE.search(line)
        if match:
            notes[match["name"]] = match["note"].strip()
    return notes


_TREE_LINE = re.compile(
    r"(?P<name>\w+Error)(?: \(\w+\))?\s+(?:-?\d+(?: / \d+)?\s*)?(?:\(HTTP \d+\)\s*)?(?P<note>.*)$"
)


def errors_table() -> str:
    rows = [
        "| error | msgpack-RPC code | HTTP status | Parse code | when |",
        "|---|---|---|---|---|",
    ]
    for depth, cls in _error_classes():
        parse_code = getattr(cls, "parse_code", None)
        doc = _tree_notes().get(cls.__name__) or (cls.__doc__ or "").strip().split("\n\n")[0]
        indent = "· " * depth
        rows.append(
            f"| {indent}`{cls.__name__}` | {cls.rpc_code} | {cls.http_status} | "
            f"{'' if parse_code is None else parse_code} | {_cell(doc)} |"
        )
    return "\n".join(rows)


# ---- http-api.md ----------------------------------------------------------------------

_ACCESS = {
    "public": "none",
    "app": "application id",
    "master": "master key (admin token)",
}


def parse_routes_table() -> str:
    from sidecar.web.app import ROUTES

    # /batch is added by the door itself (it routes its items through the same table).
    found = [(route.method, route.pattern, route.access.value) for route in ROUTES]
    found.append(("POST", "/batch", "app"))
    rows = ["| method | path | credential needed |", "|---|---|---|"]
    for method, pattern, access in sorted(found, key=lambda r: (r[1].split("/")[1], r[1], r[0])):
        rows.append(f"| {method} | `{pattern}` | {_ACCESS[access]} |")
    return "\n".join(rows)


_AIOHTTP_ROUTE = re.compile(r"web\.(get|post|put|delete|patch)\(\s*\"(/[^\"]*)\",\s*([\w.]+)")


def other_routes_table() -> str:
    """The routes mounted beside the Parse door, read from their ``web.get("/…", handler)`` lines."""
    package = Path(__file__).resolve().parent
    found: set[tuple[str, str, str, str]] = set()
    for path in sorted(package.rglob("*.py")):
        if path.name == "docgen.py":
            continue
        for method, route, handler in _AIOHTTP_ROUTE.findall(path.read_text(encoding="utf-8")):
            pattern = re.sub(r"\{(\w+)\}", r":\1", route)
            action = handler.rsplit(".", 1)[-1].strip("_").replace("_", " ")
            found.add((pattern, method.upper(), action, path.relative_to(package.parent).as_posix()))
    rows = ["| method | path | handler | defined in |", "|---|---|---|---|"]
    for pattern, method, action, where in sorted(found):
        rows.append(f"| {method} | `{pattern}` | {action} | `{where}` |")
    return "\n".join(rows)


# ---- nodes.md -------------------------------------------------------------------------


def _port_type(value: Any) -> str:
    if isinstance(value, dict):
        name = str(value.get("name", "object"))
        enums = value.get("enums")
        if isinstance(enums, list) and enums:
            values = ", ".join(json.dumps(item.get("value")) for item in enums if isinstance(item, dict))
            return f"{name} ({values})"
        return name
    return str(value)


def _port_default(port: dict[str, Any]) -> str:
    if "default" not in port:
        return ""
    return _code(json.dumps(port["default"], ensure_ascii=False))


def nodes_reference() -> str:
    from sidecar.runtime.library import node_library

    library = sorted(node_library(), key=lambda node: (node["category"], node["name"]))
    out = [f"{len(library)} node types.", ""]
    category = None
    for node in library:
        if node["category"] != category:
            category = node["category"]
            out += [f"### {category}", ""]
        title = node["name"]
        if node["displayNodeName"] != node["name"]:
            title += f" ({node['displayNodeName']})"
        out += [f"#### {title}", ""]
        if node.get("docs"):
            out += [" ".join(str(node["docs"]).split()), ""]
        ports = node["ports"]
        if not ports:
            out += ["No static ports (ports come from the component or the node's settings).", ""]
            continue
        out += ["| port | direction | type | default | group |", "|---|---|---|---|---|"]
        for port in ports:
            label = f"`{port['name']}`"
            if port.get("displayName") not in (None, port["name"]):
                label += f" ({_cell(str(port['displayName']))})"
            out.append(
                f"| {label} | {port['plug']} | {_cell(_port_type(port['type']))} | "
                f"{_port_default(port)} | {_cell(str(port.get('group') or ''))} |"
            )
        out.append("")
    return "\n".join(out).rstrip()


# ---- sections -------------------------------------------------------------------------

SECTIONS: dict[str, tuple[str, Callable[[], str]]] = {
    "methods": ("protocol.md", methods_table),
    "notifications": ("protocol.md", notifications_table),
    "errors": ("protocol.md", errors_table),
    "parse-routes": ("http-api.md", parse_routes_table),
    "other-routes": ("http-api.md", other_routes_table),
    "nodes": ("nodes.md", nodes_reference),
}


def _replace(text: str, name: str, body: str) -> str:
    begin, end = _BEGIN.format(name=name), _END.format(name=name)
    pattern = re.compile(re.escape(begin) + r"\n.*?" + re.escape(end), re.DOTALL)
    if not pattern.search(text):
        raise ValueError(f"markers for generated section {name!r} not found")
    return pattern.sub(lambda _match: f"{begin}\n{body}\n{end}", text, count=1)


def render(docs_dir: Path = DOCS_DIR) -> dict[Path, str]:
    """Every docs file with a generated section, as it should read now."""
    files: dict[Path, str] = {}
    for name, (filename, build) in SECTIONS.items():
        path = docs_dir / filename
        current = files.get(path) or path.read_text(encoding="utf-8")
        files[path] = _replace(current, name, build())
    return files


def stale_files(docs_dir: Path = DOCS_DIR) -> list[str]:
    """Names of the docs files whose generated sections differ from what the code says."""
    return sorted(
        path.name for path, text in render(docs_dir).items() if path.read_text(encoding="utf-8") != text
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Rewrite the generated sections of docs/*.md.")
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated section is stale")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files()
        if stale:
            sys.stderr.write(f"stale: {', '.join('docs/' + name for name in stale)}; run scripts/gen-docs\n")
            return 1
        return 0
    for path, text in render().items():
        if path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
