// The protocol smoke test, run against the source tree by default and against the frozen
// onedir build by tests/test_binary.py (SIDECAR_COMMAND='["…/noodl-sidecar","stdio"]').
import assert from 'node:assert/strict';
import { tmpdir } from 'node:os';
import { test } from 'node:test';
import { SidecarClient } from './sidecar-client.mjs';

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

test('stdin EOF ends the process promptly with code 1', async () => {
  const client = SidecarClient.spawn({ cwd: tmpdir() });
  await client.initialize();
  client.closeStdin();
  const exit = await client.waitExit(2000);
  assert.equal(exit.code, 1);
});
