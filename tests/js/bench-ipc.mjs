// IPC figures for scripts/bench: round-trip latency and pipelined throughput from a Node client,
// and spawn-to-handshake cold start. Prints one JSON object.
//   node bench-ipc.mjs latency '<command json>' <method> [--no-initialize] [--sequential N] [--total N]
//   node bench-ipc.mjs coldstart '<command json>' [--runs N]
import { SidecarClient } from './sidecar-client.mjs';

const [mode, commandJson, ...rest] = process.argv.slice(2);
const command = JSON.parse(commandJson);
const option = (name, fallback) => {
  const index = rest.indexOf(name);
  return index >= 0 ? Number(rest[index + 1]) : fallback;
};
const flag = (name) => rest.includes(name);
const env = { NOODL_SIDECAR_DIAGNOSTICS: '1' };

function percentile(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

async function latency() {
  const method = rest[0];
  const params = method === 'diagnostics:echo' ? [{ message: 'hello', n: 1, tags: ['a', 'b'] }] : [];
  const client = SidecarClient.spawn({ command, env });
  if (!flag('--no-initialize')) await client.initialize();
  for (let i = 0; i < option('--warmup', 2000); i += 1) await client.request(method, params);
  const samples = [];
  for (let i = 0; i < option('--sequential', 10000); i += 1) {
    const t0 = process.hrtime.bigint();
    await client.request(method, params);
    samples.push(Number(process.hrtime.bigint() - t0) / 1000);
  }
  samples.sort((a, b) => a - b);
  const throughput = {};
  for (const inFlight of [100]) {
    const total = option('--total', 100000);
    let sent = 0;
    const t0 = process.hrtime.bigint();
    await new Promise((resolve, reject) => {
      let done = 0;
      const next = () => {
        if (sent >= total) return;
        sent += 1;
        client.request(method, params, { timeoutMs: 0 }).then(() => {
          done += 1;
          if (done === total) resolve();
          else next();
        }, reject);
      };
      for (let i = 0; i < inFlight; i += 1) next();
    });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    throughput[`calls_per_s_${inFlight}_in_flight`] = Math.round(total / seconds);
  }
  client.closeStdin();
  await client.waitExit(5000).catch(() => client.kill());
  return {
    method,
    p50_us: Math.round(percentile(samples, 50)),
    p99_us: Math.round(percentile(samples, 99)),
    ...throughput,
    native_msgpackr: client.nativeAcceleration,
  };
}

async function coldstart() {
  const times = [];
  const imports = [];
  for (let i = 0; i < option('--runs', 10); i += 1) {
    const t0 = process.hrtime.bigint();
    const client = SidecarClient.spawn({ command, env });
    const result = await client.initialize();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
    imports.push(result.importMs);
    await client.shutdownAndExit();
  }
  times.sort((a, b) => a - b);
  imports.sort((a, b) => a - b);
  return {
    spawn_to_initialize_ms_median: Number(percentile(times, 50).toFixed(1)),
    spawn_to_initialize_ms_min: Number(times[0].toFixed(1)),
    spawn_to_initialize_ms_max: Number(times.at(-1).toFixed(1)),
    import_ms_median: imports[Math.floor(imports.length / 2)],
    runs: times.length,
  };
}

const result = mode === 'coldstart' ? await coldstart() : await latency();
process.stdout.write(`${JSON.stringify(result)}\n`);
