// A sidecar that crashes must leave its reason in the output of whoever spawned it (CI included): the
// client prints faulthandler's report of every thread's stack to stderr, then fails the pending calls.
// The "sidecar" here is a small Python program that crashes the way a native bug would (SIGSEGV)
// after logging a line, with a second thread parked in a known function.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { REPO_ROOT } from './sidecar-client.mjs';

const venvPython = path.join(REPO_ROOT, '.venv', 'bin', 'python');
const python = existsSync(venvPython) ? venvPython : 'python3';

// Waits for the first request, then dies of SIGSEGV with faulthandler enabled (as sidecar/logs.py does).
const CRASHER = `
import faulthandler, sys, threading, time
faulthandler.enable(sys.stderr)
def parked_in_a_worker():
    time.sleep(60)
threading.Thread(target=parked_in_a_worker, daemon=True).start()
sys.stderr.write('{"event": "ready", "level": "info"}\\n')
sys.stderr.flush()
sys.stdin.buffer.read(1)
faulthandler._sigsegv()
`;
const CRASHER_COMMAND = JSON.stringify([python, '-c', CRASHER]);

function runNode(args, env = {}) {
  return spawnSync(process.execPath, args, {
    cwd: REPO_ROOT,
    env: { ...process.env, SIDECAR_COMMAND: CRASHER_COMMAND, ...env },
    encoding: 'utf8',
    timeout: 60000,
  });
}

test('a crashed sidecar: the client prints its stack report, then the pending call fails', () => {
  const script = `
    import { SidecarClient } from './tests/js/sidecar-client.mjs';
    const client = SidecarClient.spawn();
    try {
      await client.initialize();
      console.log('answered');
    } catch (error) {
      console.log('rejected: ' + error.message);
    }
  `;
  const done = runNode(['--input-type=module', '-e', script]);
  assert.equal(done.status, 0, done.stderr);
  assert.match(done.stdout, /^rejected: sidecar exited \(code null, signal SIGSEGV\); the end of its stderr is printed above$/m);
  assert.match(done.stderr, /died of SIGSEGV; faulthandler's report/);
  assert.match(done.stderr, /"event": "ready"/, 'the log lines before the crash come with it');
  assert.match(done.stderr, /Fatal Python error: Segmentation fault/);
  assert.match(done.stderr, /in parked_in_a_worker/, "every thread's stack, not only the crashing one");
  assert.ok(
    done.stderr.indexOf('Fatal Python error') < done.stderr.indexOf("(end of the sidecar's stderr)"),
    'the whole report is printed before the call fails',
  );
});

test('the demo shows the stack report when its sidecar crashes', () => {
  const home = mkdtempSync(path.join(tmpdir(), 'noodl-crash-demo-'));
  try {
    const done = runNode(['tests/js/demo.mjs'], { NOODL_HOME: home });
    assert.notEqual(done.status, 0);
    assert.match(done.stderr, /died of SIGSEGV/);
    assert.match(done.stderr, /in parked_in_a_worker/);
  } finally {
    rmSync(home, { recursive: true, force: true });
  }
});

test('a sidecar stopped by a signal its caller sent prints no crash report', () => {
  const script = `
    import { SidecarClient } from './tests/js/sidecar-client.mjs';
    const client = SidecarClient.spawn();
    await new Promise((resolve) => setTimeout(resolve, 300));
    client.kill('SIGKILL');
    console.log(JSON.stringify(await client.waitExit()));
  `;
  const done = runNode(['--input-type=module', '-e', script]);
  assert.equal(done.status, 0, done.stderr);
  assert.match(done.stdout, /"signal":"SIGKILL"/);
  assert.doesNotMatch(done.stderr, /died of/);
});
