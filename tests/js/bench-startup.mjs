// Start-up figures for scripts/bench, each measured --runs times on a fresh process:
//   node bench-startup.mjs stdio '<command json>' [--runs N]
//     spawn → `initialize` answered → `initialized` → first `backend:start` answered → /health answers,
//     with nothing in between, as the editor does when it opens a project whose backend exists.
//   node bench-startup.mjs launcher '<launcher path>' [--runs N] [--env '<json>']
//     the editor's ServiceSupervisor: Node runs the launcher with `serve` on a fresh data directory;
//     spawn → the READY line on stdout.
// Every directory it makes is removed before it exits.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SidecarClient } from './sidecar-client.mjs';

const [mode, target, ...rest] = process.argv.slice(2);
const option = (name, fallback) => {
  const index = rest.indexOf(name);
  return index >= 0 ? rest[index + 1] : fallback;
};
const runs = Number(option('--runs', '10'));
const scratch = mkdtempSync(path.join(tmpdir(), 'noodl-bench-startup-'));
process.on('exit', () => rmSync(scratch, { recursive: true, force: true }));

const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const round = (value) => Number(value.toFixed(1));

/** CPU time (user + system, ms) a process has used so far: steadier than wall time on a busy machine. */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime, stime in USER_HZ (100)
}

/** The one child of `pid` (the sidecar under the launcher). */
function childOf(pid) {
  return Number(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(' ')[0]);
}

async function healthy(port) {
  for (;;) {
    try {
      if ((await fetch(`http://127.0.0.1:${port}/health`)).ok) return;
    } catch {
      // not listening yet
    }
  }
}

async function stdioColdStart() {
  const command = JSON.parse(target);
  const env = { NOODL_HOME: path.join(scratch, 'home') };
  // The backend exists from an earlier session, as a project's backend does when the editor opens it.
  const create = async () => {
    const setup = SidecarClient.spawn({ command, env });
    await setup.initialize();
    const created = await setup.request('backend:create', ['bench start']);
    await setup.shutdownAndExit();
    return created.id;
  };
  let id = await create();
  const total = [];
  const initialize = [];
  const cpu = [];
  for (let i = 0, retries = 0; i < runs; i += 1) {
    const t0 = process.hrtime.bigint();
    const client = SidecarClient.spawn({ command, env });
    await client.initialize();
    const initializeMs = ms(t0);
    client.notify('initialized');
    let port;
    try {
      ({ port } = await client.request('backend:start', [id]));
    } catch (error) {
      // Its port was taken by another program since it was created (a shared machine): a new backend.
      await client.shutdownAndExit();
      if (error.data?.code !== 'BACKEND_START_FAILED' || (retries += 1) > 3) throw error;
      id = await create();
      i -= 1;
      continue;
    }
    await healthy(port);
    total.push(ms(t0));
    initialize.push(initializeMs);
    cpu.push(cpuMs(client.child.pid));
    await client.shutdownAndExit();
  }
  return {
    spawn_to_healthy_backend_ms_median: round(median(total)),
    spawn_to_healthy_backend_ms_min: round(Math.min(...total)),
    spawn_to_healthy_backend_ms_max: round(Math.max(...total)),
    spawn_to_initialize_ms_median: round(median(initialize)),
    sidecar_cpu_ms_median: round(median(cpu)),
    runs,
    samples_ms: total.map(round),
    samples_cpu_ms: cpu,
  };
}

function launchOnce(dataDir, env) {
  const args = [target, 'serve', '--data-dir', dataDir, '--port', '0', '--backend-id', 'b', '--backend-name', 'Bench',
    '--parent-pid', String(process.pid)];
  const t0 = process.hrtime.bigint();
  const child = spawn(process.execPath, args, {
    env: { ...process.env, ...env, ELECTRON_RUN_AS_NODE: '1' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  return new Promise((resolve, reject) => {
    let stdout = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (!stdout.includes('NODEGX_BACKEND_READY ')) return;
      const readyMs = ms(t0);
      const cpu = cpuMs(childOf(child.pid));
      child.on('exit', () => resolve({ readyMs, cpu }));
      child.kill('SIGTERM');
    });
    child.on('exit', (code) => {
      if (!stdout.includes('NODEGX_BACKEND_READY ')) reject(new Error(`exited ${code} before READY:\n${stderr}`));
    });
  });
}

async function launcherReady() {
  const env = JSON.parse(option('--env', '{}'));
  const ready = [];
  const cpu = [];
  for (let i = 0; i < runs; i += 1) {
    const dataDir = path.join(scratch, `run ${i}`, 'b'); // fresh, with a space, as the contract test has it
    const run = await launchOnce(dataDir, env);
    ready.push(run.readyMs);
    cpu.push(run.cpu);
    rmSync(path.dirname(dataDir), { recursive: true, force: true });
  }
  return {
    spawn_to_ready_ms_median: round(median(ready)),
    spawn_to_ready_ms_min: round(Math.min(...ready)),
    spawn_to_ready_ms_max: round(Math.max(...ready)),
    sidecar_cpu_ms_median: round(median(cpu)),
    runs,
    samples_ms: ready.map(round),
    samples_cpu_ms: cpu,
  };
}

const result = mode === 'launcher' ? await launcherReady() : await stdioColdStart();
process.stdout.write(`${JSON.stringify(result)}\n`);
