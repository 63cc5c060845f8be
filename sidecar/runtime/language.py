"""One language per workflow: which language a workflow is written in, and which nodes it may hold.

A workflow (a cloud component) carries ``language``: ``"javascript"`` (the default) or ``"python"``,
read from the component's ``metadata`` in the export, else from the export's own ``metadata`` (a
whole export written in one language). A node type declares its language with ``Node.LANGUAGE``:
the code nodes of each language (JavaScript Function, Expression and REST; the Python Function,
Expression and core Python nodes) belong to it, every other node to both. A deploy holding nodes of
the other language is refused with their ids (``deploy_check``); loading stays tolerant.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sidecar.runtime.export import ComponentDef, ExportDef
from sidecar.runtime.node import Node

JAVASCRIPT = "javascript"
PYTHON = "python"
LANGUAGES = (JAVASCRIPT, PYTHON)
DEFAULT_LANGUAGE = JAVASCRIPT
_LABELS = {JAVASCRIPT: "JavaScript", PYTHON: "Python"}


def declared_language(export: ExportDef, component: ComponentDef) -> Any:
    """What the export says, unchecked: the component's ``metadata.language``, else the export's."""
    for metadata in (component.metadata, export.metadata):
        if "language" in metadata:
            return metadata["language"]
    return DEFAULT_LANGUAGE


def workflow_language(export: ExportDef, component: ComponentDef) -> str:
    """The workflow's language; an unknown value runs as the default (a deploy refuses it)."""
    declared = declared_language(export, component)
    return declared if declared in LANGUAGES else DEFAULT_LANGUAGE


def allowed_in(node_class: type[Node], language: str) -> bool:
    return node_class.LANGUAGE is None or language == node_class.LANGUAGE


def classes_for(classes: Iterable[type[Node]], language: str | None) -> list[type[Node]]:
    """The node types a workflow of ``language`` may use; all of them for None."""
    return [cls for cls in classes if language is None or allowed_in(cls, language)]


def mixing_problem(node_class: type[Node], language: str) -> str | None:
    """Why a node of ``node_class`` may not be in a ``language`` workflow, or None when it may."""
    if allowed_in(node_class, language):
        return None
    own = _LABELS.get(node_class.LANGUAGE or "", node_class.LANGUAGE)
    return (
        f"a {node_class.TYPE!r} node is {own} code in a {_LABELS[language]} workflow: "
        "one language per workflow (set the workflow's language or use the "
        f"{_LABELS[language]} nodes)"
    )


def language_problem(export: ExportDef, component: ComponentDef) -> str | None:
    declared = declared_language(export, component)
    if declared in LANGUAGES:
        return None
    return f"unknown language {declared!r}: a workflow is {' or '.join(repr(name) for name in LANGUAGES)}"


def function_languages(export: ExportDef) -> Mapping[str, str]:
    """Every cloud component's language, by component name."""
    return {name: workflow_language(export, component) for name, component in export.components.items()}
