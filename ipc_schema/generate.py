"""Write the protocol's JSON Schema and TypeScript declarations from the catalog.

    python -m ipc_schema.generate          # rewrite ipc_schema/generated/*
    python -m ipc_schema.generate --check  # exit 1 if the committed files are stale

Params are argument arrays, so each method's params schema is an array with
``prefixItems`` (one per argument) and the TypeScript type a labelled tuple.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import JsonSchemaMode

from ipc_schema.base import PositionalParams
from ipc_schema.catalog import METHODS, NOTIFICATIONS, Direction
from ipc_schema.lifecycle import PROTOCOL_VERSION

GENERATED_DIR = Path(__file__).parent / "generated"
SCHEMA_FILE = "schema.json"
TYPESCRIPT_FILE = "protocol.d.ts"
_REF = "#/$defs/{model}"


class _SchemaBuilder:
    def __init__(self) -> None:
        self.defs: dict[str, Any] = {}

    def of(self, annotation: Any, mode: JsonSchemaMode) -> dict[str, Any]:
        if annotation is None:
            return {"type": "null"}
        schema = TypeAdapter(annotation).json_schema(ref_template=_REF, mode=mode, by_alias=True)
        for name, definition in schema.pop("$defs", {}).items():
            self.defs.setdefault(name, definition)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            # Name every model, so the editor's TypeScript can refer to it.
            self.defs.setdefault(annotation.__name__, schema)
            return {"$ref": _REF.format(model=annotation.__name__)}
        return schema

    def params(self, model: type[PositionalParams]) -> dict[str, Any]:
        items = []
        required = 0
        for index, (name, field) in enumerate(model.model_fields.items()):
            item = self.of(field.annotation, "validation")
            item["title"] = name
            if field.description:
                item["description"] = field.description
            items.append(item)
            if field.is_required():
                required = index + 1
        schema: dict[str, Any] = {"type": "array", "minItems": required, "maxItems": len(items)}
        if items:
            schema["prefixItems"] = items
        schema["items"] = False
        return schema


def build_schema() -> dict[str, Any]:
    builder = _SchemaBuilder()
    methods = {
        spec.name: {
            "description": spec.doc,
            "diagnostic": spec.diagnostic,
            "params": builder.params(spec.params),
            "result": builder.of(spec.result, "serialization"),
        }
        for spec in METHODS
    }
    notifications = {
        spec.name: {
            "description": spec.doc,
            "direction": spec.direction.value,
            "params": builder.params(spec.params),
        }
        for spec in NOTIFICATIONS
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "noodl-sidecar stdio protocol",
        "protocolVersion": PROTOCOL_VERSION,
        "methods": methods,
        "notifications": notifications,
        "$defs": dict(sorted(builder.defs.items())),
    }


# ---- TypeScript ----------------------------------------------------------------------


def _ts(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "const" in schema:
        return json.dumps(schema["const"])
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    for key in ("anyOf", "oneOf"):
        if key in schema:
            return " | ".join(dict.fromkeys(_ts(option) for option in schema[key]))
    kind = schema.get("type")
    if kind == "string":
        return "Uint8Array" if schema.get("format") == "binary" else "string"
    if kind in ("integer", "number"):
        return "number"
    if kind == "boolean":
        return "boolean"
    if kind == "null":
        return "null"
    if kind == "array":
        return _ts_array(schema)
    if kind == "object":
        return _ts_object(schema)
    return "unknown"


def _ts_array(schema: dict[str, Any]) -> str:
    if "prefixItems" in schema:
        required = schema.get("minItems", 0)
        parts = []
        for index, item in enumerate(schema["prefixItems"]):
            label = item.get("title", f"arg{index}")
            optional = "?" if index >= required else ""
            parts.append(f"{_camel(label)}{optional}: {_ts(item)}")
        return f"[{', '.join(parts)}]"
    if schema.get("items") is False:
        return "[]"
    item = _ts(schema.get("items", {}))
    return f"Array<{item}>"


def _ts_object(schema: dict[str, Any], indent: str = "") -> str:
    properties: dict[str, Any] = schema.get("properties", {})
    if not properties:
        extra = schema.get("additionalProperties")
        value = _ts(extra) if isinstance(extra, dict) else "unknown"
        return f"Record<string, {value}>"
    required = set(schema.get("required", []))
    lines = ["{"]
    if schema.get("additionalProperties") is True:
        lines.append(f"{indent}  [key: string]: unknown;")
    for name, prop in properties.items():
        optional = "" if name in required else "?"
        if prop.get("description"):
            lines.append(f"{indent}  /** {prop['description']} */")
        lines.append(
            f"{indent}  {json.dumps(name) if not name.isidentifier() else name}{optional}: {_ts(prop)};"
        )
    lines.append(f"{indent}}}")
    return "\n".join(lines)


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _pascal(name: str) -> str:
    cleaned = name.replace("$/", "").replace(":", "_").replace("-", "_").replace("/", "_")
    return "".join(part[:1].upper() + part[1:] for part in cleaned.split("_"))


def build_typescript(schema: dict[str, Any]) -> str:
    out = [
        "// Generated by `python -m ipc_schema.generate` from ipc_schema/; do not edit by hand.",
        "// msgpack-RPC over stdio: request [0, id, method, params], response [1, id, error, result],",
        "// notification [2, method, params]. Params are each method's argument array.",
        "",
        f"export declare const PROTOCOL_VERSION: {json.dumps(schema['protocolVersion'])};",
        "",
        "export interface RpcErrorObject {",
        "  code: number;",
        "  message: string;",
        "  data?: unknown;",
        "}",
        "",
    ]
    for name, definition in schema["$defs"].items():
        if definition.get("description"):
            out.append(f"/** {definition['description'].splitlines()[0]} */")
        if definition.get("type") == "object":
            out.append(f"export interface {name} {_ts_object(definition)}")
        else:
            out.append(f"export type {name} = {_ts(definition)};")
        out.append("")
    out.append("/** Requests the editor sends; `params` is the argument array. */")
    out.append("export interface SidecarMethods {")
    for name, method in schema["methods"].items():
        out.append(f"  /** {method['description']} */")
        out.append(
            f"  {json.dumps(name)}: {{ params: {_ts(method['params'])}; result: {_ts(method['result'])} }};"
        )
    out.append("}")
    for direction, title, audience in (
        (Direction.TO_SIDECAR, "SidecarNotifications", "to the sidecar"),
        (Direction.TO_EDITOR, "EditorNotifications", "to the editor"),
    ):
        out.append("")
        out.append(f"/** Notifications sent {audience}. */")
        out.append(f"export interface {title} {{")
        for name, note in schema["notifications"].items():
            if note["direction"] == direction.value:
                out.append(f"  /** {note['description']} */")
                out.append(f"  {json.dumps(name)}: {_ts(note['params'])};")
        out.append("}")
    out.append("")
    out.append("export type SidecarMethodName = keyof SidecarMethods;")
    out.append("")
    return "\n".join(out)


def render() -> dict[str, str]:
    schema = build_schema()
    return {
        SCHEMA_FILE: json.dumps(schema, indent=2, ensure_ascii=False) + "\n",
        TYPESCRIPT_FILE: build_typescript(schema),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="fail if the generated files are stale")
    args = parser.parse_args(argv)
    stale = []
    for name, text in render().items():
        path = GENERATED_DIR / name
        current = path.read_text(encoding="utf-8") if path.exists() else None
        if current == text:
            continue
        if args.check:
            stale.append(name)
        else:
            GENERATED_DIR.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        sys.stderr.write(f"stale: {', '.join(stale)}; run `python -m ipc_schema.generate`\n")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
