// The editor contract, driven exactly as today's OpenNoodl editor drives its backend: its
// ServiceSupervisor spawns packaging/editor/nodegx-backend/cli.js with the Node binary and
// ELECTRON_RUN_AS_NODE=1, stdio ['ignore','pipe','pipe'], the `serve …` argv, waits 15 s for the READY
// line, probes /health with a 1.5 s timeout, proxies every backend:* channel with the Bearer token from
// secrets.json, and stops with SIGTERM then SIGKILL after 3 s. Every row of docs/editor.md's table is
// called here with the editor's method, path, headers and body; the test fails if a row was not.
//
// NOODL_SIDECAR_ONEDIR=<dir of the onedir build> adds the run through the frozen binary, laid out
// under a resources folder the way a packaged editor holds it.
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { REPO_ROOT } from './sidecar-client.mjs';

const LAUNCHER = path.join(REPO_ROOT, 'packaging', 'editor', 'nodegx-backend', 'cli.js');
const READY_PREFIX = 'NODEGX_BACKEND_READY ';
const READY_TIMEOUT_MS = 15000;
const STOP_GRACE_MS = 3000;
const HELLO = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'hello.workflow.json'), 'utf8'));

const scratch = mkdtempSync(path.join(tmpdir(), 'editor contract '));
after(() => rmSync(scratch, { recursive: true, force: true }));

/** What docs/editor.md promises: `METHOD /route` of every row whose route column is an HTTP call. */
function documentedRoutes() {
  const text = readFileSync(path.join(REPO_ROOT, 'docs', 'editor.md'), 'utf8');
  const routes = [];
  for (const line of text.split('\n')) {
    const match = /^\| `(backend:[^`]+|execution-history:\*)`[^|]*\| `(GET|POST|PUT|DELETE) (\/[^`]*)` \|/.exec(line);
    if (match) routes.push({ channel: match[1], method: match[2], pattern: match[3] });
  }
  return routes;
}

function routeRegex(pattern) {
  const escaped = pattern.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/:[A-Za-z]+/g, '[^/]+');
  return new RegExp(`^${escaped}$`);
}

