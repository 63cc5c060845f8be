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

let home;
let client;
let backend;

before(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'noodl-debugging-'));
  client = SidecarClient.spawn({ env: { NOODL_HOME: home } });
  await client.initialize();
  backend = await client.request('backend:create', ['Debugging']);
  await client.request('backend:start', [backend.id]);
  await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'debug', workflow: flow }]);
  // A thrown script never reaches a Response: let its run end after 1 s rather than 30.
  await client.request('backend:setPermissions', [backend.id, { functions: { debug: { timeoutMs: 1000 } } }]);
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
