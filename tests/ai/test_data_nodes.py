"""Prompt Template, Chat Memory, Embeddings and Vector Store nodes in a running backend."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from sidecar.ai.vectors import VectorStore, VectorStoreError
from sidecar.backends.backend import Backend
from tests.ai.conftest import OPENAI_KEY, call, one_node_function
from tests.ai.vendor_servers import VendorServer, text_vector


def deploy(
    backend: Backend,
    node_type: str,
    parameters: dict[str, Any],
    inputs: tuple[str, ...],
    outputs: tuple[str, ...],
) -> None:
    backend.workflows.deploy("f", one_node_function("f", node_type, parameters, inputs, outputs))


async def test_prompt_template_fills_variables(backend: Backend) -> None:
    template = (
        "Hello {{ name }}! You have {{ items | length }} items:{% for i in items %} {{ i }}{% endfor %}."
    )
    deploy(backend, "noodl.ai.promptTemplate", {"template": template}, ("variables",), ("prompt",))

    status, body, _ = await call(backend, "f", {"variables": {"name": "Ada", "items": ["a", "b"]}})

    assert status == 200
    assert body["result"]["prompt"] == "Hello Ada! You have 2 items: a b."


async def test_prompt_template_names_a_missing_variable(backend: Backend) -> None:
    deploy(
        backend,
        "noodl.ai.promptTemplate",
        {"template": "Dear {{ title }} {{ name }}"},
        ("variables",),
        ("prompt",),
    )

    status, body, _ = await call(backend, "f", {"variables": {"name": "Ada"}})

    assert status == 400
    assert body["error"] == "missing template variable: 'title' is undefined"


async def test_prompt_templates_cannot_reach_python_internals(backend: Backend) -> None:
    escape = "{{ ''.__class__.__mro__[1].__subclasses__() }}"
    deploy(backend, "noodl.ai.promptTemplate", {"template": escape}, ("variables",), ("prompt",))

    status, body, _ = await call(backend, "f", {"variables": {}})

    assert status == 400
    assert "template" in body["error"]


async def test_chat_memory_keeps_threads_apart_and_windows_them(backend: Backend) -> None:
    deploy(
        backend,
        "noodl.ai.chatMemory",
        {"maxMessages": 3},
        ("threadId", "action", "messages"),
        ("messages", "count"),
    )
    turns = [{"role": "user", "content": f"m{i}"} for i in range(5)]

    for turn in turns:
        status, _, _ = await call(backend, "f", {"threadId": "t1", "action": "append", "messages": [turn]})
        assert status == 200
    await call(
        backend,
        "f",
        {"threadId": "t2", "action": "append", "messages": [{"role": "user", "content": "other"}]},
    )
    _, first, _ = await call(backend, "f", {"threadId": "t1", "action": "load"})
    _, second, _ = await call(backend, "f", {"threadId": "t2", "action": "load"})

    assert first["result"]["messages"] == turns[2:]
    assert second["result"]["messages"] == [{"role": "user", "content": "other"}]
    await call(backend, "f", {"threadId": "t1", "action": "clear"})
    _, cleared, _ = await call(backend, "f", {"threadId": "t1", "action": "load"})
    assert cleared["result"] == {"messages": [], "count": 0}


async def test_chat_memory_survives_a_restart_and_honours_a_token_window(
    tmp_path: Path, backend: Backend
) -> None:
    deploy(
        backend, "noodl.ai.chatMemory", {"maxTokens": 6}, ("threadId", "action", "messages"), ("messages",)
    )
    long_turn = {"role": "user", "content": "x" * 40}  # ~10 tokens: outside a 6-token window
    short_turns = [{"role": "assistant", "content": "ok"}, {"role": "user", "content": "fine"}]
    await call(backend, "f", {"threadId": "t", "action": "append", "messages": [long_turn, *short_turns]})
    await backend.stop()
    await backend.start()

    _, body, _ = await call(backend, "f", {"threadId": "t", "action": "load"})

    assert body["result"]["messages"] == short_turns


async def test_embeddings_node_sends_texts_and_returns_vectors(
    backend: Backend, vendor: VendorServer
) -> None:
    settings = {"credential": "gpt", "baseUrl": vendor.base_url, "dimensions": 16}
    deploy(backend, "noodl.ai.embeddings", settings, ("input",), ("embeddings", "embedding", "usage"))

    status, body, _ = await call(backend, "f", {"input": ["first text", "second one"]})

    assert status == 200
    first, second = body["result"]["embeddings"]
    assert first == pytest.approx(text_vector("first text", 16))
    assert second == pytest.approx(text_vector("second one", 16))
    assert body["result"]["embedding"] == pytest.approx(text_vector("first text", 16))
    assert body["result"]["usage"] == {"inputTokens": 4, "outputTokens": 0}
    sent = vendor.requests[0]
    assert sent.path == "/v1/embeddings"
    assert sent.body["input"] == ["first text", "second one"]
    assert sent.body["dimensions"] == 16
    assert sent.body["model"] == "text-embedding-3-small"
    assert sent.headers["authorization"] == f"Bearer {OPENAI_KEY}"


async def test_vector_store_node_upserts_queries_with_a_filter_and_deletes(backend: Backend) -> None:
    deploy(
        backend,
        "noodl.ai.vectorStore",
        {"collection": "docs"},
        ("action", "items", "vector", "topK", "filter", "ids"),
        ("results", "count"),
    )
    items = [
        {"id": "a", "vector": [1.0, 0.0, 0.0], "metadata": {"lang": "en", "year": 2020}},
        {"id": "b", "vector": [0.9, 0.1, 0.0], "metadata": {"lang": "fr", "year": 2021}},
        {"id": "c", "vector": [0.0, 1.0, 0.0], "metadata": {"lang": "en", "year": 2022}},
    ]
    _, upserted, _ = await call(backend, "f", {"action": "upsert", "items": items})
    _, nearest, _ = await call(backend, "f", {"action": "query", "vector": [1, 0, 0], "topK": 2})
    _, english, _ = await call(
        backend,
        "f",
        {"action": "query", "vector": [1, 0, 0], "topK": 5, "filter": {"lang": "en", "year": {"$gte": 2021}}},
    )
    _, deleted, _ = await call(backend, "f", {"action": "delete", "ids": ["a"]})
    _, after, _ = await call(backend, "f", {"action": "query", "vector": [1, 0, 0], "topK": 1})

    assert upserted["result"]["count"] == 3
    assert [hit["id"] for hit in nearest["result"]["results"]] == ["a", "b"]
    assert nearest["result"]["results"][0]["score"] == pytest.approx(1.0)
    assert nearest["result"]["results"][0]["metadata"] == {"lang": "en", "year": 2020}
    assert [hit["id"] for hit in english["result"]["results"]] == ["c"]
    assert deleted["result"]["count"] == 1
    assert [hit["id"] for hit in after["result"]["results"]] == ["b"]


async def test_vector_store_refuses_wrong_dimensions_clearly(backend: Backend) -> None:
    deploy(
        backend, "noodl.ai.vectorStore", {"collection": "docs"}, ("action", "items", "vector"), ("results",)
    )
    await call(backend, "f", {"action": "upsert", "items": [{"id": "a", "vector": [1, 0, 0]}]})

    status, body, _ = await call(backend, "f", {"action": "query", "vector": [1, 0]})

    assert status == 400
    assert body["error"] == "the query vector has 2 dimensions; collection 'docs' holds 3"


async def test_l2_collections_rank_by_euclidean_distance(tmp_path: Path) -> None:
    store = VectorStore(tmp_path)
    await store.upsert("points", [{"id": "near", "vector": [1, 1]}, {"id": "far", "vector": [10, 10]}], "l2")

    hits = await store.query("points", [0, 0], 2)

    assert [hit["id"] for hit in hits] == ["near", "far"]
    assert hits[0]["distance"] == pytest.approx(2**0.5)
    with pytest.raises(VectorStoreError, match="unknown filter operator"):
        await store.query("points", [0, 0], 2, {"x": {"$regex": "a"}})


async def test_a_loaded_collection_follows_upserts_and_deletes_without_reloading(tmp_path: Path) -> None:
    store = VectorStore(tmp_path)
    await store.upsert("c", [{"id": "a", "vector": [1, 0]}, {"id": "b", "vector": [0, 1]}])
    assert [hit["id"] for hit in await store.query("c", [1, 0], 1)] == ["a"]  # loads the collection

    await store.upsert(
        "c", [{"id": "a", "vector": [0, 1], "metadata": {"k": 1}}, {"id": "n", "vector": [1, 0.1]}]
    )
    assert [hit["id"] for hit in await store.query("c", [1, 0], 1)] == ["n"]
    assert [hit["id"] for hit in await store.query("c", [0, 1], 3, {"k": 1})] == ["a"]
    await store.delete("c", ["n"])
    assert sorted(hit["id"] for hit in await store.query("c", [1, 0], 3)) == ["a", "b"]

    reopened = VectorStore(tmp_path)  # what is on disk matches what the first store held in memory
    assert sorted(hit["id"] for hit in await reopened.query("c", [1, 0], 3)) == ["a", "b"]
    assert [hit["id"] for hit in await reopened.query("c", [0, 1], 3, {"k": 1})] == ["a"]
