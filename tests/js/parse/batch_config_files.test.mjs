// Batches (saveAll/destroyAll), config, files and cloud-function calls through the official SDK.

import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { REPO_ROOT } from '../sidecar-client.mjs';
import { rawRequest, startParse, startServer } from './server.mjs';

const ECHO_EXPORT = path.join(REPO_ROOT, 'tests', 'fixtures', 'cloudrunner', 'exports', 'a_echo.export.json');

let Parse;
let server;

before(async () => {
  ({ Parse, server } = await startParse());
});
after(async () => {
  await server.stop();
});

describe('batch', () => {
  test('saveAll creates every object in one round trip; destroyAll removes them', async () => {
    const items = Array.from({ length: 25 }, (_, i) => new Parse.Object('Bulk').set('n', i));
    await Parse.Object.saveAll(items);
    assert.ok(items.every((item) => item.id));
    assert.equal(await new Parse.Query('Bulk').count(), 25);
    items.forEach((item) => item.increment('n', 100));
    await Parse.Object.saveAll(items);
    const low = await new Parse.Query('Bulk').lessThan('n', 100).count();
    assert.equal(low, 0);
    await Parse.Object.destroyAll(items);
    assert.equal(await new Parse.Query('Bulk').count(), 0);
  });

  test('one failing item fails alone', async () => {
    await new Parse.Object('Mixed').save({ n: 1 });
    const good = new Parse.Object('Mixed').set('n', 2);
    const bad = new Parse.Object('Mixed').set('n', 'not a number');
    await assert.rejects(Parse.Object.saveAll([good, bad]), (error) => error.code === Parse.Error.INCORRECT_TYPE);
    assert.ok(good.id, 'the valid object was saved');
  });
});

describe('config', () => {
  test('Parse.Config.save (master) then get', async () => {
    await Parse.Config.save({ welcome: 'hi', limit: 3 });
    const config = await Parse.Config.get();
    assert.equal(config.get('welcome'), 'hi');
    assert.equal(config.get('limit'), 3);
  });
});

describe('files', () => {
  test('a file saved from base64 downloads with the same bytes', async () => {
    const file = new Parse.File('hello.txt', { base64: Buffer.from('hello, file').toString('base64') });
    await file.save();
    assert.match(file.name(), /_hello\.txt$/);
    const response = await fetch(file.url());
    assert.equal(response.status, 200);
    assert.equal(await response.text(), 'hello, file');
    assert.match(response.headers.get('content-type'), /^text\/plain/);

    const holder = await new Parse.Object('Doc').save({ attachment: file });
    const copy = await new Parse.Query('Doc').get(holder.id);
    assert.equal(copy.get('attachment').name(), file.name());

    await file.destroy({ useMasterKey: true });
    assert.equal((await fetch(file.url())).status, 404);
  });

  test('a file name Parse refuses is INVALID_FILE_NAME', async () => {
    const file = new Parse.File('bad$name.txt', { base64: 'aGk=' });
    await assert.rejects(file.save(), (error) => error.code === Parse.Error.INVALID_FILE_NAME);
  });
});

describe('cloud functions', () => {
  test('without a loaded export a function call is answered 404, not retried', async () => {
    const started = Date.now();
    await assert.rejects(Parse.Cloud.run('hello', { name: 'x' }));
    assert.ok(Date.now() - started < 1000);
    const raw = await rawRequest(server, 'POST', '/functions/hello', { body: {} });
    assert.equal(raw.status, 404);
    assert.equal(raw.body.error, "Function 'hello' not found");
  });
});

describe('cloud functions of a loaded Noodl export', () => {
  let exportServer;
  before(async () => {
    exportServer = await startServer(['--export', ECHO_EXPORT]);
  });
  after(async () => {
    await exportServer?.stop();
    Parse.initialize(server.appId, undefined, server.masterKey);
    Parse.serverURL = server.url;
  });

  test('Parse.Cloud.run returns the Response node result', async () => {
    Parse.serverURL = exportServer.url;
    Parse.initialize(exportServer.appId, undefined, exportServer.masterKey);
    const result = await Parse.Cloud.run('echo', { message: 'hello noodl', count: 3 });
    assert.deepEqual(result, { echo: 'hello noodl', count: 3 });
    const raw = await rawRequest(exportServer, 'POST', '/functions/echo', { body: { count: 1 } });
    assert.deepEqual(raw, { status: 200, body: { result: { count: 1 } } });
    const unknown = await rawRequest(exportServer, 'POST', '/functions/nope', { body: {} });
    assert.equal(unknown.status, 404);
  });
});
