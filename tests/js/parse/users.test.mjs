// Users, sessions, ACLs and roles through the official SDK.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { rawRequest, startParse } from './server.mjs';

let Parse;
let server;

before(async () => {
  ({ Parse, server } = await startParse());
});
after(async () => {
  await server.stop();
});

async function signUp(username, extra = {}) {
  const user = new Parse.User();
  user.set({ username, password: `${username}-pw`, ...extra });
  await user.signUp();
  return user;
}

describe('users', () => {
  test('signUp logs the new user in', async () => {
    const user = await signUp('alice', { email: 'alice@example.com', nickname: 'Al' });
    assert.ok(user.id);
    assert.match(user.getSessionToken(), /^r:[0-9a-f]{32}$/);
    assert.equal(Parse.User.current().id, user.id);
    await Parse.User.logOut();
  });

  test('a taken username is USERNAME_TAKEN', async () => {
    await signUp('taken');
    await Parse.User.logOut();
    await assert.rejects(signUp('taken'), (error) => error.code === Parse.Error.USERNAME_TAKEN);
  });

  test('logIn returns the user with a session; a wrong password is OBJECT_NOT_FOUND', async () => {
    await signUp('bob', { nickname: 'Bobby' });
    await Parse.User.logOut();
    const user = await Parse.User.logIn('bob', 'bob-pw');
    assert.equal(user.get('nickname'), 'Bobby');
    assert.equal(user.get('password'), undefined);
    assert.ok(user.getSessionToken());
    await Parse.User.logOut();
    await assert.rejects(Parse.User.logIn('bob', 'nope'), (error) => error.code === Parse.Error.OBJECT_NOT_FOUND);
  });

  test('become and me resolve a session token to its user', async () => {
    const user = await signUp('carol');
    const token = user.getSessionToken();
    await signUp('someone-else');
    const again = await Parse.User.become(token);
    assert.equal(again.id, user.id);
    const me = await Parse.User.me(token);
    assert.equal(me.get('username'), 'carol');
    await Parse.User.logOut();
  });

  test('logOut revokes the token: it is then INVALID_SESSION_TOKEN everywhere', async () => {
    const user = await signUp('dave');
    const token = user.getSessionToken();
    await Parse.User.logOut();
    await assert.rejects(Parse.User.become(token), (error) => error.code === Parse.Error.INVALID_SESSION_TOKEN);
    const publicRead = await rawRequest(server, 'GET', '/classes/Anything', {
      headers: { 'X-Parse-Session-Token': token },
    });
    assert.equal(publicRead.status, 400);
    assert.equal(publicRead.body.code, 209);
  });

  test('the current user can update itself but not another user', async () => {
    const erin = await signUp('erin');
    await Parse.User.logOut();
    const frank = await signUp('frank');
    frank.set('nickname', 'F');
    await frank.save();
    const other = new Parse.User();
    other.id = erin.id;
    other.set('nickname', 'hacked');
    await assert.rejects(other.save(null, { sessionToken: frank.getSessionToken(), useMasterKey: false }));
    await Parse.User.logOut();
  });

  test('Parse.Session.current describes the session', async () => {
    const user = await signUp('gina');
    const session = await Parse.Session.current();
    assert.equal(session.get('sessionToken'), user.getSessionToken());
    assert.equal(session.get('user').id, user.id);
    assert.ok(session.get('expiresAt') > new Date());
    await Parse.User.logOut();
  });
});

describe('ACLs and roles', () => {
  test('a private object is invisible to others and to anonymous callers, visible to its owner', async () => {
    const owner = await signUp('owner1');
    const note = new Parse.Object('Note');
    note.setACL(new Parse.ACL(owner));
    await note.save({ text: 'secret' }, { useMasterKey: false });
    const ownerToken = owner.getSessionToken();
    const stranger = await signUp('stranger1');
    const asStranger = { sessionToken: stranger.getSessionToken(), useMasterKey: false };
    await assert.rejects(
      new Parse.Query('Note').get(note.id, asStranger),
      (error) => error.code === Parse.Error.OBJECT_NOT_FOUND,
    );
    assert.equal((await new Parse.Query('Note').find(asStranger)).length, 0);
    const anonymous = await rawRequest(server, 'GET', `/classes/Note/${note.id}`);
    assert.equal(anonymous.status, 404);
    assert.equal(anonymous.body.code, 101);
    const seen = await new Parse.Query('Note').get(note.id, { sessionToken: ownerToken, useMasterKey: false });
    assert.equal(seen.get('text'), 'secret');
    const master = await new Parse.Query('Note').get(note.id, { useMasterKey: true });
    assert.equal(master.get('text'), 'secret');
  });

  test('public read, owner write: others can read but not change it', async () => {
    const owner = await signUp('owner2');
    const acl = new Parse.ACL(owner);
    acl.setPublicReadAccess(true);
    const post = new Parse.Object('Post');
    post.setACL(acl);
    await post.save({ title: 'hello' }, { useMasterKey: false });
    await Parse.User.logOut();
    const reader = await signUp('reader2');
    const asReader = { sessionToken: reader.getSessionToken(), useMasterKey: false };
    const copy = await new Parse.Query('Post').get(post.id, asReader);
    copy.set('title', 'defaced');
    await assert.rejects(copy.save(null, asReader), (error) => error.code === Parse.Error.OBJECT_NOT_FOUND);
    await Parse.User.logOut();
  });

  test('a role grants its members what its ACL entry allows', async () => {
    const editor = await signUp('editor3');
    const outsider = await signUp('outsider3');
    const roleACL = new Parse.ACL();
    roleACL.setPublicReadAccess(true);
    const role = new Parse.Role('Editors', roleACL);
    role.getUsers().add(editor);
    await role.save(null, { useMasterKey: true });

    const acl = new Parse.ACL();
    acl.setRoleReadAccess('Editors', true);
    acl.setRoleWriteAccess('Editors', true);
    const draft = new Parse.Object('Draft');
    draft.setACL(acl);
    await draft.save({ body: 'v1' }, { useMasterKey: true });

    const asEditor = { sessionToken: editor.getSessionToken(), useMasterKey: false };
    const editable = await new Parse.Query('Draft').get(draft.id, asEditor);
    editable.set('body', 'v2');
    await editable.save(null, asEditor);
    const asOutsider = { sessionToken: outsider.getSessionToken(), useMasterKey: false };
    assert.equal((await new Parse.Query('Draft').find(asOutsider)).length, 0);
    assert.equal((await new Parse.Query('Draft').get(draft.id, { useMasterKey: true })).get('body'), 'v2');
    await Parse.User.logOut();
  });
});
