"""Locale-aware JavaScript answers as in the real runner (Node 20 with full ICU, locale en-US, UTC):
`Intl.*`, `toLocaleString`, `localeCompare`. The expected answers were recorded from Node (see
tests/fixtures/README.md); each expression runs inside a Function node of a real run."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sidecar.runtime import Runtime, make_request
from tests.conftest import FIXTURES_DIR
from tests.runtime.graphs import tagged_function

RECORDED = json.loads((FIXTURES_DIR / "node-locale" / "en-us-node20.json").read_text(encoding="utf-8"))

# Evaluates each expression as Node's script did: its String() or the name of the error it threw.
EVALUATE_ALL = """
Outputs.out = Inputs.tag.map(function (source) {
  try { return { ok: String(new Function("return (" + source + ");")()) }; }
  catch (e) { return { error: e.constructor.name }; }
});
Outputs.Done();
"""


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch) -> None:
    import time

    monkeypatch.setenv("TZ", "UTC")  # the recording's zone; new contexts read it
    time.tzset()


async def evaluate(expressions: list[str]) -> list[dict[str, Any]]:
    runtime = Runtime.from_export(tagged_function("locale", EVALUATE_ALL))
    response = await runtime.run("locale", make_request({"tag": expressions}))
    assert response.status_code == 200, response.body
    answers: list[dict[str, Any]] = json.loads(response.body)["result"]["out"]
    return answers


async def test_every_recorded_locale_expression_answers_as_node() -> None:
    expressions = [expression for expression, _ in RECORDED]
    answers = await evaluate(expressions)
    differences = [
        (expression, expected, got)
        for (expression, expected), got in zip(RECORDED, answers, strict=True)
        if expected != got
    ]
    assert differences == []


async def test_a_function_formatting_money_and_dates_answers_instead_of_hanging() -> None:
    script = """
const total = Inputs.tag.reduce((sum, line) => sum + line, 0);
const when = new Date(Date.UTC(2024, 2, 5, 13, 7, 9));
Outputs.out = {
  total: total.toLocaleString('en-US', { style: 'currency', currency: 'USD' }),
  when: when.toLocaleDateString('en-US', { weekday: 'long', year: 'numeric', month: 'long', day: 'numeric' }),
  at: when.toLocaleTimeString(),
  sorted: ['b', 'A', 'a', 'B'].sort((x, y) => x.localeCompare(y)),
  items: new Intl.PluralRules('en-US').select(Inputs.tag.length) === 'one' ? 'item' : 'items',
};
Outputs.Done();
"""
    runtime = Runtime.from_export(tagged_function("invoice", script))
    response = await runtime.run("invoice", make_request({"tag": [1200, 34.5]}))
    assert response.status_code == 200, response.body
    assert json.loads(response.body)["result"]["out"] == {
        "total": "$1,234.50",
        "when": "Tuesday, March 5, 2024",
        "at": "1:07:09 PM",
        "sorted": ["a", "A", "b", "B"],
        "items": "items",
    }


async def test_intl_cannot_be_changed_by_one_run_for_the_next() -> None:
    script = """
try { Intl.NumberFormat = function () { return { format: () => 'hacked' }; }; } catch (e) {}
try { Number.prototype.toLocaleString = () => 'hacked'; } catch (e) {}
Outputs.out = (1234.5).toLocaleString() + ' ' + new Intl.NumberFormat().format(2);
Outputs.Done();
"""
    runtime = Runtime.from_export(tagged_function("tamper", script))
    for _ in range(2):
        response = await runtime.run("tamper", make_request({}))
        assert json.loads(response.body)["result"]["out"] in ("1,234.5 2", "hacked hacked")
    clean = Runtime.from_export(
        tagged_function("clean", "Outputs.out = (1234.5).toLocaleString(); Outputs.Done();")
    )
    response = await clean.run("clean", make_request({}))
    assert json.loads(response.body)["result"]["out"] == "1,234.5"
