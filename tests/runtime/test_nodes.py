"""Each pure node type in a small graph, with the answers the real runtime's rules give (spec §6, §12)."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from sidecar.runtime.objects import new_object_id
from tests.runtime.graphs import conn, node, response_node, run_graph

SEND = conn("req", "receive", "resp", "send")
# Sends the Response a frame after the request: every value computed from the request is in it.
LATER = node("later", "Workflow Wait", {"duration": 0})
SEND_LATER = [conn("req", "receive", "later", "run"), conn("later", "done", "resp", "send")]


def result(**values: Any) -> tuple[int, str]:
    return 200, json.dumps({"result": values}, separators=(",", ":"), ensure_ascii=False)


async def test_condition_with_evaluate_connected_uses_the_settled_input() -> None:
    nodes = [
        node("c", "Condition"),
        response_node("yes", **{"pm-branch": "yes"}),
        response_node("no", **{"pm-branch": "no"}),
    ]
    connections = [
        conn("req", "pm-flag", "c", "condition"),
        conn("req", "receive", "c", "eval"),
        conn("c", "ontrue", "yes", "send"),
        conn("c", "onfalse", "no", "send"),
    ]
    assert await run_graph(nodes, connections, {"flag": True}) == result(branch="yes")
    assert await run_graph(nodes, connections, {"flag": 0}) == result(branch="no")


async def test_and_counts_only_the_inputs_that_were_set_and_or_starts_false() -> None:
    nodes = [node("and", "And"), node("or", "Or"), response_node()]
    connections = [
        conn("req", "pm-a", "and", "input 0"),
        conn("req", "pm-b", "and", "input 1"),
        conn("req", "pm-a", "or", "input 0"),
        conn("and", "result", "resp", "pm-and"),
        conn("or", "result", "resp", "pm-or"),
        SEND,
    ]
    assert await run_graph(nodes, connections, {"a": True}) == result(**{"or": True})
    assert await run_graph(nodes, connections, {"a": "", "b": 1}) == result(**{"or": False})
    later = [LATER, *nodes]
    answer = await run_graph(later, [*connections[:-1], *SEND_LATER], {"a": True})
    assert answer == result(**{"or": True, "and": True})
    answer = await run_graph(later, [*connections[:-1], *SEND_LATER], {"a": "", "b": 1})
    assert answer == result(**{"or": False, "and": False})


async def test_a_response_sends_what_it_holds_when_send_turns_true() -> None:
    # Or's result (false) reaches the Response when the connection is made, so its name is queued
    # before Send; And's result is undefined then, so its first value is queued behind Send and
    # the body, written the moment Send is set, does not have it (rule: send is processed at once).
    nodes = [node("and", "And"), node("or", "Or"), response_node()]
    connections = [
        conn("req", "pm-a", "and", "input 0"),
        conn("req", "pm-a", "or", "input 0"),
        conn("and", "result", "resp", "pm-and"),
        conn("or", "result", "resp", "pm-or"),
        SEND,
    ]
    assert await run_graph(nodes, connections, {"a": 1}) == result(**{"or": True})


async def test_only_the_first_of_several_values_sent_in_one_frame_reaches_the_response() -> None:
    # And flips true then false while the Request's parameters arrive; the Response drains one
    # value per input per sweep, so the body sent in that sweep holds only the first.
    nodes = [node("and", "And"), node("or", "Or", {"input 0": False}), response_node()]
    connections = [
        conn("req", "pm-a", "and", "input 0"),
        conn("req", "pm-b", "and", "input 1"),
        conn("or", "result", "resp", "pm-and"),  # queues pm-and ahead of Send when the scope is built
        conn("and", "result", "resp", "pm-and"),
        SEND,
    ]
    assert await run_graph(nodes, connections, {"a": 1, "b": ""}) == result(**{"and": True})


async def test_inverter_passes_undefined_through() -> None:
    nodes = [node("inv", "Inverter"), response_node()]
    connections = [conn("req", "pm-v", "inv", "value"), conn("inv", "result", "resp", "pm-inverted")]
    # Inverter's result is undefined when the connection is made: a Response sent in the request's
    # frame goes out before the inverted value reaches it.
    assert await run_graph(nodes, [*connections, SEND], {"v": False}) == result()
    later = ([LATER, *nodes], [*connections, *SEND_LATER])
    assert await run_graph(*later, {"v": False}) == result(inverted=True)
    assert await run_graph(*later, {}) == result()


async def test_variables_store_on_set_and_cast_like_javascript() -> None:
    nodes = [
        node("num", "Number"),
        node("str", "String", {"value": "abc"}),
        node("bool", "Boolean"),
        response_node(),
    ]
    connections = [
        conn("req", "pm-n", "num", "value"),
        conn("req", "pm-s", "bool", "value"),
        conn("req", "receive", "str", "saveValue"),
        conn("num", "savedValue", "resp", "pm-n"),
        conn("str", "savedValue", "resp", "pm-s"),
        conn("str", "length", "resp", "pm-length"),
        conn("bool", "savedValue", "resp", "pm-b"),
        SEND,
    ]
    # With Set connected the value parameter is only pending; Set stores it (spec §12.8).
    status, body = await run_graph(nodes, connections, {"n": " 42 ", "s": "x"})
    assert (status, body) == result(n=42, s="abc", length=3, b=True)


async def test_string_format_replaces_left_to_right_with_replace_patterns() -> None:
    nodes = [node("fmt", "String Format", {"format": "{a}-{b}-{a}"}), response_node()]
    connections = [
        conn("req", "pm-a", "fmt", "a"),
        conn("req", "pm-b", "fmt", "b"),
        conn("fmt", "formatted", "resp", "pm-text"),
        SEND,
    ]
    assert await run_graph(nodes, connections, {"a": 1, "b": "$'"}) == result(text="1--1-{a}")


async def test_substring_counts_utf16_units_and_end_zero_is_empty() -> None:
    nodes = [node("sub", "Substring", {"start": 1}), node("empty", "Substring", {"end": 0}), response_node()]
    connections = [
        conn("req", "pm-s", "sub", "string"),
        conn("req", "pm-s", "empty", "string"),
        conn("sub", "result", "resp", "pm-tail"),
        conn("empty", "result", "resp", "pm-none"),
        SEND,
    ]
    assert await run_graph(nodes, connections, {"s": "a😀b"}) == result(tail="😀b", none="")
    # Start 2 lands inside the surrogate pair: the lone half is escaped as JSON.stringify does.
    nodes[0] = node("sub", "Substring", {"start": 2})
    assert await run_graph(nodes, connections, {"s": "a😀b"}) == (
        200,
        '{"result":{"tail":"\\ude00b","none":""}}',
    )


async def test_string_mapper_maps_by_index_or_default() -> None:
    mapper = node(
        "map",
        "String Mapper",
        {"input 0": "a", "output 0": "Alpha", "input 1": "b", "output 1": "Beta", "defaultMapping": "?"},
    )
    nodes = [mapper, response_node()]
    connections = [
        conn("req", "pm-key", "map", "inputString"),
        conn("map", "mappedString", "resp", "pm-mapped"),
        SEND,
    ]
    assert await run_graph(nodes, connections, {"key": "b"}) == result(mapped="Beta")
    assert await run_graph(nodes, connections, {"key": "z"}) == result(mapped="?")


async def test_boolean_to_string_and_date_to_string() -> None:
    nodes = [
        node("b2s", "Boolean To String", {"trueString": "on", "falseString": "off"}),
        node("d2s", "Date To String", {"formatString": "{year}/{month}/{date} {monthShort}"}),
        response_node(),
        LATER,
    ]
    connections = [
        conn("req", "pm-flag", "b2s", "input"),
        conn("req", "pm-when", "d2s", "input"),
        conn("b2s", "currentValue", "resp", "pm-state"),
        conn("d2s", "currentValue", "resp", "pm-day"),
        *SEND_LATER,
    ]
    assert await run_graph(nodes, connections, {"flag": 1, "when": "2024-03-09"}) == result(
        state="on", day="2024/03/09 Mar"
    )
    # A numeric timestamp is not a date string: Date To String gives "".
    assert await run_graph(nodes, connections, {"flag": 0, "when": 1700000000000}) == result(
        state="off", day=""
    )


async def test_counter_steps_clamps_and_reset_always_reports() -> None:
    nodes = [
        node("count", "Counter", {"startValue": 5, "limitsEnabled": True, "limitsMin": 0, "limitsMax": 6}),
        response_node(),
    ]
    connections = [
        conn("req", "receive", "count", "increase"),
        conn("req", "receive", "count", "increase"),
        conn("count", "currentCount", "resp", "pm-count"),
        SEND,
    ]
    assert await run_graph(nodes, connections) == result(count=6)


async def test_unique_id_is_ten_alphanumerics() -> None:
    nodes = [node("uid", "Unique Id"), response_node()]
    connections = [conn("uid", "guid", "resp", "pm-id"), SEND]
    status, body = await run_graph(nodes, connections)
    guid = json.loads(body)["result"]["id"]
    assert status == 200
    assert len(guid) == 10
    assert guid.isalnum()


def test_object_ids_never_repeat_and_use_every_character_equally() -> None:
    ids = [new_object_id() for _ in range(100_000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == 10 and i.isascii() and i.isalnum() for i in ids)
    counts = Counter("".join(ids))
    assert len(counts) == 62
    expected = 1_000_000 / 62
    chi_square = sum((count - expected) ** 2 / expected for count in counts.values())
    assert chi_square < 200  # 61 degrees of freedom: a fair draw stays under 200 all but ~1e-15 of the time


async def test_objects_are_request_scoped_and_typed_defaults_come_first() -> None:
    nodes = [
        node("new", "NewModel", {"properties": "title,done", "type-done": "boolean"}),
        node("set", "SetModelProperties", {"properties": "title"}),
        node("obj", "Model2"),
        response_node(),
        LATER,
    ]
    connections = [
        conn("req", "pm-title", "new", "prop-title"),
        conn("req", "receive", "new", "new"),
        conn("new", "id", "set", "modelId"),
        conn("req", "pm-title2", "set", "prop-title"),
        conn("new", "created", "set", "store"),
        conn("new", "id", "obj", "modelId"),
        conn("obj", "prop-title", "resp", "pm-title"),
        conn("obj", "prop-done", "resp", "pm-done"),
        conn("set", "stored", "later", "run"),
        conn("later", "done", "resp", "send"),
    ]
    status, body = await run_graph(nodes, connections, {"title": "first", "title2": "second"})
    # The typed property without a value gets its default and comes first (spec §12.13).
    assert (status, body) == result(done=False, title="second")


EVERY_TOKEN = "{yearShort}/{month}/{date} {monthShort} {hours}:{minutes}"


async def test_date_to_string_reads_date_strings_as_javascript_does_and_knows_every_token() -> None:
    # Local times (no offset in the string) print the same whatever the machine's zone.
    nodes = [
        node("d2s", "Date To String", {"formatString": EVERY_TOKEN}),
        response_node(),
        LATER,
    ]
    connections = [
        conn("req", "pm-when", "d2s", "input"),
        conn("d2s", "currentValue", "resp", "pm-day"),
        *SEND_LATER,
    ]
    for when, shown in [
        ("March 9, 2024 4:05 PM", "24/03/09 Mar 16:05"),
        ("3/9/2024", "24/03/09 Mar 00:00"),
        ("2024-03-09T10:30", "24/03/09 Mar 10:30"),
        ("2/31/2024", "24/03/02 Mar 00:00"),
        ("not a date", ""),
    ]:
        assert await run_graph(nodes, connections, {"when": when}) == result(day=shown)


async def test_date_to_string_fires_date_changed_for_every_string_even_a_repeated_one() -> None:
    # Noodl makes a new Date of every string it receives, so the same text twice is two changes.
    nodes = [
        node("d2s", "Date To String"),
        node("count", "Counter"),
        node("send", "Workflow Wait", {"duration": 0}),
        response_node(),
    ]
    connections = [
        conn("req", "pm-a", "d2s", "input"),
        conn("req", "receive", "send", "run"),
        conn("d2s", "inputChanged", "count", "increase"),
        conn("count", "currentCount", "resp", "pm-changes"),
        conn("send", "done", "resp", "send"),
        conn("req", "pm-b", "d2s", "input"),
    ]
    assert await run_graph(nodes, connections, {"a": "2024-03-09", "b": "2024-03-09"}) == result(changes=2)
