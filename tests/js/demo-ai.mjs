// scripts/demo, AI part: examples/ai-assistant.workflow.json, a chat endpoint whose LangGraph agent answers
// with the help of a records query (the list_todos function), remembers the thread, and streams its text.
// With ANTHROPIC_API_KEY set it talks to Claude; otherwise to the local stand-in model of the tests
// (tests/ai/vendor_servers.py), which speaks Anthropic's Messages API on this machine.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { REPO_ROOT } from './sidecar-client.mjs';

async function startLocalModel() {
  const python = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  const child = spawn(python, ['-m', 'tests.ai.vendor_servers'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout });
  const url = await new Promise((resolve, reject) => {
    lines.once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the local model server exited (${code})`)));
  });
  return { url, stop: () => child.stdin.end() };
}

export async function runAiAssistant(client, backend, endpoint) {
  const realKey = Boolean(process.env.ANTHROPIC_API_KEY);
  const model = realKey ? null : await startLocalModel();
  if (model) {
    // The one credential a user adds; here a placeholder the stand-in model accepts.
    await client.request('credentials:create', [backend.id, { name: 'anthropic', value: 'sk-ant-demo-local-model', provider: 'anthropic' }]);
  }
  const workflow = JSON.parse(readFileSync(path.join(REPO_ROOT, 'examples', 'ai-assistant.workflow.json'), 'utf8'));
  if (model) {
    for (const component of workflow.components) {
      for (const node of component.nodes) if (node.type === 'noodl.ai.agent') node.parameters.baseUrl = model.url;
    }
  }
  await client.request('backend:update-workflow', [{ backendId: backend.id, name: 'ai-assistant', workflow }]);
  const subscription = await client.request('execution:subscribe', [{ backendId: backend.id }]);
  let streamed = 0;
  const listener = (note) => {
    if (note.method === 'execution:step' && note.params[0].progress) streamed += 1;
  };
  client.notificationListeners.add(listener);
  const reply = await fetch(`${endpoint}/functions/assistant`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', 'X-Parse-Application-Id': backend.id },
    body: JSON.stringify({ message: 'Which of my todos are still open?', threadId: 'demo' }),
  });
  const answer = await reply.json();
  client.notificationListeners.delete(listener);
  await client.request('execution:unsubscribe', [subscription]);
  model?.stop();
  console.log(`\nAI assistant (${realKey ? 'Claude' : 'the local stand-in model, as no ANTHROPIC_API_KEY is set'}):`);
  console.log(`POST /functions/assistant {"message": "Which of my todos are still open?"} → ${reply.status}`);
  console.log(`  answer: ${answer.result?.answer ?? JSON.stringify(answer)}`);
  console.log(`  tool calls: ${answer.result?.toolCalls ?? 0}`);
  console.log(`(${streamed} streamed progress events reached the editor while it answered)`);
  return reply.ok;
}
