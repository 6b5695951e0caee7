import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PeopleTable } from '../../src/registry/peopleTable.js';
import type { Person } from '../../src/registry/peopleRegistry.js';
import { Client, startAdmin, type Harness } from './adminHarness.js';

/**
 * The people list at site scale: 2,143 people (a real SQLite file through the repo), paged with
 * cursors and with offsets, filtered, searched, sorted both ways, and every bad parameter refused
 * with a 400 that names it.
 */

const N = 2143;
const FIRST = [
  'Ann',
  'anna',
  'Bo',
  'Carl',
  'dana',
  'Eve',
  'Finn',
  'Gus',
  'Hana',
  'Ivo',
  'Jan',
  'kim',
  'Lea',
  'Mo',
  'Nia',
  'Ole',
  'Pia',
  'Quin',
  'Rui',
  'Sam',
  'Tove',
  'Uma',
  'Vic',
  'Wes',
  'Xia',
  'Yann',
  'Zoe',
];
const LAST = [
  'Abbott',
  'berg',
  'Chen',
  'Diaz',
  'Engel',
  'Fox',
  'Grant',
  'Holm',
  'Ito',
  'Jensen',
  'Khan',
  'Lund',
  'Moss',
  'Nagy',
  'Ortiz',
  'Park',
  'Quist',
  'Ruiz',
  'Sato',
  'Toth',
  'Ueda',
  'Vogel',
  'Wang',
  'Young',
];

interface Item {
  id: string;
  name: string;
  status: string;
  externalId: string | null;
  templates: number;
}
interface Page {
  items: Item[];
  total: number;
  offset: number;
  limit: number;
  nextCursor: string | null;
  prevCursor: string | null;
}

/** SQLite's NOCASE order (ASCII folded), ties by id: what the API promises. */
const byName = (a: { name: string; id: string }, b: { name: string; id: string }) => {
  const x = a.name.toLowerCase();
  const y = b.name.toLowerCase();
  return x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
};

