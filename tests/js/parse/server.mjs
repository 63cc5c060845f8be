// Starts tests/web/sdk_server.py (a store in a temp dir behind the HTTP door on a loopback port) and
// points the official Parse JS SDK at it. Each test file starts and stops its own server.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import Parse from 'parse/node';
import { REPO_ROOT } from '../sidecar-client.mjs';

function pythonCommand() {
  const venv = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  return existsSync(venv) ? venv : 'python3';
}

export async function startServer(args = []) {
  const launcher = path.join(REPO_ROOT, 'tests', 'web', 'sdk_server.py');
  const child = spawn(pythonCommand(), [launcher, ...args], {
    cwd: REPO_ROOT,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise((resolve) => child.once('exit', resolve));
  const lines = createInterface({ input: child.stdout });
  const first = await Promise.race([
    new Promise((resolve) => lines.once('line', resolve)),
    exited.then((code) => {
      throw new Error(`sdk_server exited (${code}) before listening:\n${stderr}`);
    }),
  ]);
  const info = JSON.parse(first);
  return {
    ...info,
    url: `http://127.0.0.1:${info.port}${info.mount === '/' ? '' : info.mount}`,
    async stop() {
      child.stdin.end();
      await exited;
    },
  };
}

// The SDK with the server's app id and master key; the current user is kept in memory, as in a browser.
export async function startParse(args = []) {
  const server = await startServer(args);
  Parse.initialize(server.appId, undefined, server.masterKey);
  Parse.serverURL = server.url;
  Parse.User.enableUnsafeCurrentUser();
  return { Parse, server };
}

export async function rawRequest(server, method, route, { body, headers = {} } = {}) {
  const response = await fetch(`${server.url}${route}`, {
    method,
    headers: { 'X-Parse-Application-Id': server.appId, 'Content-Type': 'application/json', ...headers },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}
