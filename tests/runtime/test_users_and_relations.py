"""Session users (Request auth, User, Set User Properties), relations and Noodl.Records writes."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import pytest

from sidecar.backends.records_port import StoreRecordsPort
from sidecar.store import CallerContext, QueryOptions, SqliteRecordStore
from tests.runtime.graphs import component, conn, export, node, response_node, run_graph

MASTER = CallerContext.master()


@pytest.fixture
async def store() -> AsyncIterator[SqliteRecordStore]:
    opened = await SqliteRecordStore.open(None, ephemeral=True)
    yield opened
    await opened.close()


async def _session(store: SqliteRecordStore) -> tuple[str, str]:
    signed = await store.signup({"username": "ada", "password": "pw", "email": "ada@example.test"}, MASTER)
    return signed["objectId"], signed["sessionToken"]


async def test_a_session_token_authenticates_and_the_user_node_reads_the_user(
    store: SqliteRecordStore,
) -> None:
    from sidecar.runtime import Runtime, make_request

    user_id, token = await _session(store)
    graph = export(
        component(
            "me",
            [
                node("req", "noodl.cloud.request"),  # allowNoAuth false: a session is required
                node("user", "net.noodl.user.User"),
                response_node(),
            ],
            [
                conn("req", "receive", "user", "fetch"),
                conn("req", "userId", "resp", "pm-id"),
                conn("user", "username", "resp", "pm-name"),
                conn("user", "fetched", "resp", "send"),
            ],
        )
    )
    runtime = Runtime.from_export(graph, records=StoreRecordsPort(store))

    response = await runtime.run("me", make_request({}, {"x-parse-session-token": token}))
    refused = await runtime.run("me", make_request({}, {"x-parse-session-token": "not-a-session"}))

    assert response.body == json.dumps({"result": {"id": user_id, "name": "ada"}}, separators=(",", ":"))
    assert refused.body == '{"error":"Unauthenticated requests not accepted."}'


async def test_set_user_properties_writes_the_session_user(store: SqliteRecordStore) -> None:
    from sidecar.runtime import Runtime, make_request

    user_id, token = await _session(store)
    graph = export(
        component(
            "rename",
            [
                node("req", "noodl.cloud.request"),
                node("set", "net.noodl.user.SetUserProperties"),
                response_node(),
            ],
            [
                conn("req", "pm-name", "set", "prop-nickname"),
                conn("req", "receive", "set", "store"),
                conn("set", "success", "resp", "send"),
            ],
        )
    )

    response = await Runtime.from_export(graph, records=StoreRecordsPort(store)).run(
        "rename", make_request({"name": "Countess"}, {"x-parse-session-token": token})
    )

    assert response.body == '{"result":{}}'
    assert (await store.fetch("_User", user_id, MASTER))["nickname"] == "Countess"


async def test_add_and_remove_record_relations(store: SqliteRecordStore) -> None:
    post = (await store.create("Post", {"title": "p"}, MASTER)).object_id
    tag = (await store.create("Tag", {"name": "t"}, MASTER)).object_id
    metadata = {
        "dbCollections": [
            {"name": "Post", "schema": {"properties": {"tags": {"type": "Relation", "targetClass": "Tag"}}}}
        ]
    }
    relation = {"collectionName": "Post", "relationProperty": "tags"}
    nodes = [node("add", "AddDbModelRelation", relation), response_node()]
    connections = [
        conn("req", "pm-post", "add", "modelId"),
        conn("req", "pm-tag", "add", "targetId"),
        conn("req", "receive", "add", "store"),
        conn("add", "relationAdded", "resp", "send"),
    ]
    body = {"post": post, "tag": tag}
    port = StoreRecordsPort(store)

    assert await run_graph(nodes, connections, body, records=port, metadata=metadata) == (
        200,
        '{"result":{}}',
    )
    related = QueryOptions(
        where={
            "$relatedTo": {
                "object": {"__type": "Pointer", "className": "Post", "objectId": post},
                "key": "tags",
            }
        }
    )
    assert [r["objectId"] for r in (await store.query("Tag", related, MASTER)).results] == [tag]

    nodes[0] = node("add", "RemoveDbModelRelation", relation)
    connections[-1] = conn("add", "relationRemoved", "resp", "send")
    assert await run_graph(nodes, connections, body, records=port, metadata=metadata) == (
        200,
        '{"result":{}}',
    )
    assert (await store.query("Tag", related, MASTER)).results == []


async def test_scripts_create_save_and_delete_records(store: SqliteRecordStore) -> None:
    script = (
        "const note = await Noodl.Records.create('Note', {text: 'draft'});\n"
        "note.text = 'final';\n"
        "await Noodl.Records.save(note);\n"
        "const again = await Noodl.Records.fetch(note.id, {collection: 'Note'});\n"
        "Outputs.text = again.text;\n"
        "await Noodl.Records.delete(again);\n"
        "Outputs.left = await Noodl.Records.count('Note');\n"
        "Outputs.Done();\n"
    )
    ports = [
        {"name": "out-text", "plug": "output", "type": "*"},
        {"name": "out-left", "plug": "output", "type": "*"},
        {"name": "out-Done", "plug": "output", "type": "signal"},
    ]
    nodes = [node("fn", "JavaScriptFunction", {"functionScript": script}, ports=ports), response_node()]
    connections = [
        conn("req", "receive", "fn", "run"),
        conn("fn", "out-text", "resp", "pm-text"),
        conn("fn", "out-left", "resp", "pm-left"),
        conn("fn", "out-Done", "resp", "send"),
    ]

    assert await run_graph(nodes, connections, records=StoreRecordsPort(store)) == (
        200,
        '{"result":{"text":"final","left":0}}',
    )
