// Live execution events over stdio for scripts/bench: from a step's end (its completedAt, epoch ms,
// stamped in the sidecar) to this client holding the execution:step notification.
//   node bench-events.mjs '<command json>' [--runs N]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT, SidecarClient } from './sidecar-client.mjs';

const [commandJson, ...rest] = process.argv.slice(2);
const runs = rest.includes('--runs') ? Number(rest[rest.indexOf('--runs') + 1]) : 1000;
const home = mkdtempSync(path.join(tmpdir(), 'noodl-events-'));
const client = SidecarClient.spawn({ command: JSON.parse(commandJson), env: { NOODL_HOME: home } });
await client.initialize();
const backend = await client.request('backend:create', ['Events']);
await client.request('backend:start', [backend.id]);
const hello = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'hello.workflow.json'), 'utf8'));
await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'hello', workflow: hello }]);
await client.request('execution:subscribe', [{ backendId: backend.id }]);

const latencies = [];
client.notificationListeners.add((note) => {
  const event = note.params[0];
  if (note.method === 'execution:step' && event.completedAt) {
    latencies.push(performance.timeOrigin + performance.now() - event.completedAt);
  }
});
for (let i = 0; i < runs; i += 1) {
  await client.request('function:run', [backend.id, 'hello', { body: { name: `run ${i}` } }]);
}
await new Promise((resolve) => setTimeout(resolve, 200)); // the writer publishes within its batch delay
await client.shutdownAndExit();
rmSync(home, { recursive: true, force: true });

latencies.sort((a, b) => a - b);
const at = (p) => Number(latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))].toFixed(2));
process.stdout.write(`${JSON.stringify({ runs, step_events: latencies.length, p50_ms: at(50), p99_ms: at(99), max_ms: at(100) })}\n`);