async function freePort() {
  const server = net.createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** One backend, supervised as ServiceSupervisor supervises it. */
class Supervised {
  constructor({ entry, dataDir, port, id, name, projectDir, env = {} }) {
    Object.assign(this, { entry, dataDir, port, id, name, projectDir, env });
    this.calls = [];
    this.log = [];
  }

  start() {
    const args = [this.entry, 'serve', '--data-dir', this.dataDir, '--port', String(this.port), '--backend-id', this.id,
      '--backend-name', this.name, '--parent-pid', String(process.pid)];
    if (this.projectDir) args.push('--project-dir', this.projectDir);
    const started = performance.now();
    this.child = spawn(process.execPath, args, {
      env: { ...process.env, ...this.env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    this.child.stderr.on('data', (chunk) => this.log.push(chunk.toString()));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no READY within 15 s:\n${this.log.join('')}`)), READY_TIMEOUT_MS);
      this.child.stdout.on('data', (chunk) => {
        const line = chunk.toString().split('\n').find((l) => l.startsWith(READY_PREFIX));
        if (!line || this.ready) return;
        clearTimeout(timer);
        this.ready = JSON.parse(line.slice(READY_PREFIX.length));
        this.readyMs = performance.now() - started;
        this.endpoint = `http://127.0.0.1:${this.ready.port}`;
        resolve(this.ready);
      });
      this.child.on('exit', (code, signal) => {
        clearTimeout(timer);
        if (!this.ready) reject(new Error(`exited before READY (${code}, ${signal}):\n${this.log.join('')}`));
      });
    });
  }

  adminToken() {
    return JSON.parse(readFileSync(path.join(this.dataDir, 'secrets.json'), 'utf8')).adminToken || null;
  }

  async fetchHealth() {
    this.calls.push({ method: 'GET', pathname: '/health' });
    try {
      const res = await fetch(`${this.endpoint}/health`, { signal: AbortSignal.timeout(1500) });
      return res.ok ? await res.json() : null;
    } catch (e) {
      return null;
    }
  }

  /** ServiceSupervisor.request: JSON, Bearer token, throws the server's `error`. */
  async request(method, pathName, body) {
    this.calls.push({ method, pathname: new URL(pathName, 'http://x').pathname });
    const headers = {};
    if (body !== undefined) headers['content-type'] = 'application/json';
    const token = this.adminToken();
    if (token) headers.authorization = `Bearer ${token}`;
    const res = await fetch(`${this.endpoint}${pathName}`, {
      method,
      headers: Object.keys(headers).length ? headers : undefined,
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(30000)
    });
    let json = null;
    try {
      json = await res.json();
    } catch (e) {
      /* non-JSON response */
    }
    if (!res.ok) {
      const error = new Error((json && json.error) || `${method} ${pathName} failed with HTTP ${res.status}`);
      error.status = res.status;
      throw error;
    }
    return json;
  }

  /** A GET whose body is not JSON (the dashboard page). */
  async page(pathName) {
    this.calls.push({ method: 'GET', pathname: pathName });
    const res = await fetch(`${this.endpoint}${pathName}`, { signal: AbortSignal.timeout(5000) });
    return { status: res.status, type: res.headers.get('content-type'), text: await res.text() };
  }

  /** SIGTERM, then SIGKILL after 3 s; resolves with how it ended and how long it took. */
  stop() {
    const child = this.child;
    const started = performance.now();
    return new Promise((resolve) => {
      if (child.exitCode !== null) return resolve({ code: child.exitCode, signal: null, ms: 0, killed: false });
      let killed = false;
      const timer = setTimeout(() => {
        killed = true;
        child.kill('SIGKILL');
      }, STOP_GRACE_MS);
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        resolve({ code, signal, ms: performance.now() - started, killed });
      });
      child.kill('SIGTERM');
    });
  }
}

