// End-to-end tests of the stdio protocol, through the same client the editor would use.
// Run: node --test tests/js/   (SIDECAR_COMMAND='["path/to/binary","stdio"]' to test a build)

import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { Packr } from 'msgpackr';
import { REPO_ROOT, RpcError, SidecarClient, sidecarCommand } from './sidecar-client.mjs';

const DIAGNOSTICS = { NOODL_SIDECAR_DIAGNOSTICS: '1' };
const clients = [];

function start(env = DIAGNOSTICS) {
  const client = SidecarClient.spawn({ env });
  clients.push(client);
  return client;
}

async function started(env = DIAGNOSTICS) {
  const client = start(env);
  await client.initialize();
  return client;
}

function assertCleanStdout(client) {
  assert.equal(client.protocolError, null, `stdout carried something that is not a frame: ${client.protocolError}`);
}

async function rpcError(promise) {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof RpcError, `expected an RpcError, got ${error}`);
    return error;
  }
  assert.fail('expected the call to fail');
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  // An exited child of a dead parent may linger as a zombie until something reaps it.
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return true;
  }
}

async function waitUntil(predicate, timeoutMs) {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if (predicate()) return Date.now() - started;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return null;
}

after(() => {
  for (const client of clients) client.kill();
});

describe('handshake and lifecycle', () => {
  test('initialize answers server info, protocol version, capabilities and import time', async () => {
    const client = start();
    const result = await client.initialize();
    assert.equal(result.protocolVersion, '1.0');
    assert.equal(result.serverInfo.name, 'noodl-sidecar');
    assert.match(result.serverInfo.version, /^\d+\.\d+\.\d+/);
    assert.equal(typeof result.importMs, 'number');
    assert.ok(result.capabilities.methods.includes('sidecar:selftest'));
    assert.ok(result.capabilities.methods.includes('$/ping'));
    assert.equal(result.capabilities.maxMessageBytes, 64 * 1024 * 1024);
    const exit = await client.shutdownAndExit();
    assert.equal(exit.code, 0);
    assertCleanStdout(client);
  });

  test('requests before initialize get -32002 and notifications are dropped', async () => {
    const client = start();
    client.notify('$/cancelRequest', [{ id: 1 }]);
    const error = await rpcError(client.request('$/ping'));
    assert.equal(error.code, -32002);
    await client.initialize();
    assert.equal(await client.request('$/ping'), null);
    assertCleanStdout(client);
  });

  test('a second initialize is refused with -32600', async () => {
    const client = await started();
    const error = await rpcError(client.initialize());
    assert.equal(error.code, -32600);
  });

  test('an unsupported protocol major version is refused, then the process exits 1', async () => {
    const client = start();
    const error = await rpcError(client.initialize({ protocolVersion: '2.0' }));
    assert.equal(error.code, -32600);
    assert.equal(error.data.supported, '1.0');
    const exit = await client.waitExit(2000);
    assert.equal(exit.code, 1);
  });

  test('requests after shutdown get -32600; exit after shutdown is code 0', async () => {
    const client = await started();
    assert.equal(await client.request('shutdown'), null);
    const error = await rpcError(client.request('$/ping'));
    assert.equal(error.code, -32600);
    client.notify('exit');
    assert.equal((await client.waitExit(2000)).code, 0);
  });

  test('exit without shutdown is code 1', async () => {
    const client = await started();
    client.notify('exit');
    assert.equal((await client.waitExit(2000)).code, 1);
  });

  test('selftest passes every check and reports progress when given a token', async () => {
    const client = await started();
    const progress = [];
    client.notificationListeners.add((note) => note.method === '$/progress' && progress.push(note.params[0]));
    const result = await client.request('sidecar:selftest', [{ $meta: { progressToken: 'st-1' } }]);
    assert.equal(result.ok, true, JSON.stringify(result.checks));
    const names = result.checks.map((check) => check.name);
    for (const needed of ['msgpack', 'pydantic-core', 'sqlite3', 'aiosqlite', 'aiohttp', 'croniter', 'quickjs']) {
      assert.ok(names.includes(needed), `selftest lacks ${needed}`);
    }
    assert.deepEqual(progress[0], { token: 'st-1', value: { kind: 'begin', title: 'Self-test' } });
    assert.equal(progress.at(-1).value.kind, 'end');
  });
});

describe('runtime', () => {
  test('runtime:nodeLibrary lists every node type of the cloud node library with its ports', async (t) => {
    const libraryPath = path.join(REPO_ROOT, 'tests', 'fixtures', 'cloud-nodelib.json');
    const expected = JSON.parse(readFileSync(libraryPath, 'utf8')).nodetypes.map((type) => type.name);
    const client = await started();
    const library = await client.request('runtime:nodeLibrary');
    const names = new Set(library.map((type) => type.name));
    const missing = expected.filter((name) => !names.has(name));
    assert.deepEqual(missing, []);
    const expression = library.find((type) => type.name === 'Expression');
    assert.equal(expression.category, 'CustomCode');
    assert.ok(expression.ports.some((port) => port.name === 'result' && port.plug === 'output'));
  });
});