describe('people list paging (2,143 people)', () => {
  let h: Harness;
  let c: Client;
  let people: Person[] = [];

  const page = async (query: string): Promise<Page> => {
    const r = await c.req('GET', `/api/v1/people?${query}`);
    expect(r.status, r.text).toBe(200);
    return r.json as unknown as Page;
  };

  /** Follows nextCursor from the first page to the last; returns every page. */
  const walk = async (query: string): Promise<Page[]> => {
    const pages = [await page(query)];
    while (pages.at(-1)!.nextCursor) {
      pages.push(await page(`${query}&after=${encodeURIComponent(pages.at(-1)!.nextCursor!)}`));
      if (pages.length > 100) throw new Error('paging does not end');
    }
    return pages;
  };

  beforeAll(async () => {
    h = await startAdmin();
    c = new Client(h.url);
    expect(await c.setup(h.setupToken())).toBe(200);
    const store = h.unit.store;
    store.transaction(() => {
      for (let i = 0; i < N; i++) {
        // Same names more than once (ties broken by id), mixed case, every 7th deactivated, some badge IDs.
        const name = `${FIRST[i % FIRST.length]} ${LAST[(i * 7) % LAST.length]}`;
        people.push(
          new PeopleTable(store.db).create({
            name,
            status: i % 7 === 3 ? 'DEACTIVATED' : 'ACTIVE',
            externalId: i % 10 === 0 ? `B-${String(i).padStart(5, '0')}` : null,
          }),
        );
      }
    });
    people = people.sort(byName);
  }, 120_000);
  afterAll(async () => h?.close());

  it('pages through everyone with cursors: totals, positions, no overlap, no gap, name order', async () => {
    const pages = await walk('limit=100');
    expect(pages).toHaveLength(Math.ceil(N / 100));
    pages.forEach((p, i) => {
      expect(p.total).toBe(N);
      expect(p.offset).toBe(i * 100);
      expect(p.limit).toBe(100);
      expect(p.items.length).toBe(i < pages.length - 1 ? 100 : N % 100);
      expect(p.prevCursor === null).toBe(i === 0);
    });
    const ids = pages.flatMap((p) => p.items.map((x) => x.id));
    expect(new Set(ids).size).toBe(N);
    expect(ids).toEqual(people.map((p) => p.id));
    expect(pages[0]!.items[0]).toMatchObject({ templates: 0, status: expect.stringMatching(/^(ACTIVE|DEACTIVATED)$/) });
  });

  it('default page is 100; offset paging gives the same pages; prevCursor goes back exactly one page', async () => {
    const first = await page('');
    expect(first.items).toHaveLength(100);
    expect(first.limit).toBe(100);
    const viaOffset = await page('limit=100&offset=200');
    const p2 = await page(`after=${encodeURIComponent(first.nextCursor!)}`);
    const p3 = await page(`after=${encodeURIComponent(p2.nextCursor!)}`);
    expect(p3.offset).toBe(200);
    expect(p3.items.map((x) => x.id)).toEqual(viaOffset.items.map((x) => x.id));
    const back = await page(`before=${encodeURIComponent(p3.prevCursor!)}`);
    expect(back.offset).toBe(100);
    expect(back.items.map((x) => x.id)).toEqual(p2.items.map((x) => x.id));
    const backToStart = await page(`before=${encodeURIComponent(p2.prevCursor!)}`);
    expect(backToStart.offset).toBe(0);
    expect(backToStart.prevCursor).toBeNull();
    expect(backToStart.items.map((x) => x.id)).toEqual(first.items.map((x) => x.id));
    const last = await page('limit=500&offset=2000');
    expect(last.items).toHaveLength(N - 2000);
    expect(last.nextCursor).toBeNull();
    expect((await page('offset=5000')).items).toEqual([]);
  });

  it('sorts Z–A with -name, and pages the same way', async () => {
    const pages = await walk('limit=500&sort=-name');
    expect(pages.flatMap((p) => p.items.map((x) => x.id))).toEqual(people.map((p) => p.id).reverse());
    const back = await page(`sort=-name&limit=500&before=${encodeURIComponent(pages[2]!.prevCursor!)}`);
    expect(back.items.map((x) => x.id)).toEqual(pages[1]!.items.map((x) => x.id));
  });

  it('combines the status filter with search (name or badge ID, case-insensitive); totals follow the filter', async () => {
    const deactivated = people.filter((p) => p.status === 'DEACTIVATED');
    const d = await walk('status=DEACTIVATED&limit=100');
    expect(d[0]!.total).toBe(deactivated.length);
    expect(d.flatMap((p) => p.items.map((x) => x.id))).toEqual(deactivated.map((p) => p.id));

    const ann = people.filter((p) => /ann/i.test(p.name) && p.status === 'ACTIVE');
    expect(ann.length).toBeGreaterThan(100); // more than one page, so the combination is paged too
    const a = await walk('status=ACTIVE&search=ANN&limit=50');
    expect(a[0]!.total).toBe(ann.length);
    expect(a.flatMap((p) => p.items.map((x) => x.id))).toEqual(ann.map((p) => p.id));
    for (const x of a.flatMap((p) => p.items)) expect(x.status).toBe('ACTIVE');

    const badge = await page('search=b-0012');
    expect(badge.items.map((x) => x.externalId)).toEqual(['B-00120']);
    expect(badge.total).toBe(1);
    expect((await page('search=%25')).total).toBe(0); // % is a character, not a wildcard
    expect((await page('q=ann&status=ACTIVE')).total).toBe(ann.length); // the older parameter name still works
    const none = await page('search=nobody-has-this-name');
    expect(none).toMatchObject({ items: [], total: 0, offset: 0, nextCursor: null, prevCursor: null });
  });

  it('a cursor survives renames and deletions on earlier pages (an offset would skip someone)', async () => {
    const p1 = await page('limit=100&status=ACTIVE');
    const byOffsetBefore = await page('limit=100&status=ACTIVE&offset=100');
    // Meanwhile someone on page 1 is deleted and someone else on page 1 is renamed to sort last.
    h.unit.registry.remove(p1.items[10]!.id, 'test');
    h.unit.registry.update(p1.items[20]!.id, { name: 'Zz Renamed' }, 'test');
    const next = await page(`limit=100&status=ACTIVE&after=${encodeURIComponent(p1.nextCursor!)}`);
    expect(next.items.map((x) => x.id)).toEqual(byOffsetBefore.items.map((x) => x.id));
    expect(next.offset).toBe(98); // two fewer ahead of it now
    const byOffsetAfter = await page('limit=100&status=ACTIVE&offset=100');
    expect(byOffsetAfter.items[0]!.id).toBe(byOffsetBefore.items[2]!.id); // offset paging skipped two people
    // The cursor names a row that was deleted: paging still continues after its place.
    h.unit.registry.remove(p1.items[99]!.id, 'test');
    const again = await page(`limit=100&status=ACTIVE&after=${encodeURIComponent(p1.nextCursor!)}`);
    expect(again.items.map((x) => x.id)).toEqual(byOffsetBefore.items.map((x) => x.id));
  });

  it('refuses bad parameters with 400s that name the parameter', async () => {
    const cases: Array<[string, string, RegExp]> = [
      ['limit=0', 'limit', /^limit: must be a whole number from 1 to 500 \(got "0"\)/],
      ['limit=501', 'limit', /^limit: must be a whole number from 1 to 500/],
      ['limit=ten', 'limit', /^limit: .*\(got "ten"\)/],
      ['limit=2.5', 'limit', /^limit: /],
      ['offset=-1', 'offset', /^offset: must be a whole number, 0 or more/],
      ['offset=abc', 'offset', /^offset: .*"abc"/],
      ['status=gone', 'status', /^status: must be ACTIVE or DEACTIVATED/],
      ['sort=age', 'sort', /^sort: must be name \(A–Z\) or -name/],
      [`search=${'x'.repeat(101)}`, 'search', /^search: at most 100 characters/],
      ['after=not-a-cursor', 'after', /^after: must be the nextCursor of an earlier page/],
      [`before=${Buffer.from('{"a":1}').toString('base64url')}`, 'before', /^before: /],
      ['offset=100&after=WyJhIiwiYiJd', 'after', /^after: use one of offset, after and before/],
      ['page=2', 'page', /^page: unknown parameter/],
      ['search=a&q=b', 'q', /^q: give search or q/],
    ];
    for (const [query, parameter, message] of cases) {
      const r = await c.req('GET', `/api/v1/people?${query}`);
      expect(r.status, query).toBe(400);
      expect(r.json.parameter, query).toBe(parameter);
      expect(String(r.json.message), query).toMatch(message);
    }
  });

  it('describes the query and the { items, total } response in the OpenAPI document', async () => {
    const spec = (await c.req('GET', '/docs/json')).json as {
      paths: Record<
        string,
        {
          get: {
            parameters: Array<{ name: string }>;
            responses: Record<string, { content: Record<string, { schema: { properties: Record<string, unknown> } }> }>;
          };
        }
      >;
    };
    const op = spec.paths['/api/v1/people']!.get;
    expect(op.parameters.map((p) => p.name)).toEqual(expect.arrayContaining(['limit', 'offset', 'after', 'before', 'status', 'search', 'sort']));
    expect(Object.keys(op.responses['200']!.content['application/json']!.schema.properties)).toEqual(
      expect.arrayContaining(['items', 'total', 'nextCursor', 'prevCursor']),
    );
    expect(op.responses['400']).toBeDefined();
  });
});
