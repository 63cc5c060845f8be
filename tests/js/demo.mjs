// scripts/demo: spawn the sidecar exactly as the editor would and show what it says.
import { SidecarClient } from './sidecar-client.mjs';

const started = process.hrtime.bigint();
const client = SidecarClient.spawn();
const handshake = await client.initialize({ clientInfo: { name: 'scripts/demo', version: '1' } });
const handshakeMs = Number(process.hrtime.bigint() - started) / 1e6;
console.log(`noodl-sidecar ${handshake.serverInfo.version} (pid ${handshake.serverInfo.pid}, Python ${handshake.serverInfo.python})`);
console.log(`handshake answered ${handshakeMs.toFixed(1)} ms after spawn (imports took ${handshake.importMs} ms)`);
console.log(JSON.stringify(handshake, null, 2));

const selftest = await client.request('sidecar:selftest');
console.log(`\nself-test: ${selftest.ok ? 'all checks passed' : 'FAILED'}`);
for (const check of selftest.checks) {
  console.log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name.padEnd(14)} ${check.ms.toFixed(1).padStart(7)} ms  ${check.detail ?? ''}`);
}

const exit = await client.shutdownAndExit();
console.log(`\nshutdown → exit code ${exit.code}`);
process.exitCode = selftest.ok && exit.code === 0 ? 0 : 1;
