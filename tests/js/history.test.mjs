// Execution history, live execution events and triggers through the editor's channels.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, SidecarClient } from './sidecar-client.mjs';

let home;
let client;
let backend;
const hello = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'hello.workflow.json'), 'utf8'));
const exportNodeIds = hello.components[0].nodes.map((node) => node.id);

before(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'noodl-history-'));
  client = SidecarClient.spawn({ env: { NOODL_HOME: home } });
  await client.initialize();
  backend = await client.request('backend:create', ['History']);
  await client.request('backend:start', [backend.id]);
  await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'hello', workflow: hello }]);
});

after(async () => {
  await client.shutdownAndExit().catch(() => client.kill());
  rmSync(home, { recursive: true, force: true });
});

async function eventually(read, accept, timeoutMs = 3000) {
  const started = Date.now();
  for (;;) {
    const value = await read();
    if (accept(value)) return value;
    if (Date.now() - started > timeoutMs) assert.fail(`condition not met: ${JSON.stringify(value)}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('execution history', () => {
  test('a run streams started/step/finished events and is stored node by node', async () => {
    const subscriptionId = await client.request('execution:subscribe', [{ backendId: backend.id, workflowId: 'hello' }]);
    const events = [];
    const finished = new Promise((resolve) => {
      client.notificationListeners.add((note) => {
        if (!note.method.startsWith('execution:')) return;
        events.push({ kind: note.method, ...note.params[0] });
        if (note.method === 'execution:finished') resolve();
      });
    });
    const result = await client.request('function:run', [backend.id, 'hello', { body: { name: 'History' } }]);
    assert.equal(result.statusCode, 200);
    await finished;

    assert.equal(events[0].kind, 'execution:started');
    assert.equal(events.at(-1).kind, 'execution:finished');
    const executionId = events[0].executionId;
    assert.ok(events.every((event) => event.executionId === executionId && event.backendId === backend.id));
    assert.deepEqual(events.map((event) => event.seq), events.map((_, index) => index + 1));
    const stepNodes = new Set(events.filter((event) => event.kind === 'execution:step').map((event) => event.nodeId));
    for (const nodeId of stepNodes) assert.ok(exportNodeIds.includes(nodeId), `unknown node id ${nodeId}`);

    const listed = await eventually(
      () => client.request('execution-history:list', [{ workflowId: 'hello' }]),
      (page) => page.executions.some((row) => row.id === executionId && row.status === 'success'),
    );
    const row = listed.executions.find((execution) => execution.id === executionId);
    assert.equal(row.triggerType, 'test');
    assert.equal(row.metadata.backendId, backend.id);
    assert.deepEqual(listed.sources.map((source) => [source.id, source.reachable]), [[backend.id, true]]);

    const detail = await client.request('execution-history:get', [executionId]);
    assert.ok(detail.steps.length >= 3);
    assert.deepEqual(detail.steps.map((step) => step.stepIndex), detail.steps.map((_, index) => index));
    for (const step of detail.steps) assert.ok(exportNodeIds.includes(step.nodeId));
    const greeting = detail.steps.find((step) => step.nodeId === 'greeting');
    assert.equal(greeting.outputData.formatted, 'Hello History, this answer came from noodl-sidecar.');

    assert.equal(await client.request('execution:unsubscribe', [subscriptionId]), true);
    const stats = await client.request('execution-history:stats', [{ backendId: backend.id, workflowId: 'hello' }]);
    assert.ok(stats.totalExecutions >= 1);
  });

  test('secrets in a run never reach the history', async () => {
    await client.request('function:run', [
      backend.id,
      'hello',
      { body: { name: 'Secretive', password: 'hunter2-do-not-store' }, headers: { authorization: 'Bearer sekrit-token-123' } },
    ]);
    const page = await eventually(
      () => client.request('execution-history:list', [{ workflowId: 'hello', limit: 1 }]),
      (p) => p.executions[0]?.triggerData?.body?.name === 'Secretive',
    );
    const text = JSON.stringify(await client.request('execution-history:get', [page.executions[0].id]));
    assert.doesNotMatch(text, /hunter2-do-not-store|sekrit-token-123/);
  });
});

describe('re-run', () => {
  test('a past execution runs again with its recorded request, secrets left out, linked by retryOf', async () => {
    await client.request('function:run', [
      backend.id,
      'hello',
      { body: { name: 'Again', apiKey: 'do-not-replay-me' } },
    ]);
    const original = (
      await eventually(
        () => client.request('execution-history:list', [{ workflowId: 'hello', limit: 1 }]),
        (page) => page.executions[0]?.triggerData?.body?.name === 'Again' && page.executions[0].status === 'success',
      )
    ).executions[0];
    const rerun = await client.request('execution-history:rerun', [original.id]);
    assert.equal(rerun.statusCode, 200);
    assert.equal(JSON.parse(rerun.body).result.message, 'Hello Again, this answer came from noodl-sidecar.');
    assert.deepEqual(rerun.omitted, ['body.apiKey']);
    const retry = await eventually(
      () => client.request('execution-history:list', [{ workflowId: 'hello', limit: 1 }]),
      (page) => page.executions[0]?.metadata?.retryOf === original.id,
    );
    assert.equal(retry.executions[0].triggerType, 'manual');
    await assert.rejects(client.request('execution-history:rerun', ['exec_unknown']), /exec_unknown/);
  });
});

describe('triggers', () => {
  test('a manual fire runs the function and is recorded with its trigger', async () => {
    const created = await client.request('backend:createTrigger', [
      backend.id,
      { type: 'schedule', name: 'nightly', target: { kind: 'function', name: 'hello' }, schedule: { cron: '0 3 * * *' } },
    ]);
    const triggerId = created.trigger.id;
    assert.match(triggerId, /^trg_/);
    const listed = await client.request('backend:listTriggers', [backend.id]);
    assert.ok(listed.triggers.some((trigger) => trigger.id === triggerId && trigger.status.nextFireAt));

    const fired = await client.request('backend:fireTrigger', [backend.id, triggerId, { name: 'Trigger' }]);
    assert.equal(fired.ok, true);
    assert.equal(fired.statusCode, 200);
    const page = await eventually(
      () => client.request('execution-history:list', [{ triggerType: 'manual' }]),
      (p) => p.executions.some((row) => row.metadata.triggerId === triggerId && row.status === 'success'),
    );
    assert.equal(page.executions.filter((row) => row.metadata.triggerId === triggerId).length, 1);
    assert.equal((await client.request('backend:getTrigger', [backend.id, triggerId])).status.fireCount, 1);

    const disabled = await client.request('backend:setTriggerEnabled', [backend.id, triggerId, false]);
    assert.equal(disabled.trigger.enabled, false);
    assert.deepEqual(await client.request('backend:deleteTrigger', [backend.id, triggerId]), { deleted: true, id: triggerId });
  });

  test('a seconds schedule fires on its own', async () => {
    const created = await client.request('backend:createTrigger', [
      backend.id,
      { type: 'schedule', target: { kind: 'function', name: 'hello' }, schedule: { cron: '* * * * * *' } },
    ]);
    const triggerId = created.trigger.id;
    await eventually(
      () => client.request('backend:getTrigger', [backend.id, triggerId]),
      (trigger) => trigger.status.fireCount >= 1,
      4000,
    );
    await client.request('backend:deleteTrigger', [backend.id, triggerId]);
  });

  test('an invalid trigger definition is refused with every problem named', async () => {
    await assert.rejects(
      client.request('backend:createTrigger', [backend.id, { type: 'schedule', target: { kind: 'function', name: 'hello' }, colour: 'red' }]),
      (error) => /colour/.test(error.message),
    );
  });
});
