// The protocol smoke test, run against the source tree by default and against the frozen
// onedir build by tests/test_binary.py (SIDECAR_COMMAND='["…/noodl-sidecar","stdio"]').
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT, SidecarClient } from './sidecar-client.mjs';

const expectFrozen = process.env.SIDECAR_EXPECT_FROZEN === '1';

test('handshake, selftest, shutdown and exit code 0, with a clean stdout', async () => {
  const client = SidecarClient.spawn({ cwd: tmpdir(), env: { NOODL_SIDECAR_DIAGNOSTICS: '1' } });
  const handshake = await client.initialize();
  assert.equal(handshake.serverInfo.frozen, expectFrozen);
  const selftest = await client.request('sidecar:selftest');
  assert.equal(selftest.ok, true, JSON.stringify(selftest.checks, null, 1));
  await client.request('diagnostics:print', ['a stray print']);
  const exit = await client.shutdownAndExit();
  assert.equal(exit.code, 0);
  assert.equal(client.protocolError, null);
  assert.ok(client.logRecords().some((record) => record.event === 'ready'));
});

test('a backend starts, stores a record and runs a function with a JavaScript node', async () => {
  const home = mkdtempSync(path.join(tmpdir(), 'noodl-smoke-'));
  const client = SidecarClient.spawn({ cwd: tmpdir(), env: { NOODL_HOME: home } });
  try {
    await client.initialize();
    const backend = await client.request('backend:create', ['Smoke']);
    await client.request('backend:start', [backend.id]);
    const record = await client.request('backend:createRecord', [backend.id, 'Note', { text: 'frozen' }]);
    assert.equal(record.text, 'frozen');
    const hello = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'hello.workflow.json'), 'utf8'));
    await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'hello', workflow: hello }]);
    const result = await client.request('function:run', [backend.id, 'hello', { body: { name: 'smoke' } }]);
    assert.equal(JSON.parse(result.body).result.letters, 5);
    assert.equal((await client.shutdownAndExit()).code, 0);
  } finally {
    client.kill();
    rmSync(home, { recursive: true, force: true });
  }
});

test('stdin EOF ends the process promptly with code 1', async () => {
  const client = SidecarClient.spawn({ cwd: tmpdir() });
  await client.initialize();
  client.closeStdin();
  const exit = await client.waitExit(2000);
  assert.equal(exit.code, 1);
});
