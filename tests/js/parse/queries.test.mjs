// Parse.Query through the official SDK, on a small fixed data set.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startParse } from './server.mjs';

let Parse;
let server;
let teams;

const PLAYERS = [
  { name: 'ada', score: 90, tags: ['red', 'fast'], city: 'Oslo', at: [59.91, 10.75], joined: '2024-01-05' },
  { name: 'bob', score: 40, tags: ['blue'], city: 'Bergen', at: [60.39, 5.32], joined: '2024-03-01' },
  { name: 'cy', score: 75, tags: ['red', 'slow'], city: 'Paris', at: [48.86, 2.35], joined: '2023-11-20' },
  { name: 'dee', score: 40, tags: [], city: 'Oslo', at: [59.92, 10.76], joined: '2024-06-30' },
  { name: 'Eve', score: 10, tags: ['blue', 'red', 'fast'], at: [40.71, -74.0], joined: '2022-02-02' },
];

before(async () => {
  ({ Parse, server } = await startParse());
  teams = {
    north: await new Parse.Object('Team').save({ name: 'north', region: 'N', home: 'Oslo' }),
    south: await new Parse.Object('Team').save({ name: 'south', region: 'S' }),
  };
  const players = PLAYERS.map((fields, index) => {
    const player = new Parse.Object('Player');
    const { at, joined, ...plain } = fields;
    player.set({
      ...plain,
      at: new Parse.GeoPoint(at[0], at[1]),
      joined: new Date(`${joined}T00:00:00.000Z`),
      team: index % 2 === 0 ? teams.north : teams.south,
    });
    return player;
  });
  await Parse.Object.saveAll(players);
});
after(async () => {
  await server.stop();
});

async function names(query) {
  return (await query.find()).map((player) => player.get('name')).sort();
}

function players() {
  return new Parse.Query('Player');
}

