// Streaming into the canvas, for scripts/bench ai: a Claude node streams from the local stand-in model,
// whose every chunk carries the epoch time it left the server ("<ms>;"); this client, holding the sidecar
// over stdio as the editor does, times each execution:step progress event against the newest chunk it
// carries (and, separately, against the oldest chunk it is the first to carry: the coalescing wait).
//   node bench-ai-stream.mjs '<command json>' '<model root url>' [--runs N] [--chunks M] [--delay-ms D]
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SidecarClient } from './sidecar-client.mjs';

const [commandJson, modelUrl, ...rest] = process.argv.slice(2);
const option = (name, fallback) => (rest.includes(name) ? Number(rest[rest.indexOf(name) + 1]) : fallback);
const runs = option('--runs', 20);
const chunks = option('--chunks', 100);
const delayMs = option('--delay-ms', 10);
const home = mkdtempSync(path.join(tmpdir(), 'noodl-ai-stream-'));
const client = SidecarClient.spawn({ command: JSON.parse(commandJson), env: { NOODL_HOME: home } });
await client.initialize();
const backend = await client.request('backend:create', ['AI stream']);
const status = await client.request('backend:start', [backend.id]);
await client.request('credentials:create', [backend.id, { name: 'claude', value: 'sk-ant-bench-local', provider: 'anthropic' }]);
const workflow = {
  settings: {},
  metadata: {},
  components: [{
    name: '/#__cloud__/ask', metadata: {}, ports: [], roots: [],
    nodes: [
      { id: 'req', type: 'noodl.cloud.request', parameters: { allowNoAuth: true, params: 'prompt' }, ports: [], children: [] },
      { id: 'ai', type: 'noodl.ai.claude', parameters: { credential: 'claude', baseUrl: modelUrl }, ports: [], children: [] },
      { id: 'resp', type: 'noodl.cloud.response', parameters: { params: 'text' }, ports: [], children: [] },
    ],
    connections: [
      { sourceId: 'req', sourcePort: 'pm-prompt', targetId: 'ai', targetPort: 'prompt' },
      { sourceId: 'req', sourcePort: 'receive', targetId: 'ai', targetPort: 'run' },
      { sourceId: 'ai', sourcePort: 'text', targetId: 'resp', targetPort: 'pm-text' },
      { sourceId: 'ai', sourcePort: 'done', targetId: 'resp', targetPort: 'send' },
    ],
  }],
};
await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'ask', workflow }]);
await client.request('execution:subscribe', [{ backendId: backend.id }]);

const newest = [];
const waited = [];
let seen = 0; // stamps already carried by an earlier event of this run
let events = 0;
client.notificationListeners.add((note) => {
  const event = note.params[0];
  if (note.method !== 'execution:step' || !event.progress || event.progress.done) return;
  const now = performance.timeOrigin + performance.now();
  const stamps = event.progress.text.split(';').filter(Boolean).map(Number);
  if (stamps.length <= seen) return;
  events += 1;
  newest.push(now - stamps[stamps.length - 1]);
  waited.push(now - stamps[seen]);
  seen = stamps.length;
});
for (let i = 0; i < runs; i += 1) {
  seen = 0;
  await fetch(`${modelUrl}/_script`, { method: 'POST', body: JSON.stringify({ replies: [{ stampedChunks: chunks, chunkDelay: delayMs / 1000 }] }) });
  const reply = await fetch(`${status.endpoint}/functions/ask`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Parse-Application-Id': backend.id },
    body: JSON.stringify({ prompt: 'stream' }),
  });
  if (!reply.ok) throw new Error(`run ${i} answered ${reply.status}: ${await reply.text()}`);
}
await client.shutdownAndExit();
rmSync(home, { recursive: true, force: true });

const at = (list, p) => {
  const sorted = [...list].sort((a, b) => a - b);
  return Number(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))].toFixed(2));
};
const streamSeconds = (chunks * delayMs) / 1000;
process.stdout.write(`${JSON.stringify({
  runs, chunks_per_run: chunks, chunk_delay_ms: delayMs, progress_events: events,
  events_per_second_per_step: Number((events / runs / streamSeconds).toFixed(1)),
  newest_chunk_p50_ms: at(newest, 50), newest_chunk_p99_ms: at(newest, 99),
  oldest_chunk_p50_ms: at(waited, 50), oldest_chunk_p99_ms: at(waited, 99),
})}\n`);
