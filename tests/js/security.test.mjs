// The security channels end to end: the Node client stands in for Electron's main process, and a
// plain fetch plays the app that meets the rules over HTTP.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { RpcError, SidecarClient } from './sidecar-client.mjs';

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

async function http(port, method, route, headers = {}, body = undefined) {
  const response = await fetch(`http://127.0.0.1:${port}${route}`, {
    method,
    headers: { ...(body ? { 'Content-Type': 'application/json' } : {}), ...headers },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await response.text();
  return { status: response.status, json: text ? JSON.parse(text) : null };
}

describe('permissions, roles and API keys over stdio and HTTP', () => {
  test('a stopped backend refuses the security channels', async () => {
    const backend = await client.request('backend:create', ['Stopped']);
    await assert.rejects(client.request('backend:getPermissions', [backend.id]), (error) => {
      assert.ok(error instanceof RpcError);
      assert.equal(error.message, 'Backend must be running to read its permissions');
      return true;
    });
  });

  test('rules set over IPC are met by HTTP callers; keys are shown once and revoked for good', async () => {
    const backend = await client.request('backend:create', ['Secure']);
    await client.request('backend:start', [backend.id]);
    const app = { 'X-Parse-Application-Id': backend.id };
    const token = JSON.parse(readFileSync(path.join(home, 'backends', backend.id, 'secrets.json'), 'utf8')).adminToken;

    const policy = await client.request('backend:setCollectionPermissions', [
      backend.id,
      'Todo',
      { find: { 'role:staff': true }, create: { requiresAuthentication: true } },
    ]);
    assert.deepEqual(policy.collections.Todo.find, { 'role:staff': true });
    const viaHttp = await http(backend.port, 'GET', '/admin/permissions', { Authorization: `Bearer ${token}` });
    assert.deepEqual(viaHttp.json, policy);

    const signup = await http(backend.port, 'POST', '/users', app, { username: 'ann', password: 'pw-123456' });
    assert.equal(signup.status, 201);
    const ann = { ...app, 'X-Parse-Session-Token': signup.json.sessionToken };
    assert.equal((await http(backend.port, 'POST', '/classes/Todo', app, { t: 1 })).status, 403);
    assert.equal((await http(backend.port, 'POST', '/classes/Todo', ann, { t: 1 })).status, 201);
    assert.equal((await http(backend.port, 'GET', '/classes/Todo', ann)).status, 403);

    await client.request('backend:createRole', [backend.id, 'staff']);
    const role = await client.request('backend:addRoleUser', [backend.id, 'staff', signup.json.objectId]);
    assert.deepEqual(role.users, [signup.json.objectId]);
    const found = await http(backend.port, 'GET', '/classes/Todo', ann);
    assert.equal(found.status, 200);
    assert.equal(found.json.results.length, 1);
    const check = await client.request('backend:checkAccess', [
      backend.id,
      { collection: 'Todo', operation: 'find', userId: signup.json.objectId },
    ]);
    assert.equal(check.allowed, true);

    const created = await client.request('backend:createApiKey', [backend.id, 'reader', ['data:read']]);
    assert.match(created.key, /^ngx_/);
    const keys = await client.request('backend:listApiKeys', [backend.id]);
    assert.equal(keys.keys.length, 1);
    assert.equal(keys.keys[0].key, undefined);
    const keyed = { 'X-NodeGX-Api-Key': created.key };
    assert.equal((await http(backend.port, 'GET', '/classes/Todo', keyed)).status, 403); // find needs role:staff
    assert.equal((await http(backend.port, 'POST', '/classes/Other', keyed, { a: 1 })).status, 403); // no data:write
    assert.equal((await http(backend.port, 'GET', '/classes/Other', keyed)).status, 200);
    await client.request('backend:revokeApiKey', [backend.id, created.objectId]);
    const revoked = await http(backend.port, 'GET', '/classes/Other', keyed);
    assert.equal(revoked.status, 401);

    await client.request('backend:stop', [backend.id]);
  });
});
