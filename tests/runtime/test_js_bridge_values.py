"""Values crossing the script bridge: inputs encoded for the engine and outputs handed back."""

from __future__ import annotations

import datetime
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sidecar.runtime import JsEngine, JsLimits, Runtime, make_request
from sidecar.runtime.jsengine import decode_value, encode_value
from sidecar.runtime.objects import Model
from sidecar.runtime.values import UNDEFINED
from tests.runtime.graphs import (
    component,
    conn,
    export,
    function_node,
    request_node,
    response_node,
    scratch_run,
    tagged_function,
)

ENGINE = JsEngine(JsLimits(stretch_seconds=10))


def test_inputs_are_encoded_as_the_prelude_decodes_them_whatever_their_values() -> None:
    referenced: set[str] = set()
    value = {
        "big": 10**30,  # beyond 64 bits: exact digits, as json writes them
        "nan": math.nan,
        "inf": -math.inf,  # no JSON form: tagged, the prelude's decode makes it a number again
        "undefined": UNDEFINED,
        "text": "é\u2028",
        "object": Model("m1", {"a": 1}),
        "list": [1, 2.5, True, None],
    }
    decoded = json.loads(encode_value(value, referenced))
    assert decoded == {
        "big": 10**30,
        "nan": {"__noodlNumber": "NaN"},
        "inf": {"__noodlNumber": "-Infinity"},
        "undefined": None,
        "text": "é\u2028",
        "object": {"__noodlModel": "m1"},
        "list": [1, 2.5, True, None],
    }
    assert referenced == {"m1"}
    assert json.loads(encode_value({1: "one"})) == {"1": "one"}  # keys become text, as in JavaScript
    assert json.loads(encode_value("\ud800")) == "\ud800"  # escaped: JavaScript reads it back exactly
    with pytest.raises(TypeError, match="cannot pass datetime"):
        encode_value({"when": datetime.datetime(2026, 1, 1)})


def test_a_non_finite_number_beside_null_or_undefined_is_still_tagged_at_any_depth() -> None:
    # Values orjson writes whole: a null in the text sends the value to the search for NaN/Infinity.
    value = {"u": UNDEFINED, "n": None, "deep": [{"x": [1, math.nan]}, -math.inf], "ok": 2.5}
    assert json.loads(encode_value(value)) == {
        "u": None,
        "n": None,
        "deep": [{"x": [1, {"__noodlNumber": "NaN"}]}, {"__noodlNumber": "-Infinity"}],
        "ok": 2.5,
    }
    assert json.loads(encode_value({"t": (1.0, math.nan)})) == {"t": [1.0, {"__noodlNumber": "NaN"}]}
    assert encode_value({"UserId": UNDEFINED, "Parameters": {"a": [1.5, None]}}) == (
        '{"UserId":null,"Parameters":{"a":[1.5,null]}}'
    )


def _typed(value: object) -> object:
    """``value`` with every leaf paired with its type (1 and 1.0 differ); NaN as its text."""
    if isinstance(value, dict):
        return {key: _typed(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_typed(item) for item in value]
    return (type(value).__name__, repr(value))


_ENGINE_TEXTS = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()
    | st.text(alphabet=st.characters(codec=None, min_codepoint=0, max_codepoint=0x10FFFF), max_size=6),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner, max_size=4),
    max_leaves=10,
)


@settings(max_examples=400, deadline=None)
@given(_ENGINE_TEXTS, st.booleans())
def test_engine_text_is_read_as_the_json_module_reads_it(value: object, ascii_only: bool) -> None:
    # What comes back from the engine is read by orjson where it reads the text exactly as json does.
    text = json.dumps(value, ensure_ascii=ascii_only)
    assert _typed(decode_value(text, None)) == _typed(json.loads(text))


def test_primitive_outputs_come_back_inside_the_effects_and_others_as_their_own_json() -> None:
    run = scratch_run(ENGINE)
    handle = ENGINE.compile_function(
        "Outputs.n = 1.5; Outputs.i = 1e20; Outputs.s = 'x'; Outputs.b = false; Outputs.z = null;"
        " Outputs.o = {a: [1]}; Outputs.inf = Infinity; Outputs.u = undefined; Outputs.Done();"
    )
    effects = ENGINE.run_function(run, handle, "fn#0", {}, ["Done"])
    ENGINE.release_run(run)
    assert effects.effects == [
        ["put", "fn#0", "n", 1.5],
        ["put", "fn#0", "i", 10**20],  # JSON.stringify writes 1e20 as digits
        ["put", "fn#0", "s", "x"],
        ["put", "fn#0", "b", False],
        ["put", "fn#0", "z", None],
        ["set", "fn#0", "o", '{"a":[1]}'],
        ["set", "fn#0", "inf", "Infinity"],
        ["signal", "fn#0", "Done"],
    ]


async def test_outputs_of_every_kind_reach_the_response_as_the_script_set_them() -> None:
    script = (
        "Outputs.n = -0; Outputs.i = 2 ** 53 + 2; Outputs.s = ''; Outputs.z = null;"
        " Outputs.o = {a: [1, {b: 'c'}]}; Outputs.f = 0.1 + 0.2; Outputs.Done();"
    )
    names = ("n", "i", "s", "z", "o", "f")
    graph = export(
        component(
            "f",
            [request_node(), function_node(script, outputs=names), response_node(params=",".join(names))],
            [conn("req", "receive", "fn", "run"), conn("fn", "out-Done", "resp", "send")]
            + [conn("fn", f"out-{name}", "resp", f"pm-{name}") for name in names],
        )
    )
    runtime = Runtime.from_export(graph, timeout_seconds=2.0)
    for _ in range(3):  # the first runs call scripts in a worker, later ones on the loop thread
        response = await runtime.run("f", make_request({}))
        assert response.status_code == 200
        assert json.loads(response.body) == {
            "result": {
                "n": 0,
                "i": 2**53 + 2,
                "s": "",
                "z": None,
                "o": {"a": [1, {"b": "c"}]},
                "f": 0.1 + 0.2,
            }
        }


async def test_long_effects_and_objects_come_back_whole() -> None:
    script = (
        "for (let i = 0; i < 40; i++) console.log('line ' + i + ' ' + 'x'.repeat(1000));"
        " Noodl.Objects['big'].text = 'y'.repeat(50000);"
        " Outputs.out = Noodl.Objects['big'].text.length + ':' + 'z'.repeat(20000); Outputs.Done();"
    )
    runtime = Runtime.from_export(tagged_function("f", script), timeout_seconds=2.0)
    for _ in range(3):
        response = await runtime.run("f", make_request({"tag": 1}))
        assert response.status_code == 200
        assert json.loads(response.body) == {"result": {"out": "50000:" + "z" * 20000}}


def test_an_expression_may_answer_a_long_string() -> None:
    run = scratch_run(ENGINE)
    handle = ENGINE.compile_expression("a.repeat(100000)", ("a",))
    assert ENGINE.call_expression(run, handle, ["xy"]) == "xy" * 100000
    logged = ENGINE.compile_expression("(console.log(a), a.repeat(100000))", ("a",))
    assert ENGINE.call_expression(run, logged, ["xy"]) == "xy" * 100000
    ENGINE.release_run(run)
