// Debugging a failed run through the editor's channels: list failures → pin the failed execution →
// edit the input → rerun → see it pass; cancel a run parked in a Wait.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { SidecarClient } from './sidecar-client.mjs';

const CLOUD = '/#__cloud__/';
const node = (id, type, parameters = {}, ports = []) => ({ id, type, parameters, ports, children: [] });
const conn = (sourceId, sourcePort, targetId, targetPort) => ({ sourceId, sourcePort, targetId, targetPort });
const port = (name, plug, type = '*') => ({ name, plug, type });

// Request(flag, name, items, waitMs) → Condition(flag) → on true: Function (awaits; throws for "boom")
// → For Each over items → Wait(waitMs) → Response {greeting, results}; on false: Response {branch: "no"}.
const SCRIPT = [
  'const name = await Promise.resolve(Inputs.name);',
  "if (name === 'boom') throw new Error('bad name ' + name);",
  "Outputs.greeting = 'Hello ' + name;",
  'Outputs.Done();',
].join('\n');
const flow = {
  settings: {},
  metadata: {},
  components: [
    {
      name: `${CLOUD}debug`,
      ports: [],
      roots: [],
      nodes: [
        node('req', 'noodl.cloud.request', { allowNoAuth: true, params: 'flag,name,items,waitMs' }),
        node('cond', 'Condition'),
        node('fn', 'JavaScriptFunction', { functionScript: SCRIPT }, [
          port('in-name', 'input'),
          port('out-greeting', 'output'),
          port('out-Done', 'output', 'signal'),
        ]),
        node('loop', 'Workflow For Each', { template: `${CLOUD}lib/double` }),
        node('nap', 'Workflow Wait', { unit: 'ms' }),
        node('resp-ok', 'noodl.cloud.response', { params: 'greeting,results' }),
        node('resp-no', 'noodl.cloud.response', { params: 'branch', 'pm-branch': 'no' }),
      ],
      connections: [
        conn('req', 'pm-flag', 'cond', 'condition'),
        conn('req', 'receive', 'cond', 'eval'),
        conn('cond', 'ontrue', 'fn', 'run'),
        conn('req', 'pm-name', 'fn', 'in-name'),
        conn('req', 'pm-items', 'loop', 'items'),
        conn('fn', 'out-Done', 'loop', 'run'),
        conn('req', 'pm-waitMs', 'nap', 'duration'),
        conn('loop', 'completed', 'nap', 'run'),
        conn('loop', 'allResults', 'nap', 'data'),
        conn('fn', 'out-greeting', 'resp-ok', 'pm-greeting'),
        conn('nap', 'data', 'resp-ok', 'pm-results'),
        conn('nap', 'done', 'resp-ok', 'send'),
        conn('cond', 'onfalse', 'resp-no', 'send'),
      ],
    },
    {
      name: `${CLOUD}lib/double`,
      ports: [
        port('Do', 'input', 'signal'),
        port('currentItem', 'input'),
        port('result', 'output'),
        port('Success', 'output', 'signal'),
        port('Failure', 'output', 'signal'),
      ],
      roots: [],
      nodes: [
        node('in', 'Component Inputs'),
        node('out', 'Component Outputs'),
        node('calc', 'Expression', { expression: 'currentItem * 2' }),
      ],
      connections: [
        conn('in', 'currentItem', 'calc', 'currentItem'),
        conn('in', 'Do', 'calc', 'run'),
        conn('calc', 'result', 'out', 'result'),
        conn('calc', 'isTrueEv', 'out', 'Success'),
      ],
    },
  ],
};

