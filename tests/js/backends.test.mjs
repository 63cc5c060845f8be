// The editor's backend:* channels end to end: the Node client stands in for Electron's main process.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, RpcError, SidecarClient } from './sidecar-client.mjs';

let home;
let client;

before(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'noodl-home-'));
  client = SidecarClient.spawn({ env: { NOODL_HOME: home } });
  await client.initialize();
});

after(async () => {
  if (client.exitInfo === undefined) await client.shutdownAndExit().catch(() => client.kill());
  rmSync(home, { recursive: true, force: true });
});

async function http(port, method, route, { body, token, appId, headers = {} } = {}) {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: {
      ...(appId ? { 'X-Parse-Application-Id': appId } : {}),
      ...(token ? { Authorization: `Bearer ${token}` } : {}),
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      ...headers,
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

async function rpcError(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RpcError, String(error));
    return error;
  }
  assert.fail('expected an error');
}

describe('backend manager over stdio', () => {
  test('two backends: create, start, records over IPC and HTTP, pushes, export, stop one, delete it', async () => {
    const first = await client.request('backend:create', ['First']);
    const second = await client.request('backend:create', ['Second']);
    assert.match(first.id, /^backend_[0-9a-z]+$/);
    assert.notEqual(first.port, second.port);
    const listed = await client.request('backend:list');
    assert.deepEqual(listed.map((b) => b.id), [first.id, second.id]);
    assert.deepEqual(await client.request('backend:get', [first.id]), first);

    const stopped = await client.request('backend:status', [first.id]);
    assert.equal(stopped.running, false);
    const notRunning = await rpcError(client.request('backend:queryRecords', [first.id, { collection: 'Todo' }]));
    assert.match(notRunning.message, /Backend must be running to query records/);

    const status = await client.request('backend:start', [first.id, {}]);
    assert.equal(status.running, true);
    assert.equal(status.port, first.port);
    assert.equal(status.persistence.mode, 'persistent');
    assert.equal(status.persistence.persistent, true);
    const secondStatus = await client.request('backend:start', [second.id]);
    assert.equal(secondStatus.running, true);

    const token = JSON.parse(readFileSync(path.join(home, 'backends', first.id, 'secrets.json'), 'utf8')).adminToken;

    await client.request('backend:subscribeCollection', [first.id, 'Todo']);
    const pushed = client.waitForNotification('backend:collectionChanged', ([change]) => change.collection === 'Todo');
    const created = await client.request('backend:createRecord', [first.id, 'Todo', { title: 'write tests', done: false }]);
    assert.equal(created.title, 'write tests');
    assert.ok(created.objectId);
    const [change] = await pushed;
    assert.equal(change.backendId, first.id);
    assert.equal(change.event, 'change');
    assert.equal(change.data.action, 'create');
    assert.equal(change.data.record.objectId, created.objectId);

    const saved = await client.request('backend:saveRecord', [first.id, 'Todo', created.objectId, { done: true }]);
    assert.equal(saved.done, true);
    const page = await client.request('backend:queryRecords', [
      first.id,
      { collection: 'Todo', where: { done: true }, count: true },
    ]);
    assert.equal(page.count, 1);
    assert.equal(page.results[0].objectId, created.objectId);
    assert.equal(await client.request('backend:getRecordCount', [first.id, 'Todo']), 1);

    // The same data over the backend's own HTTP port (Parse wire).
    const overHttp = await http(first.port, 'GET', `/classes/Todo/${created.objectId}`, {
      appId: first.id,
      headers: { 'X-Parse-Master-Key': token },
    });
    assert.equal(overHttp.status, 200);
    assert.equal(overHttp.json.done, true);
    const health = await http(first.port, 'GET', '/health');
    assert.equal(health.status, 200);
    assert.equal(health.json.ok, true);

    const schema = await client.request('backend:getSchema', [first.id]);
    const todo = schema.tables.find((table) => table.name === 'Todo');
    assert.deepEqual(
      todo.columns.map((c) => [c.name, c.type]),
      [
        ['title', 'String'],
        ['done', 'Boolean'],
      ],
    );
    const exported = await client.request('backend:export-schema', [first.id, 'postgres']);
    assert.match(exported, /CREATE TABLE/);

    await client.request('backend:stop', [second.id]);
    assert.equal((await client.request('backend:status', [second.id])).running, false);
    assert.equal((await http(first.port, 'GET', '/health')).status, 200, 'the other backend keeps serving');
    await assert.rejects(fetch(`http://127.0.0.1:${second.port}/health`));

    const deleted = await client.request('backend:delete', [second.id]);
    assert.deepEqual(deleted, { deleted: true, id: second.id });
    assert.equal(existsSync(path.join(home, 'backends', second.id)), false);
    assert.deepEqual((await client.request('backend:list')).map((b) => b.id), [first.id]);
    await client.request('backend:deleteRecord', [first.id, 'Todo', created.objectId]);
    assert.equal(await client.request('backend:getRecordCount', [first.id, 'Todo']), 0);
  });

  test('workflows: hot deploy, function:run, a bad export refused while the old one keeps running', async () => {
    const backend = await client.request('backend:create', ['Functions']);
    await client.request('backend:start', [backend.id]);
    const hello = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'hello.workflow.json'), 'utf8'));
    const deployed = await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'hello', workflow: hello }]);
    assert.equal(deployed.success, true);
    assert.equal(deployed.version.workflow, 'hello');
    assert.deepEqual(deployed.version.functions, ['hello']);
    assert.match(deployed.version.hash, /^[0-9a-f]{64}$/);
    const status = await client.request('backend:workflow-status', [backend.id]);
    assert.deepEqual(status, { initialized: true, workflowCount: 1, functions: [{ name: 'hello', workflow: 'hello' }] });

    const result = await client.request('function:run', [backend.id, 'hello', { body: { name: 'IPC' } }]);
    assert.deepEqual(result, {
      statusCode: 200,
      body: '{"result":{"message":"Hello IPC, this answer came from noodl-sidecar.","letters":3}}',
    });
    const overHttp = await http(backend.port, 'POST', '/functions/hello', { appId: backend.id, body: { name: 'HTTP' } });
    assert.equal(overHttp.status, 200);
    assert.equal(overHttp.json.result.message, 'Hello HTTP, this answer came from noodl-sidecar.');

    const broken = await client.request('backend:update-workflow', [
      { backendId: backend.id, name: 'hello', workflow: { components: [{ name: '/#__cloud__/hello', nodes: 'nope' }] } },
    ]);
    assert.equal(broken.success, false);
    assert.match(broken.error, /hello/);
    assert.equal(broken.problems[0].componentName, '/#__cloud__/hello');
    const still = await client.request('function:run', [backend.id, 'hello', { body: { name: 'again' } }]);
    assert.equal(still.statusCode, 200, 'the previous bundle keeps serving');
    const versions = await client.request('backend:workflow-versions', [backend.id]);
    assert.deepEqual(versions.versions.map((v) => [v.workflow, v.active]), [['hello', true]]);
    const rolled = await client.request('backend:rollback-workflow', [backend.id, versions.versions[0].version]);
    assert.equal(rolled.success, true);

    const missing = await rpcError(client.request('function:run', [backend.id, 'nope', {}]));
    assert.match(missing.message, /Function 'nope' not found/);
    assert.equal((await client.request('backend:reload-workflows', [backend.id])).count, 1);
    await client.request('backend:delete', [backend.id]);
  });

  test('a backend whose database is unusable runs in memory, says so, and starts fresh on request', async () => {
    const broken = await client.request('backend:create', ['Broken']);
    const dataDir = path.join(home, 'backends', broken.id, 'data');
    writeFileSync(path.join(dataDir, 'local.db'), 'this is not an SQLite database'.repeat(100));
    const started = await client.request('backend:start', [broken.id]);
    assert.equal(started.running, true);
    assert.equal(started.persistence.mode, 'memory-fallback');
    assert.equal(started.persistence.reason.code, 'PERSISTENCE_ENGINE_UNAVAILABLE');
    assert.deepEqual(started.persistence.recovery, ['check', 'start-fresh']);
    const health = await http(started.port, 'GET', '/health');
    assert.equal(health.json.persistence.mode, 'memory-fallback');
    const status = await client.request('backend:status', [broken.id]);
    assert.equal(status.persistence.mode, 'memory-fallback');

    const checked = await client.request('backend:recover-persistence', [broken.id, { action: 'check' }]);
    assert.equal(checked.check.ok, false);
    const fresh = await client.request('backend:recover-persistence', [broken.id, { action: 'start-fresh' }]);
    assert.match(path.basename(fresh.movedTo), /^local\.db\.bad-/);
    assert.ok(existsSync(fresh.movedTo));
    assert.equal(fresh.status.persistence.mode, 'persistent');
    await client.request('backend:stop', [broken.id]);

    const blocker = net.createServer();
    const portTaken = await client.request('backend:create', ['Port taken']);
    await new Promise((resolve) => blocker.listen(portTaken.port, '127.0.0.1', resolve));
    try {
      const clash = await rpcError(client.request('backend:start', [portTaken.id]));
      assert.match(clash.message, new RegExp(`cannot listen on 127.0.0.1:${portTaken.port}`));
      assert.equal((await client.request('backend:status', [portTaken.id])).persistence.error.code, 'BACKEND_START_FAILED');
    } finally {
      blocker.close();
    }
    assert.equal(await client.request('$/ping'), null);
    await client.request('backend:delete', [broken.id]);
    await client.request('backend:delete', [portTaken.id]);
  });

  test('records export and import: JSON lines round trip, a dry run, rejected rows, SQL with data', async () => {
    const source = await client.request('backend:create', ['Export source']);
    const target = await client.request('backend:create', ['Import target']);
    await client.request('backend:start', [source.id, { ephemeral: true }]);
    await client.request('backend:start', [target.id, { ephemeral: true }]);
    for (const title of ['one', 'two', 'three']) {
      await client.request('backend:createRecord', [source.id, 'Todo', { title, done: title === 'two' }]);
    }
    const exported = await client.request('backend:export-data', [source.id, { format: 'jsonl', classes: ['Todo'] }]);
    assert.deepEqual(exported.counts, { Todo: 3 });
    const dry = await client.request('backend:import-data', [target.id, { format: 'jsonl', content: exported.content, dryRun: true }]);
    assert.equal(dry.accepted, 3);
    assert.equal(await client.request('backend:getRecordCount', [target.id, 'Todo']), 0);
    const broken = `${exported.content}{"type":"record","className":"Todo","record":{"title":42}}\n`;
    const done = await client.request('backend:import-data', [target.id, { format: 'jsonl', content: broken }]);
    assert.equal(done.accepted, 3);
    assert.equal(done.rejectedCount, 1);
    assert.match(done.rejected[0].reason, /title is Number here but String/);
    const query = { collection: 'Todo', limit: 10, sort: ['objectId'] };
    const before = await client.request('backend:queryRecords', [source.id, query]);
    const after = await client.request('backend:queryRecords', [target.id, query]);
    assert.deepEqual(after.results, before.results);
    const sql = await client.request('backend:export-data', [source.id, { format: 'postgres', classes: ['Todo'] }]);
    assert.match(sql.content, /INSERT INTO "Todo"/);
    await client.request('backend:delete', [source.id]);
    await client.request('backend:delete', [target.id]);
  });

  test('project:inspect tells generations apart; a read-only project keeps its backend from schema changes', async () => {
    const folder = mkdtempSync(path.join(tmpdir(), 'noodl-project-'));
    try {
      const write = (version) =>
        writeFileSync(
          path.join(folder, 'project.json'),
          JSON.stringify({ name: 'p', id: 'proj-js-1', version, components: [{ name: '/#__cloud__/f', graph: { roots: [{ id: 'n', type: 'Old Node', children: [] }] } }] })
        );
      write('3');
      const legacy = await client.request('project:inspect', [folder]);
      assert.equal(legacy.generation, 'legacy');
      assert.equal(legacy.readOnlyAdvised, true);
      assert.deepEqual(legacy.missingNodeTypes.map((m) => m.type), ['Old Node']);
      write('4');
      assert.equal((await client.request('project:inspect', [folder])).generation, 'current');
      write(9);
      assert.equal((await client.request('project:inspect', [folder])).generation, 'newer');

      const backend = await client.request('backend:create', ['Read-only']);
      await client.request('backend:start', [backend.id, { ephemeral: true }]);
      await client.request('backend:link-project', [backend.id, 'proj-js-1']);
      const recorded = await client.request('project:set-read-only', [folder, true]);
      assert.equal(recorded.projectId, 'proj-js-1');
      const refused = await rpcError(client.request('backend:createTable', [backend.id, { name: 'T', columns: [] }]));
      assert.equal(refused.data.code, 'PROJECT_READ_ONLY');
      await client.request('project:set-read-only', [folder, false]);
      assert.equal((await client.request('backend:createTable', [backend.id, { name: 'T', columns: [] }])).created, true);
      await client.request('backend:delete', [backend.id]);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  test('projects: link, find, move to another backend, unlink; kept in config.json', async () => {
    const first = await client.request('backend:create', ['Project A']);
    const second = await client.request('backend:create', ['Project B']);
    const project = '/Users/me/Noodl Projects/shop';
    assert.equal(await client.request('backend:for-project', [project]), null);
    const linked = await client.request('backend:link-project', [first.id, project]);
    assert.deepEqual(linked.projectIds, [project]);
    assert.equal((await client.request('backend:for-project', [project])).id, first.id);
    const config = JSON.parse(readFileSync(path.join(home, 'backends', first.id, 'config.json'), 'utf8'));
    assert.deepEqual(config.projectIds, [project]);

    await client.request('backend:link-project', [second.id, project]);
    assert.equal((await client.request('backend:for-project', [project])).id, second.id);
    assert.deepEqual((await client.request('backend:get', [first.id])).projectIds, []);
    const unlinked = await client.request('backend:unlink-project', [second.id, project]);
    assert.deepEqual(unlinked.projectIds, []);
    assert.equal(await client.request('backend:for-project', [project]), null);
    const bad = await rpcError(client.request('backend:link-project', [first.id, '  ']));
    assert.equal(bad.code, -32602);
    await client.request('backend:delete', [first.id]);
    await client.request('backend:delete', [second.id]);
  });

  test('bad input is a clear error and changes nothing on disk', async () => {
    const unknown = await rpcError(client.request('backend:start', ['backend_nosuchthing']));
    assert.match(unknown.message, /Backend not found: backend_nosuchthing/);
    const escaping = await rpcError(client.request('backend:get', ['../../etc']));
    assert.equal(escaping.code, -32602);
    const wrongArity = await rpcError(client.request('backend:createRecord', ['backend_x']));
    assert.equal(wrongArity.code, -32602);
    const emptyName = await rpcError(client.request('backend:create', ['   ']));
    assert.equal(emptyName.code, -32602);
    const before = await client.request('backend:list');
    await rpcError(client.request('backend:create', [42]));
    assert.deepEqual(await client.request('backend:list'), before);
  });
});
