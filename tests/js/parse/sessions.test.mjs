// Session expiry: a server whose sessions last one second.

import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, test } from 'node:test';
import { startParse } from './server.mjs';

let Parse;
let server;

before(async () => {
  ({ Parse, server } = await startParse(['--session-seconds', '1']));
});
after(async () => {
  await server.stop();
});

test('an expired session token is INVALID_SESSION_TOKEN; logging in again works', async () => {
  const user = new Parse.User();
  user.set({ username: 'short', password: 'pw' });
  await user.signUp();
  const token = user.getSessionToken();
  assert.equal((await Parse.User.me(token)).id, user.id);
  await sleep(1200);
  await assert.rejects(Parse.User.me(token), (error) => error.code === Parse.Error.INVALID_SESSION_TOKEN);
  const again = await Parse.User.logIn('short', 'pw');
  assert.notEqual(again.getSessionToken(), token);
});
