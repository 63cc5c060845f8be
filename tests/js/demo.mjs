// scripts/demo: spawn the sidecar exactly as the editor would, then run a demo backend on the
// embedded default (SQLite): a table, some records, a cloud function deployed and called over HTTP.
//   node tests/js/demo.mjs           run through the demo and shut down
//   node tests/js/demo.mjs --serve   keep the demo backend serving until Ctrl-C
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runAiAssistant } from './demo-ai.mjs';
import { REPO_ROOT, SidecarClient } from './sidecar-client.mjs';

const keepServing = process.argv.includes('--serve');
const ownHome = !process.env.NOODL_HOME;
const home = process.env.NOODL_HOME ?? mkdtempSync(path.join(tmpdir(), 'noodl-demo-'));

const started = process.hrtime.bigint();
const client = SidecarClient.spawn({ env: { NOODL_HOME: home } });
// A failure anywhere (a request, or a fetch to the backend, when the sidecar died) waits for the
// sidecar's exit first: for a crash the client then prints faulthandler's report of every thread.
try {
  await runDemo();
} catch (error) {
  await Promise.race([client.exited, new Promise((resolve) => setTimeout(resolve, 3000))]);
  throw error;
}

async function runDemo() {
  const handshake = await client.initialize({ clientInfo: { name: 'scripts/demo', version: '1' } });
  const handshakeMs = Number(process.hrtime.bigint() - started) / 1e6;
  const info = handshake.serverInfo;
  console.log(`noodl-sidecar ${info.version} (pid ${info.pid}, Python ${info.python})`);
  console.log(`handshake answered ${handshakeMs.toFixed(1)} ms after spawn (imports took ${handshake.importMs} ms)`);
  console.log(`${handshake.capabilities.methods.length} methods, e.g. ${handshake.capabilities.methods.slice(0, 6).join(', ')}, …`);

  const selftest = await client.request('sidecar:selftest');
  console.log(`\nself-test: ${selftest.ok ? 'all checks passed' : 'FAILED'}`);
  for (const check of selftest.checks) {
    console.log(`  ${check.ok ? 'ok  ' : 'FAIL'} ${check.name.padEnd(14)} ${check.ms.toFixed(1).padStart(7)} ms  ${check.detail ?? ''}`);
  }

  console.log(`\nbackends live in ${path.join(home, 'backends')}`);
  const backend = await client.request('backend:create', ['Demo']);
  const status = await client.request('backend:start', [backend.id]);
  console.log(`backend ${backend.id} serving at ${status.endpoint} (${status.persistence.mode}, ${status.persistence.engine})`);

  await client.request('backend:subscribeCollection', [backend.id, 'Todo']);
  client.notificationListeners.add((note) => {
    if (note.method === 'backend:collectionChanged') {
      const { data } = note.params[0];
      console.log(`  ← backend:collectionChanged ${data.action} ${data.collection}/${data.record.objectId}`);
    }
  });
  await client.request('backend:createTable', [backend.id, { name: 'Todo', columns: [{ name: 'title', type: 'String' }, { name: 'done', type: 'Boolean' }] }]);
  for (const [title, done] of [['Try the sidecar', true], ['Draw a cloud function', false], ['Deploy it', false]]) {
    await client.request('backend:createRecord', [backend.id, 'Todo', { title, done }]);
  }
  const open = await client.request('backend:queryRecords', [backend.id, { collection: 'Todo', where: { done: false }, count: true }]);
  console.log(`open todos (${open.count}): ${open.results.map((todo) => todo.title).join('; ')}`);

  const hello = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'hello.workflow.json'), 'utf8'));
  const deployed = await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'hello', workflow: hello }]);
  console.log(`\ndeployed examples/hello.workflow.json: ${deployed.success ? 'ok' : deployed.error}`);
  const reply = await fetch(`${status.endpoint}/functions/hello`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Parse-Application-Id': backend.id },
    body: JSON.stringify({ name: 'newcomer' }),
  });
  console.log(`POST ${status.endpoint}/functions/hello → ${reply.status} ${await reply.text()}`);

  // A Python workflow: a Python Function reads the open todos through noodl.records (in an isolated
  // worker process), a Python List Transform upper-cases them, a Python Template (Jinja2) writes the answer.
  const todoReport = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'todo-report.workflow.json'), 'utf8'));
  const reportDeployed = await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'todo-report', workflow: todoReport }]);
  console.log(`\ndeployed examples/todo-report.workflow.json (language: python): ${reportDeployed.success ? 'ok' : reportDeployed.error}`);
  const reportReply = await fetch(`${status.endpoint}/functions/todo-report`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Parse-Application-Id': backend.id },
    body: JSON.stringify({ owner: 'newcomer' }),
  });
  console.log(`POST ${status.endpoint}/functions/todo-report → ${reportReply.status} ${await reportReply.text()}`);

  // The order flow: IF/Switch branches, a For Each over the lines, a Retry around an outbound POST
  // to a warehouse this demo serves itself (it refuses the first call), Merge, and the answer.
  let warehouseCalls = 0;
  const warehouse = http.createServer((request, response) => {
    warehouseCalls += 1;
    request.resume();
    response.writeHead(warehouseCalls === 1 ? 503 : 200, { 'Content-Type': 'application/json' });
    response.end(JSON.stringify(warehouseCalls === 1 ? { error: 'busy' } : { ref: `WH-${warehouseCalls}` }));
  });
  await new Promise((resolve) => warehouse.listen(0, '127.0.0.1', resolve));
  const orderFlow = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'order-flow.workflow.json'), 'utf8'));
  await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'order-flow', workflow: orderFlow }]);
  const order = {
    orderId: 'A-1',
    tier: 'gold',
    items: [
      { sku: 'pen', qty: 3, price: 2.5 },
      { sku: 'ink', qty: 1, price: 12 },
    ],
    notifyUrl: `http://127.0.0.1:${warehouse.address().port}/notify`,
  };
  const orderReply = await fetch(`${status.endpoint}/functions/order-flow`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Parse-Application-Id': backend.id },
    body: JSON.stringify(order),
  });
  console.log(`\nPOST /functions/order-flow → ${orderReply.status} ${await orderReply.text()}`);
  console.log(`(the warehouse was called ${warehouseCalls} times: the first answer was a 503, Retry tried again)`);
  warehouse.close();
  let orderRun;
  for (let attempt = 0; attempt < 50 && !orderRun; attempt += 1) {
    const page = await client.request('execution-history:list', [{ workflowId: 'order-flow', limit: 1 }]);
    if (page.executions[0]?.status && page.executions[0].status !== 'running') orderRun = page.executions[0];
    else await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const detail = await client.request('execution-history:get', [orderRun.id]);
  console.log(`execution ${detail.id}: ${detail.status} in ${detail.durationMs} ms, ${detail.steps.length} steps:`);
  for (const step of detail.steps) {
    console.log(`  ${String(step.stepIndex).padStart(2)} ${step.status.padEnd(7)} ${step.nodeId.padEnd(14)} ${step.nodeType}`);
  }

  const aiOk = await runAiAssistant(client, backend, status.endpoint);

  const secretsPath = path.join(home, 'backends', backend.id, 'secrets.json');
  const secrets = JSON.parse(readFileSync(secretsPath, 'utf8'));
  console.log(`\ncredentials of this backend (Parse REST headers):`);
  console.log(`  X-Parse-Application-Id: ${backend.id}   (the application id is the backend id)`);
  console.log(`  X-Parse-Master-Key: ${secrets.adminToken}   (the master key is the admin token, in ${secretsPath})`);

  if (keepServing) {
    // Every command below is run as printed by tests/cli/test_demo.py.
    console.log(`\ntry it yourself while it runs:`);
    console.log(`  curl -s -X POST ${status.endpoint}/functions/hello -H 'X-Parse-Application-Id: ${backend.id}' -H 'Content-Type: application/json' -d '{"name":"you"}'`);
    console.log(`  curl -s ${status.endpoint}/classes/Todo -H 'X-Parse-Application-Id: ${backend.id}' -H 'X-Parse-Master-Key: ${secrets.adminToken}'`);
    console.log('\nserving until Ctrl-C');
    await new Promise((resolve) => process.once('SIGINT', resolve));
  } else {
    console.log('\nto keep this backend running and call it yourself: scripts/demo --serve');
  }
  // A sidecar that dies on the way out fails the demo with its reason (and, for a crash, the client
  // has printed faulthandler's report of every thread to stderr).
  const exit = await client.shutdownAndExit().catch((error) => ({ code: null, error }));
  console.log(`\nshutdown → ${exit.error ? `failed: ${exit.error.message}` : `exit code ${exit.code}`}`);
  if (ownHome) rmSync(home, { recursive: true, force: true });
  process.exitCode = selftest.ok && exit.code === 0 && reply.ok && orderReply.ok && aiOk ? 0 : 1;
}