/** Just enough SMTP to take one message, for backend:sendTestEmail. */
async function fakeSmtp() {
  const messages = [];
  const server = net.createServer((socket) => {
    socket.write('220 fake ESMTP\r\n');
    let buffer = '';
    let data = null;
    socket.on('data', (chunk) => {
      buffer += chunk.toString();
      let index;
      while ((index = buffer.indexOf('\r\n')) !== -1) {
        const line = buffer.slice(0, index);
        buffer = buffer.slice(index + 2);
        if (data !== null) {
          if (line === '.') {
            messages.push(data.join('\n'));
            data = null;
            socket.write('250 queued\r\n');
          } else data.push(line);
        } else if (/^DATA/i.test(line)) {
          data = [];
          socket.write('354 go on\r\n');
        } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
        else socket.write('250 ok\r\n');
      }
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, messages, close: () => server.close() };
}

/** The Data Browser's realtime subscription, as ServiceSupervisor.openRealtimeStream opens it. */
function openRealtime(backend, collection, onChange) {
  const url = new URL(`${backend.endpoint}/realtime`);
  backend.calls.push({ method: 'GET', pathname: '/realtime' });
  let clientId = null;
  const req = http.request(
    { hostname: url.hostname, port: url.port, path: url.pathname, method: 'GET',
      headers: { Accept: 'text/event-stream', Authorization: `Bearer ${backend.adminToken()}` } },
    (res) => {
      res.setEncoding('utf8');
      let buffer = '';
      res.on('data', (chunk) => {
        buffer += chunk;
        let sep;
        while ((sep = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, sep);
          buffer = buffer.slice(sep + 2);
          let event;
          let data;
          for (const line of block.split('\n')) {
            if (line.startsWith('event: ')) event = line.slice(7);
            else if (line.startsWith('data: ')) data = JSON.parse(line.slice(6));
          }
          if (event === 'connected') {
            clientId = data.clientId;
            backend.request('POST', '/realtime/subscriptions', { clientId, subscriptions: [{ collection }] })
              .then(() => onChange('subscribed', null));
          } else if (event === 'change') onChange('change', data);
        }
      });
    }
  );
  req.on('error', () => {});
  req.end();
  return { close: () => req.destroy() };
}

async function rejectsWith(promise, status, pattern) {
  await assert.rejects(promise, (error) => {
    assert.equal(error.status, status, error.message);
    if (pattern) assert.match(error.message, pattern);
    return true;
  });
}

/** Every channel of both BackendManager versions, in the order a user would meet them. */
async function exerciseEveryChannel(b) {
  const r = (method, route, body) => b.request(method, route, body);
  const enc = encodeURIComponent;

  // ---- backend:status, backend:open-dashboard
  const health = await b.fetchHealth();
  assert.equal(health.ok, true);
  assert.equal(health.persistence.mode, 'persistent');
  assert.deepEqual(health.workflows.functions, []);
  const who = await r('GET', '/_admin/whoami');
  assert.equal(who.adminAccount, false);
  assert.equal(who.projectDir, b.projectDir);
  const page = await b.page('/_admin');
  assert.equal(page.status, 200);
  assert.match(page.type, /text\/html/);

  // ---- schema channels
  const table = { name: 'Todo', columns: [{ name: 'title', type: 'String' }, { name: 'rank', type: 'Number' }] };
  assert.equal((await r('POST', '/admin/schema', { action: 'createTable', table: table.name, columns: table.columns })).created, true);
  assert.equal((await r('POST', '/admin/schema', { action: 'createTable', table: table.name, columns: table.columns })).created, false);
  await r('POST', '/admin/schema', { action: 'addColumn', table: 'Todo', column: { name: 'done', type: 'Boolean' } });
  assert.ok((await r('GET', '/admin/schema')).tables.some((t) => t.name === 'Todo'));
  const todo = await r('GET', `/admin/schema/${enc('Todo')}`);
  assert.deepEqual(todo.columns.map((c) => c.name), ['title', 'rank', 'done']);
  await rejectsWith(r('GET', `/admin/schema/${enc('Nope')}`), 404);

  // ---- records (Data Browser) and the realtime subscription
  const changes = [];
  let subscribed;
  const isSubscribed = new Promise((resolve) => (subscribed = resolve));
  const stream = openRealtime(b, 'Todo', (kind, data) => (kind === 'subscribed' ? subscribed() : changes.push(data)));
  await isSubscribed;
  const record = await r('POST', `/api/${enc('Todo')}`, { title: 'first', rank: 1 });
  assert.ok(record.objectId);
  const params = new URLSearchParams({ limit: '50', skip: '0', where: JSON.stringify({ rank: 1 }), sort: JSON.stringify(['-createdAt']), count: '1' });
  const page1 = await r('GET', `/api/${enc('Todo')}?${params}`);
  assert.equal(page1.count, 1);
  assert.equal(page1.results[0].title, 'first');
  assert.equal((await r('GET', `/api/${enc('Todo')}?limit=0&count=1`)).count, 1);
  const saved = await r('PUT', `/api/${enc('Todo')}/${enc(record.objectId)}`, { title: 'second' });
  assert.ok(saved);
  for (let i = 0; i < 100 && changes.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
  stream.close();
  assert.ok(changes.length > 0, 'a change frame reached the subscription');

  const retyped = await r('POST', '/admin/schema', { action: 'changeColumnType', table: 'Todo', column: 'rank', type: 'String' });
  assert.equal(retyped.changed, true);
  assert.equal(retyped.from, 'Number');
  assert.equal(retyped.rebuilt, true);
  assert.equal(retyped.convertedValues, 1);
  await rejectsWith(r('POST', '/admin/schema', { action: 'changeColumnType', table: 'Todo', column: 'rank', type: 'Relation' }), 400, /Cannot change/);
  assert.equal((await r('GET', `/api/Todo/${record.objectId}`)).rank, '1');
  await r('POST', '/admin/schema', { action: 'renameColumn', table: 'Todo', oldName: 'title', newName: 'label' });
  assert.equal(typeof (await r('GET', `/admin/schema-export?format=${enc('json')}`)).content, 'string');
  await r('DELETE', `/api/${enc('Todo')}/${enc(record.objectId)}`);
  await r('POST', '/admin/schema', { action: 'createTable', table: 'Scratch', columns: [] });
  assert.equal((await r('POST', '/admin/schema', { action: 'deleteTable', table: 'Scratch' })).deleted, true);

  // ---- cloud functions and the execution history
  await r('PUT', `/admin/workflows/${enc('hello')}`, HELLO);
  await r('POST', '/admin/workflows/reload');
  const status = await r('GET', '/admin/workflows');
  assert.equal(status.initialized, true);
  assert.deepEqual(status.functions.map((f) => f.name), ['hello']);

  // ---- workflow definitions (stored; no engine to run them)
  const definition = { name: 'Greet flow', entry: 'a', steps: [{ id: 'a', kind: 'wait', next: ['b'] }, { id: 'b', kind: 'call-function', ref: 'hello' }] };
  const created = (await r('POST', '/admin/workflow-defs', definition)).workflow;
  assert.ok(created.id);
  const edited = { ...created, name: 'Greet flow 2' };
  assert.equal((await r('PUT', `/admin/workflow-defs/${enc(created.id)}`, edited)).workflow.name, 'Greet flow 2');
  await rejectsWith(r('PUT', `/admin/workflow-defs/${enc(created.id)}`, { ...edited, entry: 'zz' }), 400, /entry/);
  const verdict = await r('POST', '/admin/workflow-defs/validate', { ...edited, steps: [] });
  assert.equal(verdict.valid, false);
  assert.ok(verdict.errors.length > 0);
  assert.deepEqual((await r('GET', `/admin/workflow-defs/${enc(created.id)}`)).workflow, edited);
  assert.equal((await r('GET', '/admin/workflow-defs')).workflows.length, 1);
  await rejectsWith(r('POST', `/admin/workflow-defs/${enc(created.id)}/run`, { payload: {} }), 501, /no engine/);
  await rejectsWith(r('POST', `/admin/workflow-runs/${enc('exec_123')}/cancel`), 404);
  assert.deepEqual((await r('GET', '/admin/workflow-step-kinds')).kinds, []);
  assert.equal((await r('DELETE', `/admin/workflow-defs/${enc(created.id)}`)).deleted, true);

  // ---- access control
  const policy = await r('GET', '/admin/permissions');
  await r('PUT', '/admin/permissions', { ...policy, devOpen: false });
  await r('PUT', `/admin/permissions/collections/${enc('Todo')}`, { find: { '*': true } });
  const access = await r('POST', '/admin/permissions/check', { collection: 'Todo', operation: 'find' });
  assert.equal(access.allowed, true);
  await r('DELETE', `/admin/permissions/collections/${enc('Todo')}`);
  const rules = await r('GET', '/admin/permissions/functions');
  assert.equal(rules.functions.find((f) => f.name === 'hello').call, 'public');
  assert.equal((await r('PUT', `/admin/permissions/functions/${enc('hello')}`, { call: 'authenticated' })).function.call, 'authenticated');
  assert.equal((await r('DELETE', `/admin/permissions/functions/${enc('hello')}`)).function.source, 'requestNode');

  const user = await (await fetch(`${b.endpoint}/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'X-Parse-Application-Id': b.id },
    body: JSON.stringify({ username: 'ann', password: 'pw-ann-123' })
  })).json();
  assert.ok(user.objectId, JSON.stringify(user));
  await r('POST', '/admin/roles', { name: 'editors' });
  assert.ok((await r('GET', '/admin/roles')).roles.some((role) => role.name === 'editors'));
  await r('POST', `/admin/roles/${enc('editors')}/users`, { userId: user.objectId });
  await r('DELETE', `/admin/roles/${enc('editors')}/users/${enc(user.objectId)}`);
  await r('DELETE', `/admin/roles/${enc('editors')}`);
  const key = await r('POST', '/admin/keys', { name: 'ci', scopes: ['data:read'] });
  assert.ok((await r('GET', '/admin/keys')).keys.length === 1);
  await r('DELETE', `/admin/keys/${enc(key.objectId || key.id)}`);

  // ---- function secrets: names come back, values never
  assert.equal((await r('PUT', `/admin/secrets/${enc('STRIPE_KEY')}`, { value: 'sk_test_never_shown' })).created, true);
  const listing = await r('GET', '/admin/secrets');
  assert.deepEqual(listing.secrets.map((s) => s.name), ['STRIPE_KEY']);
  assert.ok(!JSON.stringify(listing).includes('sk_test_never_shown'));
  assert.equal((await r('DELETE', `/admin/secrets/${enc('STRIPE_KEY')}`)).existed, true);

  // ---- search (stored; no index engine)
  assert.equal(typeof (await r('GET', '/admin/search')).fts5Available, 'boolean');
  await rejectsWith(r('PUT', `/admin/search/collections/${enc('Todo')}`, { fields: ['label'] }), 503, /no full-text index engine/);
  await rejectsWith(r('POST', `/admin/search/collections/${enc('Todo')}/rebuild`), 503);
  assert.equal((await r('DELETE', `/admin/search/collections/${enc('Todo')}`)).removed, true);

  // ---- sign-in providers
  assert.ok((await r('GET', '/admin/auth')).presets.github);
  assert.deepEqual((await r('PUT', '/admin/auth', { redirectAllowList: ['https://app.example'] })).config.redirectAllowList, ['https://app.example']);
  const provider = (await r('PUT', `/admin/auth/providers/${enc('github')}`, { preset: 'github', clientId: 'abc', clientSecret: 'gh-secret' })).provider;
  assert.equal(provider.hasClientSecret, true);
  assert.ok(!JSON.stringify(provider).includes('gh-secret'));
  await r('DELETE', `/admin/auth/providers/${enc('github')}`);

  // ---- triggers (both verbs for enabling)
  const created2 = await r('POST', '/admin/triggers', { type: 'webhook', target: { kind: 'function', name: 'hello' }, webhook: { slug: 'greet', scheme: 'token' } });
  const triggerId = created2.trigger.id;
  assert.ok(created2.secret);
  assert.equal((await r('GET', `/admin/triggers/${enc(triggerId)}`)).id || triggerId, triggerId);
  assert.ok((await r('GET', '/admin/triggers')).triggers.some((t) => t.id === triggerId));
  await r('PUT', `/admin/triggers/${enc(triggerId)}`, { type: 'webhook', target: { kind: 'function', name: 'hello' }, webhook: { slug: 'greet2', scheme: 'token' } });
  assert.equal((await r('POST', `/admin/triggers/${enc(triggerId)}/enabled`, { enabled: false })).trigger.enabled, false);
  assert.equal((await r('PUT', `/admin/triggers/${enc(triggerId)}/enabled`, { enabled: true })).trigger.enabled, true);
  const rotated = await r('POST', `/admin/triggers/${enc(triggerId)}/secret`);
  assert.notEqual(rotated.secret, created2.secret);
  const fired = await r('POST', `/admin/triggers/${enc(triggerId)}/fire`, { name: 'Fire' });
  assert.equal(fired.ok, true);
  assert.equal((await r('DELETE', `/admin/triggers/${enc(triggerId)}`)).deleted, true);

  let runs = [];
  for (let i = 0; i < 100 && runs.length === 0; i++) {
    runs = await r('GET', `/executions?workflowId=${enc('hello')}`);
    if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, 30));
  }
  assert.ok(runs.length > 0);
  assert.ok(Array.isArray((await r('GET', `/executions/${enc(runs[0].id)}`)).steps));

  // ---- email
  const smtp = await fakeSmtp();
  try {
    assert.equal((await r('GET', '/admin/email/config')).configured, false);
    await rejectsWith(r('POST', '/admin/email/test', { to: 'dev@example.com' }), 503);
    const set = await r('PUT', '/admin/email/config', { from: 'app@example.com', smtp: { host: '127.0.0.1', port: smtp.port }, smtpPassword: 'smtp-pw' });
    assert.equal(set.configured, true);
    assert.equal(set.hasSmtpPassword, true);
    assert.equal((await r('POST', '/admin/email/test', { to: 'dev@example.com' })).success, true);
    assert.equal(smtp.messages.length, 1);
  } finally {
    smtp.close();
  }
  assert.equal((await r('GET', '/admin/email/templates')).templates.length, 3);
  assert.equal((await r('PUT', `/admin/email/templates/${enc('verifyEmail')}`, { subject: 'Hi {{username}}' })).effective.subject, 'Hi {{username}}');
  assert.equal((await r('GET', `/admin/email/templates/${enc('verifyEmail')}/preview`)).preview.subject, 'Hi jane.doe');
  assert.equal((await r('DELETE', `/admin/email/templates/${enc('verifyEmail')}`)).removed, true);
}

function assertEveryRowCalled(backend) {
  const rows = documentedRoutes();
  assert.ok(rows.length > 60, `docs/editor.md lists the editor's routes (found ${rows.length})`);
  const missing = rows.filter(({ method, pattern }) => {
    const regex = routeRegex(pattern);
    return !backend.calls.some((call) => call.method === method && regex.test(call.pathname));
  });
  assert.deepEqual(missing.map((row) => `${row.channel} ${row.method} ${row.pattern}`), []);
}

async function runContract(entry, env, label) {
  const dataDir = path.join(scratch, `${label} data`, 'backend_contract');
  const projectDir = path.join(scratch, `${label} project`);
  mkdirSync(projectDir, { recursive: true });
  const backend = new Supervised({ entry, dataDir, port: await freePort(), id: 'backend_contract', name: 'Contract', projectDir, env });
  try {
    await backend.start();
    assert.equal(backend.ready.port, backend.port);
    process.stderr.write(`# ${label}: READY after ${Math.round(backend.readyMs)} ms\n`);
    await exerciseEveryChannel(backend);
    assertEveryRowCalled(backend);
  } finally {
    const stopped = await backend.stop();
    assert.equal(stopped.killed, false, `SIGTERM was enough (took ${Math.round(stopped.ms)} ms)`);
    assert.equal(stopped.code, 0);
  }
}

test('every channel of the editor, through the launcher from source, in a path with a space', async () => {
  await runContract(LAUNCHER, {}, 'source');
});

test('the onedir build under a resources folder, found beside the launcher', { skip: !process.env.NOODL_SIDECAR_ONEDIR && 'set NOODL_SIDECAR_ONEDIR to the onedir build' }, async () => {
  const resources = path.join(scratch, 'Editor Resources ü', 'nodegx-backend');
  mkdirSync(resources, { recursive: true });
  copyFileSync(LAUNCHER, path.join(resources, 'cli.js'));
  cpSync(process.env.NOODL_SIDECAR_ONEDIR, path.join(resources, 'noodl-sidecar'), { recursive: true, verbatimSymlinks: true });
  await runContract(path.join(resources, 'cli.js'), { NOODL_SIDECAR_BIN: '' }, 'onedir');
});

function alive(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z'); // a zombie has exited
  } catch (e) {
    return false;
  }
}

test('kill -9 of the launcher leaves no sidecar behind within 2 s', { skip: process.platform !== 'linux' && '/proc is Linux' }, async () => {
  const backend = new Supervised({ entry: LAUNCHER, dataDir: path.join(scratch, 'kill data', 'b'), port: await freePort(), id: 'b', name: 'B' });
  await backend.start();
  const sidecarPid = Number(execFileSync('pgrep', ['-P', String(backend.child.pid)]).toString().trim().split('\n')[0]);
  assert.ok(alive(sidecarPid));
  const killedAt = performance.now();
  process.kill(backend.child.pid, 'SIGKILL');
  while (alive(sidecarPid) && performance.now() - killedAt < 2000) await new Promise((resolve) => setTimeout(resolve, 25));
  assert.equal(alive(sidecarPid), false, 'the sidecar outlived its launcher by 2 s');
});

test('kill -9 of the editor leaves neither launcher nor sidecar behind within 2 s', { skip: process.platform !== 'linux' && '/proc is Linux' }, async () => {
  // A stand-in editor: spawns the launcher as ServiceSupervisor does, with --parent-pid of itself.
  const dataDir = path.join(scratch, 'editor kill data', 'b');
  const script = `
    const { spawn } = require('child_process');
    const child = spawn(process.execPath, [${JSON.stringify(LAUNCHER)}, 'serve', '--data-dir', ${JSON.stringify(dataDir)},
      '--port', '0', '--backend-id', 'b', '--backend-name', 'B', '--parent-pid', String(process.pid)],
      { env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' }, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (chunk) => { if (String(chunk).startsWith('NODEGX_BACKEND_READY')) console.log(child.pid); });
    setInterval(() => {}, 1000);`;
  const editor = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const launcherPid = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no READY')), READY_TIMEOUT_MS);
    editor.stdout.once('data', (chunk) => { clearTimeout(timer); resolve(Number(String(chunk).trim())); });
  });
  const sidecarPid = Number(execFileSync('pgrep', ['-P', String(launcherPid)]).toString().trim().split('\n')[0]);
  const killedAt = performance.now();
  process.kill(editor.pid, 'SIGKILL');
  while ((alive(sidecarPid) || alive(launcherPid)) && performance.now() - killedAt < 2000) {
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  assert.equal(alive(sidecarPid), false, 'the sidecar outlived the editor by 2 s');
  assert.equal(alive(launcherPid), false, 'the launcher outlived the editor by 2 s');
});

test('NOODL_SIDECAR_BIN wins; argv passes unchanged (spaces kept), --parent-pid is added, the exit code comes back', { skip: process.platform === 'win32' && 'a shell script stands in for the sidecar' }, async () => {
  const dir = path.join(scratch, 'bin override');
  mkdirSync(dir, { recursive: true });
  const fake = path.join(dir, 'fake sidecar.sh');
  writeFileSync(fake, '#!/bin/sh\nfor a in "$@"; do printf "%s\\n" "$a"; done\nprintf "electron=%s\\n" "${ELECTRON_RUN_AS_NODE:-unset}"\nexit 7\n', { mode: 0o755 });
  const run = (args) => new Promise((resolve) => {
    const child = spawn(process.execPath, [LAUNCHER, ...args], {
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', NOODL_SIDECAR_BIN: fake },
      stdio: ['ignore', 'pipe', 'pipe']
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.on('exit', (code) => resolve({ code, lines: stdout.trim().split('\n'), pid: child.pid }));
  });
  const given = await run(['serve', '--data-dir', '/a b/c', '--parent-pid', '42', '--project-dir', '/My Project']);
  assert.equal(given.code, 7);
  assert.deepEqual(given.lines, ['serve', '--data-dir', '/a b/c', '--parent-pid', '42', '--project-dir', '/My Project', 'electron=unset']);
  const added = await run(['serve', '--data-dir', '/d']);
  assert.deepEqual(added.lines, ['serve', '--data-dir', '/d', '--parent-pid', String(added.pid), 'electron=unset']);
});

test('without a sidecar to run, the launcher says where it looked and exits 127', async () => {
  const lonely = path.join(scratch, 'lonely', 'nodegx-backend');
  mkdirSync(lonely, { recursive: true });
  copyFileSync(LAUNCHER, path.join(lonely, 'cli.js'));
  writeFileSync(path.join(lonely, 'package.json'), '{"type":"commonjs"}');
  const env = { ...process.env, ELECTRON_RUN_AS_NODE: '1' };
  delete env.NOODL_SIDECAR_BIN;
  const result = await new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(lonely, 'cli.js'), 'serve', '--data-dir', lonely], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
  assert.equal(result.code, 127);
  assert.match(result.stderr, /noodl-sidecar not found/);
});
