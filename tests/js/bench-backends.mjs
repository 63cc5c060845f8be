// Backend-manager figures for scripts/bench: backend:start → healthy HTTP port, and memory per idle backend.
//   node bench-backends.mjs '<command json>' [--backends N]
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SidecarClient } from './sidecar-client.mjs';

const [commandJson, ...rest] = process.argv.slice(2);
const count = rest.includes('--backends') ? Number(rest[rest.indexOf('--backends') + 1]) : 10;
const home = mkdtempSync(path.join(tmpdir(), 'noodl-bench-'));
const client = SidecarClient.spawn({ command: JSON.parse(commandJson), env: { NOODL_HOME: home } });
const { serverInfo } = await client.initialize();
// An editor starts a backend when the user opens a project, not within the handshake's millisecond:
// give the sidecar the second it uses to load its services after answering initialize.
await new Promise((resolve) => setTimeout(resolve, 1000));

const rssMiB = () => {
  const status = readFileSync(`/proc/${serverInfo.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)[1]) / 1024;
};

async function healthy(port) {
  for (;;) {
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
  }
}

const startMs = [];
const rss = [rssMiB()];
for (let i = 0; i < count; i += 1) {
  const backend = await client.request('backend:create', [`bench ${i}`]);
  const t0 = process.hrtime.bigint();
  await client.request('backend:start', [backend.id]);
  await healthy(backend.port);
  startMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
  await new Promise((resolve) => setTimeout(resolve, 50));
  rss.push(rssMiB());
}
await client.shutdownAndExit();
rmSync(home, { recursive: true, force: true });

const sorted = [...startMs].sort((a, b) => a - b);
const median = (values) => values[Math.floor(values.length / 2)];
process.stdout.write(
  `${JSON.stringify({
    backends: count,
    start_to_healthy_ms_first: Number(startMs[0].toFixed(1)),
    start_to_healthy_ms_median: Number(median(sorted).toFixed(1)),
    start_to_healthy_ms_max: Number(sorted.at(-1).toFixed(1)),
    rss_mib_before_any: Number(rss[0].toFixed(1)),
    rss_mib_after_first: Number(rss[1].toFixed(1)),
    rss_mib_after_all: Number(rss.at(-1).toFixed(1)),
    rss_mib_per_backend_beyond_first: Number(((rss.at(-1) - rss[1]) / Math.max(1, count - 1)).toFixed(2)),
  })}\n`,
);