describe('errors', () => {
  test('an unknown method is -32601 and names the method', async () => {
    const client = await started();
    const error = await rpcError(client.request('backend:nonsense', []));
    assert.equal(error.code, -32601);
    assert.match(error.message, /backend:nonsense/);
  });

  test('invalid params are -32602 with the validation errors as data', async () => {
    const client = await started();
    const error = await rpcError(client.request('diagnostics:sleep', [{ ms: 'soon' }]));
    assert.equal(error.code, -32602);
    assert.ok(Array.isArray(error.data) && error.data.length === 1);
    assert.deepEqual(error.data[0].loc, ['options', 'ms']);
    const extra = await rpcError(client.request('sidecar:selftest', [1]));
    assert.equal(extra.code, -32602);
  });

  test('a malformed envelope with a readable id is answered with -32600 under that id', async () => {
    const client = await started();
    const packr = new Packr({ useRecords: false });
    const answer = await client.sendRaw(packr.pack([0, 4242, 42, []]), 4242);
    assert.equal(answer.error.code, -32600);
    assert.match(answer.error.message, /method must be a string/);
    assert.equal(await client.request('$/ping'), null);
    assertCleanStdout(client);
  });
});

describe('cancellation', () => {
  test('a cancelled slow call is answered with -32800 and really stops', async () => {
    const client = await started();
    const { id, promise } = client.requestWithId('diagnostics:sleep', [{ ms: 20000 }]);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const before = Date.now();
    client.notify('$/cancelRequest', [{ id }]);
    const error = await rpcError(promise);
    assert.equal(error.code, -32800);
    assert.ok(Date.now() - before < 1000, 'cancellation took too long');
    // The session is alive and the cancelled call left nothing behind.
    assert.equal(await client.request('$/ping'), null);
    const exit = await client.shutdownAndExit();
    assert.equal(exit.code, 0);
    assert.ok(exit.ms < 1000, `shutdown waited for the cancelled call (${exit.ms} ms)`);
  });

  test('cancelling an unknown id is harmless', async () => {
    const client = await started();
    client.notify('$/cancelRequest', [{ id: 999999 }]);
    assert.equal(await client.request('$/ping'), null);
  });
});

describe('throughput and payloads', () => {
  test('10,000 pipelined calls are each answered exactly once under their own id', async () => {
    const client = await started();
    const calls = [];
    for (let i = 0; i < 10000; i += 1) {
      const { id, promise } = client.requestWithId('diagnostics:echo', [{ n: i }]);
      calls.push(promise.then((result) => ({ id, n: i, result })));
    }
    const answers = await Promise.all(calls);
    assert.equal(answers.length, 10000);
    assert.equal(new Set(answers.map((a) => a.id)).size, 10000);
    for (const answer of answers) assert.deepEqual(answer.result, { n: answer.n });
    assert.equal(client.pending.size, 0);
    assertCleanStdout(client);
  });

  test('a 32 MiB binary payload round-trips unchanged', async () => {
    const client = await started();
    const payload = randomBytes(32 * 1024 * 1024);
    const echoed = await client.request('diagnostics:echo', [payload], { timeoutMs: 60000 });
    assert.ok(Buffer.isBuffer(echoed) || echoed instanceof Uint8Array);
    assert.equal(Buffer.compare(Buffer.from(echoed), payload), 0);
  });

  test('large integers keep their value across the wire', async () => {
    const client = await started();
    assert.equal(await client.request('diagnostics:echo', [2 ** 40]), 2 ** 40);
    assert.equal(await client.request('diagnostics:echo', [-(2 ** 33)]), -(2 ** 33));
  });

  test('an oversized message is rejected with a clear error and the session stays alive', async () => {
    const client = await started();
    const oversized = Buffer.alloc(65 * 1024 * 1024, 7);
    const error = await rpcError(client.request('diagnostics:echo', [oversized], { timeoutMs: 60000 }));
    assert.equal(error.code, -32600);
    assert.match(error.message, /exceeds the limit of 67108864 bytes/);
    assert.equal(await client.request('diagnostics:echo', ['still here']), 'still here');
    const oversizedNote = client.waitForNotification('$/error', (params) => /exceeds the limit/.test(params[0].message));
    client.notify('diagnostics:echo', [oversized]);
    await oversizedNote;
    assert.equal(await client.request('$/ping'), null);
    assertCleanStdout(client);
  });

  test('the message limit is configurable and applies to results too', async () => {
    const client = SidecarClient.spawn({
      env: DIAGNOSTICS,
      command: [...sidecarCommand(), '--max-message-mib', '1'],
    });
    clients.push(client);
    const result = await client.initialize();
    assert.equal(result.capabilities.maxMessageBytes, 1024 * 1024);
    const error = await rpcError(client.request('diagnostics:echo', [Buffer.alloc(2 * 1024 * 1024)]));
    assert.equal(error.code, -32600);
    assert.equal(await client.request('$/ping'), null);
  });
});