describe('queries', () => {
  test('comparisons', async () => {
    assert.deepEqual(await names(players().equalTo('score', 40)), ['bob', 'dee']);
    assert.deepEqual(await names(players().notEqualTo('score', 40)), ['Eve', 'ada', 'cy']);
    assert.deepEqual(await names(players().greaterThan('score', 40)), ['ada', 'cy']);
    assert.deepEqual(await names(players().greaterThanOrEqualTo('score', 75)), ['ada', 'cy']);
    assert.deepEqual(await names(players().lessThan('score', 40)), ['Eve']);
    assert.deepEqual(await names(players().lessThanOrEqualTo('score', 40)), ['Eve', 'bob', 'dee']);
    assert.deepEqual(await names(players().greaterThan('joined', new Date('2024-02-01T00:00:00Z'))), ['bob', 'dee']);
  });

  test('membership and existence', async () => {
    assert.deepEqual(await names(players().containedIn('city', ['Oslo', 'Paris'])), ['ada', 'cy', 'dee']);
    assert.deepEqual(await names(players().notContainedIn('city', ['Oslo', 'Paris'])), ['Eve', 'bob']);
    assert.deepEqual(await names(players().doesNotExist('city')), ['Eve']);
    assert.deepEqual((await names(players().exists('city'))).length, 4);
    assert.deepEqual(await names(players().containedIn('city', [])), []);
  });

  test('array constraints', async () => {
    assert.deepEqual(await names(players().equalTo('tags', 'red')), ['Eve', 'ada', 'cy']);
    assert.deepEqual(await names(players().containsAll('tags', ['red', 'fast'])), ['Eve', 'ada']);
    assert.deepEqual(await names(players().containedBy('tags', ['red', 'fast', 'slow'])), ['ada', 'cy', 'dee']);
    assert.deepEqual(await names(players().containsAllStartingWith('tags', ['bl', 're'])), ['Eve']);
  });

  test('string matching', async () => {
    assert.deepEqual(await names(players().startsWith('name', 'a')), ['ada']);
    assert.deepEqual(await names(players().endsWith('name', 'e')), ['Eve', 'dee']);
    assert.deepEqual(await names(players().contains('city', 'e')), ['bob']);
    assert.deepEqual(await names(players().matches('name', '^e', 'i')), ['Eve']);
    assert.deepEqual(await names(players().startsWith('name', 'a.')), [], 'regex metacharacters are literal');
  });

  test('compound or, and, nor', async () => {
    const high = players().greaterThan('score', 80);
    const low = players().lessThan('score', 20);
    assert.deepEqual(await names(Parse.Query.or(high, low)), ['Eve', 'ada']);
    const oslo = players().equalTo('city', 'Oslo');
    assert.deepEqual(await names(Parse.Query.and(oslo, players().equalTo('score', 40))), ['dee']);
    assert.deepEqual(await names(Parse.Query.nor(high, low)), ['bob', 'cy', 'dee']);
  });

  test('matchesQuery, doesNotMatchQuery and key matching across classes', async () => {
    const north = new Parse.Query('Team').equalTo('region', 'N');
    assert.deepEqual(await names(players().matchesQuery('team', north)), ['Eve', 'ada', 'cy']);
    assert.deepEqual(await names(players().doesNotMatchQuery('team', north)), ['bob', 'dee']);
    const homes = new Parse.Query('Team').equalTo('region', 'N');
    assert.deepEqual(await names(players().matchesKeyInQuery('city', 'home', homes)), ['ada', 'dee']);
    assert.deepEqual(await names(players().equalTo('team', teams.south)), ['bob', 'dee']);
  });

  test('order, limit, skip, count and first', async () => {
    const ordered = await players().descending('score').addAscending('name').find();
    assert.deepEqual(ordered.map((p) => p.get('name')), ['ada', 'cy', 'bob', 'dee', 'Eve']);
    const page = await players().ascending('score').skip(1).limit(2).find();
    assert.deepEqual(page.map((p) => p.get('score')), [40, 40]);
    assert.equal(await players().greaterThan('score', 30).count(), 4);
    const { results, count } = await players().limit(1).withCount().find();
    assert.equal(results.length, 1);
    assert.equal(count, 5);
    assert.equal((await players().ascending('score').first()).get('name'), 'Eve');
  });

  test('include, select and exclude shape the returned objects', async () => {
    const included = await players().equalTo('name', 'ada').include('team').first();
    assert.equal(included.get('team').get('name'), 'north');
    const selected = await players().equalTo('name', 'ada').select('score').first();
    assert.equal(selected.get('score'), 90);
    assert.equal(selected.has('city'), false);
    const excluded = await players().equalTo('name', 'ada').exclude('city').first();
    assert.equal(excluded.has('city'), false);
    assert.equal(excluded.get('score'), 90);
  });

  test('each pages through every row', async () => {
    const seen = [];
    await players().each((player) => seen.push(player.get('name')), { batchSize: 2 });
    assert.deepEqual(seen.sort(), ['Eve', 'ada', 'bob', 'cy', 'dee']);
  });

  test('distinct and aggregate (the SDK sends the master key)', async () => {
    assert.deepEqual((await players().distinct('city')).sort(), ['Bergen', 'Oslo', 'Paris']);
    const grouped = await players().aggregate([
      { $group: { _id: '$city', total: { $sum: '$score' } } },
      { $sort: { total: -1 } },
    ]);
    const byCity = Object.fromEntries(grouped.map((row) => [row.objectId, row.total]));
    assert.equal(byCity.Oslo, 130);
    assert.equal(byCity.Paris, 75);
    const matched = await players().greaterThan('score', 50).aggregate([{ $group: { _id: null, n: { $sum: 1 } } }]);
    assert.equal(matched[0].n, 2);
  });

  test('geo queries', async () => {
    const oslo = new Parse.GeoPoint(59.91, 10.75);
    assert.deepEqual(await names(players().withinKilometers('at', oslo, 10)), ['ada', 'dee']);
    const near = await players().near('at', oslo).limit(3).find();
    assert.deepEqual(near.map((p) => p.get('name')), ['ada', 'dee', 'bob']);
    const box = players().withinGeoBox('at', new Parse.GeoPoint(45, 0), new Parse.GeoPoint(61, 11));
    assert.deepEqual(await names(box), ['ada', 'bob', 'cy', 'dee']);
    const triangle = [new Parse.GeoPoint(58, 4), new Parse.GeoPoint(62, 4), new Parse.GeoPoint(60, 12)];
    assert.deepEqual(await names(players().withinPolygon('at', triangle)), ['ada', 'bob', 'dee']);
  });

  test('full-text search', async () => {
    await Parse.Object.saveAll([
      new Parse.Object('Article').set('body', 'The quick brown fox'),
      new Parse.Object('Article').set('body', 'A lazy dog sleeps'),
    ]);
    const found = await new Parse.Query('Article').fullText('body', 'fox').find();
    assert.deepEqual(found.map((article) => article.get('body')), ['The quick brown fox']);
  });

  test('polygons contain points', async () => {
    const square = new Parse.Polygon([[0, 0], [0, 10], [10, 10], [10, 0]]);
    const zone = await new Parse.Object('Zone').save({ name: 'square', area: square });
    const inside = await new Parse.Query('Zone').polygonContains('area', new Parse.GeoPoint(5, 5)).find();
    assert.deepEqual(inside.map((found) => found.id), [zone.id]);
    const outside = await new Parse.Query('Zone').polygonContains('area', new Parse.GeoPoint(20, 20)).find();
    assert.deepEqual(outside, []);
  });

  test('doesNotMatchKeyInQuery, withinMiles and includeAll', async () => {
    const homes = new Parse.Query('Team').equalTo('region', 'N');
    assert.deepEqual(await names(players().exists('city').doesNotMatchKeyInQuery('city', 'home', homes)), [
      'bob',
      'cy',
    ]);
    const oslo = new Parse.GeoPoint(59.91, 10.75);
    assert.deepEqual(await names(players().withinMiles('at', oslo, 250)), ['ada', 'bob', 'dee']);
    const everything = await players().equalTo('name', 'bob').includeAll().first();
    assert.equal(everything.get('team').get('name'), 'south');
  });

  test('an invalid query is an error, never every row', async () => {
    const query = players();
    query._addCondition('score', '$bogus', 1);
    await assert.rejects(query.find(), (error) => error.code === Parse.Error.INVALID_JSON);
  });
});
