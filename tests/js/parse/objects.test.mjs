// Parse.Object through the official SDK: save, fetch, field operators, unset, destroy, relations.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startParse } from './server.mjs';

let Parse;
let server;

before(async () => {
  ({ Parse, server } = await startParse());
});
after(async () => {
  await server.stop();
});

async function saved(className, fields) {
  const object = new Parse.Object(className);
  await object.save(fields);
  return object;
}

async function reloaded(object) {
  return new Parse.Query(object.className).get(object.id);
}

describe('objects', () => {
  test('save assigns an id and timestamps; fetch reads the stored fields back', async () => {
    const when = new Date('2024-05-06T07:08:09.123Z');
    const game = await saved('Game', { title: 'Chess', score: 12, done: false, when, meta: { a: 1 } });
    assert.ok(game.id);
    assert.ok(game.createdAt instanceof Date);

    const copy = new Parse.Object('Game');
    copy.id = game.id;
    await copy.fetch();
    assert.equal(copy.get('title'), 'Chess');
    assert.equal(copy.get('score'), 12);
    assert.equal(copy.get('done'), false);
    assert.equal(copy.get('when').toISOString(), when.toISOString());
    assert.deepEqual(copy.get('meta'), { a: 1 });
  });

  test('updating a field keeps the others', async () => {
    const game = await saved('Game', { title: 'Go', score: 1 });
    game.set('score', 2);
    await game.save();
    const copy = await reloaded(game);
    assert.equal(copy.get('title'), 'Go');
    assert.equal(copy.get('score'), 2);
    assert.ok(copy.updatedAt >= copy.createdAt);
  });

  test('increment is atomic and the new value comes back on the object', async () => {
    const counter = await saved('Counter', { hits: 40 });
    const other = await reloaded(counter);
    counter.increment('hits', 2);
    other.increment('hits', -5);
    await Promise.all([counter.save(), other.save()]);
    assert.equal((await reloaded(counter)).get('hits'), 37);
    counter.increment('hits');
    await counter.save();
    assert.equal(counter.get('hits'), 38, 'the echoed full value replaces the local one');
  });

  test('add, addUnique and remove edit arrays on the server', async () => {
    const list = await saved('List', { tags: ['a', 'b'] });
    list.add('tags', 'a');
    await list.save();
    list.addUnique('tags', 'c');
    list.addUnique('tags', 'b');
    await list.save();
    assert.deepEqual((await reloaded(list)).get('tags'), ['a', 'b', 'a', 'c']);
    list.remove('tags', 'a');
    await list.save();
    assert.deepEqual((await reloaded(list)).get('tags'), ['b', 'c']);
  });

  test('unset removes a field', async () => {
    const item = await saved('Item', { name: 'x', note: 'drop me' });
    item.unset('note');
    await item.save();
    const copy = await reloaded(item);
    assert.equal(copy.has('note'), false);
    assert.equal(copy.get('name'), 'x');
  });

  test('a dot key updates inside an object field', async () => {
    const item = await saved('Item', { meta: { x: 1, y: 2 } });
    item.set('meta.x', 5);
    await item.save();
    assert.deepEqual((await reloaded(item)).get('meta'), { x: 5, y: 2 });
  });

  test('destroy deletes; fetching afterwards is OBJECT_NOT_FOUND', async () => {
    const item = await saved('Item', { name: 'gone' });
    await item.destroy();
    await assert.rejects(reloaded(item), (error) => error.code === Parse.Error.OBJECT_NOT_FOUND);
    const ghost = new Parse.Object('Item');
    ghost.id = item.id;
    await assert.rejects(ghost.destroy(), (error) => error.code === Parse.Error.OBJECT_NOT_FOUND);
  });

  test('a pointer is stored and can be included', async () => {
    const owner = await saved('Owner', { name: 'Ada' });
    const pet = await saved('Pet', { name: 'Rex', owner });
    const query = new Parse.Query('Pet');
    query.include('owner');
    const found = await query.get(pet.id);
    assert.equal(found.get('owner').id, owner.id);
    assert.equal(found.get('owner').get('name'), 'Ada');
  });

  test('a relation holds members that its query finds', async () => {
    const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => saved('Member', { name })));
    const team = await saved('Team', { name: 'blue' });
    const members = team.relation('members');
    members.add([a, b, c]);
    await team.save();
    members.remove(b);
    await team.save();
    const names = (await members.query().find()).map((member) => member.get('name')).sort();
    assert.deepEqual(names, ['a', 'c']);

    const owners = new Parse.Query('Team');
    owners.equalTo('members', a);
    assert.deepEqual((await owners.find()).map((found) => found.id), [team.id]);
  });

  test('GeoPoints and mixed arrays round-trip', async () => {
    const place = await saved('Place', { at: new Parse.GeoPoint(59.91, 10.75), list: [1, 'two', { three: 3 }] });
    const copy = await reloaded(place);
    assert.equal(copy.get('at').latitude, 59.91);
    assert.equal(copy.get('at').longitude, 10.75);
    assert.deepEqual(copy.get('list'), [1, 'two', { three: 3 }]);
  });

  test('a schema mismatch is INCORRECT_TYPE and is not retried', async () => {
    await saved('Typed', { n: 1 });
    const started = Date.now();
    await assert.rejects(saved('Typed', { n: 'one' }), (error) => error.code === Parse.Error.INCORRECT_TYPE);
    assert.ok(Date.now() - started < 1000, 'a 4xx answer fails at once (5xx would be retried for seconds)');
  });
});