describe('stdout purity', () => {
  test('a handler that print()s does not corrupt the stream; the text goes to stderr', async () => {
    const client = await started();
    await client.request('diagnostics:print', ['hello from a careless handler']);
    assert.equal(await client.request('diagnostics:echo', ['after print']), 'after print');
    await client.shutdownAndExit();
    assertCleanStdout(client);
    assert.ok(client.stderrLines.some((line) => line.includes('hello from a careless handler')));
    assert.ok(client.stderrLines.some((line) => line.includes('(fd 1)')));
  });

  test('every stderr log line is JSON with the fixed keys', async () => {
    const client = await started();
    await client.shutdownAndExit();
    const records = client.logRecords();
    assert.ok(records.some((record) => record.event === 'ready'));
    for (const record of records) {
      for (const key of ['ts', 'level', 'event', 'pid']) assert.ok(key in record, `${key} missing in ${JSON.stringify(record)}`);
    }
  });

  test('$/log notifications arrive when the editor asks for them', async () => {
    const client = start();
    await client.initialize({ logNotifications: true, logLevel: 'info' });
    const logged = client.waitForNotification('$/log', (params) => params[0].event === 'shutdown_requested');
    await client.request('shutdown');
    const [record] = await logged;
    assert.equal(record.level, 'info');
  });
});

describe('ending', () => {
  test('stdin EOF ends the process within 1 s (code 1 without shutdown)', async () => {
    const client = await started();
    client.closeStdin();
    const exit = await client.waitExit(1000);
    assert.equal(exit.code, 1);
  });

  test('SIGTERM is a graceful exit', async () => {
    const client = await started();
    client.kill('SIGTERM');
    const exit = await client.waitExit(2000);
    assert.equal(exit.code, 0);
    assert.ok(client.logRecords().some((record) => record.event === 'exiting' && record.reason === 'SIGTERM'));
  });

  test('the death of the parentPid given in initialize ends the process within 1 s', async () => {
    const stand_in = spawn('sleep', ['60'], { stdio: 'ignore' });
    const client = start();
    await client.initialize({ parentPid: stand_in.pid });
    stand_in.kill('SIGKILL');
    const exit = await client.waitExit(1000);
    assert.equal(exit.code, 1);
    assert.ok(client.logRecords().some((record) => /parent process \d+ is gone/.test(record.reason ?? '')));
  });

  test('the death of the real parent ends the process within 1 s even while stdin stays open', async () => {
    // An intermediate process spawns the sidecar with *our* stdin pipe, so killing it does not close
    // the sidecar's stdin: only the parent-death signal or the re-parenting check can notice.
    const parent = spawn(process.execPath, [path.join(REPO_ROOT, 'tests', 'js', 'fixtures', 'spawning-parent.mjs')], {
      stdio: ['pipe', 'pipe', 'inherit'],
      env: { ...process.env, ...DIAGNOSTICS },
    });
    const sidecarPid = await new Promise((resolve) => parent.stdout.once('data', (data) => resolve(Number(String(data).trim()))));
    assert.ok(pidAlive(sidecarPid));
    parent.kill('SIGKILL');
    const gone = await waitUntil(() => !pidAlive(sidecarPid), 1500);
    parent.stdin.end();
    assert.notEqual(gone, null, 'sidecar outlived its parent');
    assert.ok(gone <= 1000, `sidecar took ${gone} ms to notice its parent died`);
  });

  test('bytes that are not msgpack end the session with a logged reason, never a hang', async () => {
    const client = await started();
    client.writeRaw(Buffer.from([0xc1, 0x00, 0x01]));
    const exit = await client.waitExit(2000);
    assert.equal(exit.code, 1);
    assert.ok(client.logRecords().some((record) => record.event === 'protocol_fatal'));
  });

  test('text written into the stream (not an envelope) is fatal and logged', async () => {
    const client = await started();
    client.writeRaw(Buffer.from('oops\n'));
    const exit = await client.waitExit(2000);
    assert.equal(exit.code, 1);
    const fatal = client.logRecords().find((record) => record.event === 'protocol_fatal');
    assert.match(fatal.reason, /stream corrupted/);
  });

  test('a response to a request the sidecar never sent is fatal', async () => {
    const client = await started();
    client.writeRaw(new Packr({ useRecords: false }).pack([1, 77, null, 'surprise']));
    assert.equal((await client.waitExit(2000)).code, 1);
  });
});