// The same flow with a Retry between the Function and the For Each: Function `fn` (awaits) → Retry
// `retry` (attempt: Counter `attempts` + IF `check`, failing while count < failUntil) → For Each `loop`
// → Wait `nap` → Response {greeting, attempts, results}; the false branch answers {branch: "no"}.
const retryFlow = structuredClone(flow);
{
  const main = retryFlow.components[0];
  main.name = `${CLOUD}steps`;
  main.nodes[0].parameters.params = 'flag,name,items,waitMs,failUntil';
  main.nodes.splice(3, 0,
    node('retry', 'Workflow Retry', { delayMs: 5, maxAttempts: 4 }),
    node('attempts', 'Counter'),
    node('check', 'Workflow IF', { expression: 'count < failUntil', data: 'flaky' }),
  );
  main.nodes.find((n) => n.id === 'resp-ok').parameters.params = 'greeting,attempts,results';
  main.connections = main.connections.filter((c) => !(c.sourceId === 'fn' && c.sourcePort === 'out-Done'));
  main.connections.push(
    conn('fn', 'out-Done', 'retry', 'run'),
    conn('retry', 'attempt', 'attempts', 'increase'),
    conn('attempts', 'currentCount', 'check', 'count'),
    conn('req', 'pm-failUntil', 'check', 'failUntil'),
    conn('retry', 'attempt', 'check', 'run'),
    conn('check', 'data', 'retry', 'error'),
    conn('check', 'onTrue', 'retry', 'attemptFailed'),
    conn('check', 'onFalse', 'retry', 'attemptSucceeded'),
    conn('retry', 'success', 'loop', 'run'),
    conn('retry', 'attemptNumber', 'resp-ok', 'pm-attempts'),
  );
}

let home;
let client;
let backend;
let httpPort;

before(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'noodl-debugging-'));
  client = SidecarClient.spawn({ env: { NOODL_HOME: home } });
  await client.initialize();
  backend = await client.request('backend:create', ['Debugging']);
  httpPort = (await client.request('backend:start', [backend.id])).port;
  await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'debug', workflow: flow }]);
  await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'steps', workflow: retryFlow }]);
  // A thrown script never reaches a Response: let its run end after 1 s rather than 30.
  await client.request('backend:setPermissions', [
    backend.id,
    { functions: { debug: { timeoutMs: 1000 }, steps: { timeoutMs: 1000 } } },
  ]);
});

after(async () => {
  await client.shutdownAndExit().catch(() => client.kill());
  rmSync(home, { recursive: true, force: true });
});

const run = (body) => client.request('function:run', [backend.id, 'debug', { body }]);

describe('debugging a failed run', () => {
  test('list failures, pin the failed execution, edit the input, rerun, see it pass', async () => {
    const failed = await run({ flag: true, name: 'boom', items: [1, 2], waitMs: 0 });
    assert.equal(failed.statusCode, 504);

    const failures = await client.request('execution-history:list', [{ workflowId: 'debug', status: 'error' }]);
    const execution = failures.executions[0];
    const pinned = await client.request('execution:pin', [execution.id]);
    assert.equal(pinned.error.nodeId, 'fn');
    assert.match(pinned.nodes.fn.error.message, /bad name boom/);
    assert.deepEqual(pinned.order, ['req', 'cond', 'fn', 'loop', 'nap']);
    assert.deepEqual(pinned.nodes.fn.inputs['in-name'], { type: 'string', size: 6, value: 'boom' });
    const request = await client.request('execution:step-value', [
      { stepId: pinned.nodes.req.shownStepId, side: 'input', port: 'body' },
    ]);
    assert.deepEqual(request.value, { flag: true, name: 'boom', items: [1, 2], waitMs: 0 });

    const rerun = await client.request('execution-history:rerun', [execution.id, { body: { ...request.value, name: 'Ada' } }]);
    assert.equal(rerun.statusCode, 200);
    assert.deepEqual(JSON.parse(rerun.body), { result: { greeting: 'Hello Ada', results: [2, 4] } });
    assert.deepEqual(rerun.inputChanges, ['/body/name']);

    const passed = await client.request('execution:pin', [rerun.executionId]);
    assert.equal(passed.status, 'success');
    assert.equal(passed.retryOf, execution.id);
    assert.deepEqual(passed.order, ['req', 'cond', 'fn', 'loop', 'nap', 'resp-ok']);
    assert.deepEqual(
      passed.children.map((child) => child.path),
      [['loop', 'item[0]'], ['loop', 'item[1]']],
    );
    await assert.rejects(
      client.request('execution-history:rerun', [execution.id, { bdy: {} }]),
      (error) => error.code === -32602 && JSON.stringify(error.data).includes('bdy'),
    );
  });

  test('cancel stops a run parked in a Wait and its caller gets function/cancelled', async () => {
    const subscriptionId = await client.request('execution:subscribe', [{ backendId: backend.id, workflowId: 'debug' }]);
    const parked = new Promise((resolve) => {
      client.notificationListeners.add((note) => {
        const event = note.params?.[0];
        if (note.method === 'execution:step' && event?.nodeId === 'nap') resolve(event.executionId);
      });
    });
    const call = run({ flag: true, name: 'Ada', items: [], waitMs: 900 });
    const executionId = await parked;
    const cancelled = await client.request('execution:cancel', [executionId]);
    assert.deepEqual(cancelled, { cancelled: true, executionId, nodeId: 'nap' });
    const answer = await call;
    assert.equal(answer.statusCode, 499);
    assert.equal(JSON.parse(answer.body).code, 'function/cancelled');
    const pinned = await client.request('execution:pin', [executionId]);
    assert.equal(pinned.status, 'cancelled');
    assert.equal(pinned.cancelledNodeId, 'nap');
    await assert.rejects(client.request('execution:cancel', [executionId]), /not running/);
    await client.request('execution:unsubscribe', [subscriptionId]);
  });
});

