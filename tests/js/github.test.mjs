// The github:* channels end to end: the Node client stands in for Electron's main process, the sidecar
// talks to the local GitHub contract server (tests/github/contract_server.py) and reads a git repository
// this test makes (a bare "remote" and a clone).
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT, RpcError, SidecarClient } from './sidecar-client.mjs';

let home;
let github;
let client;

const gitEnv = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Test', GIT_AUTHOR_EMAIL: 'test@example.com',
  GIT_COMMITTER_NAME: 'Test', GIT_COMMITTER_EMAIL: 'test@example.com',
  GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1',
};
const git = (cwd, ...args) => execFileSync('git', ['-C', cwd, ...args], { env: gitEnv, encoding: 'utf8' }).trim();

async function startContractServer() {
  const python = path.join(REPO_ROOT, '.venv', 'bin', 'python');
  const child = spawn(python, ['-m', 'tests.github.contract_server'], { cwd: REPO_ROOT, stdio: ['pipe', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    readline.createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`the contract server exited (${code})`)));
  });
  return { url, stop: () => child.stdin.end() };
}

before(async () => {
  home = mkdtempSync(path.join(tmpdir(), 'noodl-home-'));
  github = await startContractServer();
  client = SidecarClient.spawn({
    env: {
      NOODL_HOME: home,
      NOODL_CREDENTIALS_KEYRING: '0',
      NOODL_GITHUB_API_URL: github.url,
      NOODL_GITHUB_OAUTH_URL: github.url,
      NOODL_GITHUB_CLIENT_ID: 'Iv1.contract',
    },
  });
  await client.initialize();
});

after(async () => {
  if (client.exitInfo === undefined) await client.shutdownAndExit().catch(() => client.kill());
  github.stop();
  rmSync(home, { recursive: true, force: true });
});

describe('the GitHub panel over stdio', () => {
  test('github:repo-info reads the project folder with git', async () => {
    const bare = path.join(home, 'remote.git');
    mkdirSync(bare);
    git(bare, 'init', '-q', '--bare', '-b', 'main');
    const work = path.join(home, 'project');
    execFileSync('git', ['clone', '-q', bare, work], { env: gitEnv, stdio: 'ignore' });
    writeFileSync(path.join(work, 'a.txt'), 'a');
    git(work, 'add', 'a.txt');
    git(work, 'commit', '-q', '-m', 'a');
    git(work, 'push', '-q', 'origin', 'main');
    git(work, 'remote', 'set-head', 'origin', 'main');
    git(work, 'config', 'remote.origin.url', 'https://github.com/octo/hello.git');
    writeFileSync(path.join(work, 'b.txt'), 'b');
    git(work, 'add', 'b.txt');
    git(work, 'commit', '-q', '-m', 'b');
    const info = await client.request('github:repo-info', [work]);
    assert.deepEqual(
      [info.owner, info.name, info.isGithub, info.defaultBranch, info.currentBranch, info.ahead, info.behind],
      ['octo', 'hello', true, 'main', 'main', 1, 0],
    );
  });

  test('sign-in pushes the device code, then lists, details, comments and caches', async () => {
    await fetch(`${github.url}/_script`, { method: 'POST', body: JSON.stringify({ tokenAnswers: ['authorization_pending', 'token'] }) });
    const code = client.waitForNotification('github:deviceCode');
    const signedIn = client.request('github:sign-in', []);
    assert.deepEqual((await code)[0], { userCode: 'WDJB-MJHT', verificationUri: 'https://github.com/login/device', expiresIn: 900, interval: 1 });
    assert.equal((await signedIn).login, 'mona');
    assert.equal((await client.request('github:auth-status', [])).signedIn, true);

    const quota = client.waitForNotification('github:rateLimit');
    const first = await client.request('github:list-issues', ['octo', 'hello', { perPage: 4 }]);
    assert.deepEqual(first.items.map((item) => item.number), [1, 2, 5]);
    assert.equal(first.nextPage, 2);
    assert.equal((await quota)[0].limit, 5000);
    const again = await client.request('github:list-issues', ['octo', 'hello', { perPage: 4 }]);
    assert.equal(again.fromCache, true);
    const log = await (await fetch(`${github.url}/_log`)).json();
    const listed = log.filter((seen) => seen.path === '/repos/octo/hello/issues');
    assert.deepEqual(listed.map((seen) => seen.status), [200, 304]);

    const pulls = await client.request('github:list-pulls', ['octo', 'hello']);
    assert.deepEqual(pulls.items.map((item) => item.number), [3]);
    const pull = await client.request('github:get-pull', ['octo', 'hello', 3]);
    assert.deepEqual([pull.headRef, pull.reviews, pull.checks], ['feature-3', [], []]);
    const comment = await client.request('github:create-comment', ['octo', 'hello', 1, 'On it']);
    assert.equal(comment.author, 'mona');
    const issue = await client.request('github:get-issue', ['octo', 'hello', 1]);
    assert.deepEqual(issue.commentList.map((c) => c.body), ['On it']);
  });

  test('sign-out deletes the token; calls then say to sign in', async () => {
    assert.deepEqual(await client.request('github:sign-out', []), { signedOut: true });
    await assert.rejects(client.request('github:list-issues', ['octo', 'hello']), (error) => {
      assert.ok(error instanceof RpcError);
      assert.match(error.message, /not signed in to GitHub/);
      return true;
    });
    await assert.rejects(client.request('github:get-issue', ['octo', 'hello', 0]), RpcError);
  });
});