const BODY = { flag: true, name: 'Ada', items: [1, 2], waitMs: 0, failUntil: 2 };
const FULL = { result: { greeting: 'Hello Ada', attempts: 2, results: [2, 4] } };
const FN_PIN = { fn: { 'out-greeting': 'Hello Pinned', 'out-Done': true } };
const testRun = (options) => client.request('debug:test-run', [backend.id, 'steps', options]);

async function productionCall(body) {
  const response = await fetch(`http://127.0.0.1:${httpPort}/functions/steps`, {
    method: 'POST',
    headers: { 'X-Parse-Application-Id': backend.id, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: await response.json() };
}

function pausesOf() {
  // The execution:paused notifications, in the order they arrive.
  const seen = [];
  const waiters = [];
  const listener = (note) => {
    if (note.method !== 'execution:paused') return;
    seen.push(note.params[0]);
    for (const wake of waiters.splice(0)) wake();
  };
  client.notificationListeners.add(listener);
  return {
    seen,
    async next(count) {
      while (seen.length < count) await new Promise((resolve) => waiters.push(resolve));
      return seen[count - 1];
    },
    close: () => client.notificationListeners.delete(listener),
  };
}

describe('pinned node data, run from a node, step-through (branches, For Each, Retry, an awaiting Function)', () => {
  test('a full run answers through the Retry and the For Each', async () => {
    const answer = await testRun({ body: BODY });
    assert.equal(answer.statusCode, 200);
    assert.deepEqual(JSON.parse(answer.body), FULL);
  });

  test('pinned data stands in for a node in test runs; production calls and triggers never use it', async () => {
    const saved = await client.request('debug:set-pins', [backend.id, 'steps', FN_PIN]);
    assert.deepEqual(saved, { function: 'steps', pins: FN_PIN });
    try {
      const boom = { ...BODY, name: 'boom' }; // the Function would throw: the pin answers instead
      const tested = await testRun({ body: boom });
      assert.equal(tested.statusCode, 200);
      assert.equal(JSON.parse(tested.body).result.greeting, 'Hello Pinned');
      const pinned = await client.request('execution:pin', [tested.executionId]);
      assert.equal(pinned.nodes.fn.debug, 'pinned');
      assert.equal(pinned.nodes.fn.outputs['out-greeting'].value, 'Hello Pinned');

      const editorRun = await client.request('function:run', [backend.id, 'steps', { body: BODY }]);
      assert.equal(JSON.parse(editorRun.body).result.greeting, 'Hello Pinned');

      const http = await productionCall(BODY);
      assert.equal(http.status, 200);
      assert.deepEqual(http.body, FULL);
      const created = await client.request('backend:createTrigger', [
        backend.id,
        { type: 'schedule', name: 'pins-never', target: { kind: 'function', name: 'steps' }, schedule: { cron: '0 3 * * *' } },
      ]);
      const fired = await client.request('backend:fireTrigger', [backend.id, created.trigger.id, BODY]);
      assert.equal(fired.statusCode, 200);
      assert.deepEqual(typeof fired.body === 'string' ? JSON.parse(fired.body) : fired.body, FULL);
      await client.request('backend:deleteTrigger', [backend.id, created.trigger.id]);
    } finally {
      await client.request('debug:set-pins', [backend.id, 'steps', {}]);
    }
  });

  test('run from a node replays upstream and gives the answer of a full run', async () => {
    const full = await testRun({ body: BODY });
    for (const [start, replayed] of [['fn', ['req', 'cond']], ['retry', ['req', 'cond', 'fn']]]) {
      const fromNode = await client.request('execution:run-from', [full.executionId, start]);
      assert.equal(fromNode.statusCode, full.statusCode);
      assert.equal(fromNode.body, full.body);
      assert.deepEqual(fromNode.replayedNodes, replayed);
      const pinned = await client.request('execution:pin', [fromNode.executionId]);
      for (const id of replayed.filter((id) => id !== 'req')) assert.equal(pinned.nodes[id].debug, 'replayed');
      assert.equal(pinned.nodes[start].debug, undefined);
    }
    await assert.rejects(
      client.request('execution:run-from', [full.executionId, 'nap']),
      (error) => error.code === -32803 && error.data.reason === 'not-resumable' && /cannot be resumed/.test(error.message),
    );
  });

  test('breakpoints on two nodes pause in sequence, report pending inputs, then continue', async () => {
    const subscriptionId = await client.request('execution:subscribe', [{ backendId: backend.id, workflowId: 'steps' }]);
    const pauses = pausesOf();
    try {
      const call = testRun({ body: BODY, breakpoints: ['fn', 'nap'] });
      const first = await pauses.next(1);
      assert.equal(first.nodeId, 'fn');
      assert.equal(first.reason, 'breakpoint');
      assert.deepEqual(first.inputs['in-name'], { type: 'string', size: 5, value: 'Ada' });
      const executionId = first.executionId;
      const live = await client.request('execution:pin', [executionId]);
      assert.equal(live.paused.nodeId, 'fn');
      await assert.rejects(client.request('execution:continue', ['exec_not_running']), /not paused/);

      // The Wait takes its duration as soon as the request arrives (one stop) and its run signal once the
      // For Each is done (another): continue until the stop that would run it.
      let count = 1;
      let at = first;
      while (!(at.nodeId === 'nap' && 'run' in at.inputs)) {
        await client.request('execution:continue', [executionId]);
        at = await pauses.next(++count);
      }
      assert.deepEqual(at.inputs.data.value, [2, 4]);
      const between = await client.request('execution:pin', [executionId]);
      assert.ok(['fn', 'retry', 'loop'].every((id) => id in between.nodes), JSON.stringify(between.order));
      assert.equal(between.nodes.retry.runCount >= 2, true); // the failed attempt and the one that passed
      assert.equal(between.status, 'running');
      assert.equal('done' in between.nodes.nap.outputs, false); // the Wait has not run yet
      await client.request('execution:continue', [executionId]);
      const answer = await call;
      assert.equal(answer.statusCode, 200);
      assert.deepEqual(JSON.parse(answer.body), FULL);
      assert.deepEqual([...new Set(answer.pauses)], ['fn', 'nap']);
    } finally {
      pauses.close();
      await client.request('execution:unsubscribe', [subscriptionId]);
    }
  });

  test('step stops before the next node; cancel ends a paused run', async () => {
    const subscriptionId = await client.request('execution:subscribe', [{ backendId: backend.id, workflowId: 'steps' }]);
    const pauses = pausesOf();
    try {
      const call = testRun({ body: BODY, breakpoints: ['cond'] });
      const first = await pauses.next(1);
      assert.equal(first.nodeId, 'cond');
      const stepped = await client.request('execution:step', [first.executionId]);
      assert.deepEqual(stepped, { resumed: true, executionId: first.executionId, nodeId: 'cond', step: true });
      const second = await pauses.next(2);
      assert.equal(second.reason, 'step');
      const cancelled = await client.request('execution:cancel', [first.executionId]);
      assert.equal(cancelled.cancelled, true);
      const answer = await call;
      assert.equal(answer.statusCode, 499);
      assert.equal((await client.request('execution:pin', [first.executionId])).status, 'cancelled');
    } finally {
      pauses.close();
      await client.request('execution:unsubscribe', [subscriptionId]);
    }
  });
});
