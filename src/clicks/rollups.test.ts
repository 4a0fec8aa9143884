import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ClickRecord } from './clicks.repo.js';
import { encodeRollups, RollupSums } from './pending-rollups.js';
import { DAY_MS, FACETS, HOUR_MS, hourValue, type LinkRollup, rollUp, type WorkspaceCountry, type WorkspaceHour } from './rollups.js';

/** The rollups spelt out: each click counted once in each of its rows, nothing shared or remembered. */
function reference(clicks: readonly ClickRecord[]) {
  const links = new Map<string, number[]>();
  const workspaces = new Map<string, number[]>();
  const countries = new Map<string, number[]>();
  const add = (map: Map<string, number[]>, key: string, c: ClickRecord) => {
    const counts = map.get(key) ?? [0, 0, 0];
    map.set(key, [counts[0]! + 1, counts[1]! + (c.bot ? 0 : 1), counts[2]! + (c.qr ? 1 : 0)]);
  };
  for (const c of clicks) {
    const day = c.at - (c.at % DAY_MS);
    const values: Record<string, string> = {
      all: '',
      hour: hourValue(c.at),
      referrer: c.referrerHost ?? '',
      device: c.device,
      browser: c.browser,
      os: c.os,
      country: c.country ?? '',
    };
    for (const [facet, value] of Object.entries(values)) add(links, JSON.stringify([c.linkId, facet, day, value]), c);
    add(workspaces, JSON.stringify([c.workspaceId, c.at - (c.at % HOUR_MS)]), c);
    add(countries, JSON.stringify([c.workspaceId, c.at - (c.at % HOUR_MS), c.country ?? '']), c);
  }
  return { links, workspaces, countries };
}

/** A small random generator with a seed (mulberry32), so that a failure can be replayed. */
function random(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s + 0x6d2b79f5) >>> 0;
    let x = Math.imul(s ^ (s >>> 15), 1 | s);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) % n;
  };
}

/** 400 clicks of 4 links in 2 workspaces over two UTC days, from a seed. */
function randomClicks(seed: number): ClickRecord[] {
  const pick = random(seed);
  const T0 = Date.UTC(2030, 0, 1, 22);
  const clicks: ClickRecord[] = [];
  // Runs of alike clicks (what the rollup remembers between clicks) broken by clicks differing in one field.
  let base: ClickRecord | undefined;
  for (let i = 0; i < 400; i++) {
    const link = pick(4);
    const fresh: ClickRecord = {
      linkId: `lnk_${link}`,
      // A link belongs to one workspace.
      workspaceId: `ws_${link % 2}`,
      at: T0 + pick(4) * HOUR_MS + pick(1000),
      bot: pick(4) === 0,
      qr: pick(3) === 0,
      referrer: null,
      referrerHost: pick(3) === 0 ? null : `r${pick(3)}.example`,
      userAgent: null,
      device: ['desktop', 'mobile'][pick(2)]!,
      browser: ['Chrome', 'Safari', 'Firefox'][pick(3)]!,
      os: ['Windows', 'iOS'][pick(2)]!,
      ipHash: null,
      country: pick(4) === 0 ? null : ['US', 'DE', 'JP'][pick(3)]!,
    };
    const field = (['linkId', 'bot', 'qr', 'referrerHost', 'device', 'browser', 'os', 'country', 'at'] as const)[pick(9)]!;
    base = base && pick(3) !== 0 ? { ...base, [field]: fresh[field], workspaceId: field === 'linkId' ? fresh.workspaceId : base.workspaceId, bot: fresh.bot, qr: fresh.qr } : fresh;
    clicks.push(base);
  }
  return clicks;
}

/** The rows of rollups, by key: [total, human, qr]. */
const byKey = (r: { links: readonly LinkRollup[]; workspaces: readonly WorkspaceHour[]; countries: readonly WorkspaceCountry[] }) => ({
  links: new Map(r.links.map((l) => [JSON.stringify([l.linkId, l.facet, l.day, l.value]), [l.total, l.human, l.qr]])),
  workspaces: new Map(r.workspaces.map((w) => [JSON.stringify([w.workspaceId, w.hour]), [w.total, w.human, w.qr]])),
  countries: new Map(r.countries.map((c) => [JSON.stringify([c.workspaceId, c.hour, c.country]), [c.total, c.human, c.qr]])),
});

test('rollUp: every row of every facet, the workspace hours and countries, match counting each click on its own', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const clicks = randomClicks(seed);
    // The input is what the test is about: alike runs, human and bot clicks, two UTC days, links taking turns within one workspace.
    assert.ok(clicks.filter((c) => c.bot).length > 40 && clicks.filter((c) => !c.bot).length > 200, `seed ${seed}: bots and humans`);
    assert.equal(new Set(clicks.map((c) => c.at - (c.at % DAY_MS))).size, 2, `seed ${seed}: two days`);
    const turns = clicks.filter((c, i) => i > 0 && c.linkId !== clicks[i - 1]!.linkId && c.workspaceId === clicks[i - 1]!.workspaceId).length;
    assert.ok(turns > 10, `seed ${seed}: links take turns in one workspace (${turns})`);
    const got = rollUp(clicks);
    const want = reference(clicks);
    const { links, workspaces, countries } = byKey(got);
    assert.equal(got.links.length, links.size, `seed ${seed}: one row per key`);
    assert.equal(got.countries.length, countries.size, `seed ${seed}: one country row per key`);
    assert.deepEqual(links, want.links, `seed ${seed}`);
    assert.deepEqual(workspaces, want.workspaces, `seed ${seed}`);
    assert.deepEqual(countries, want.countries, `seed ${seed}`);
    assert.ok([...countries.keys()].some((k) => JSON.parse(k)[2] === ''), 'unknown countries have rows of their own');
    assert.deepEqual(new Set(got.links.map((r) => r.facet)), new Set(['all', 'hour', ...FACETS]));
  }
});

test('pending rollups: batches written and read back, then summed, make the rows of all their clicks rolled up at once', () => {
  for (let seed = 1; seed <= 20; seed++) {
    const clicks = randomClicks(seed);
    const pick = random(1000 + seed);
    const sums = new RollupSums();
    let batches = 0;
    for (let from = 0; from < clicks.length; batches++) {
      const to = from + 1 + pick(60);
      const r = rollUp(clicks.slice(from, to));
      // Pieces of 1–40 rows: link-days cut across pieces too.
      const maxRows = 1 + pick(40);
      for (const piece of encodeRollups(r, maxRows)) {
        const rows = (JSON.parse(piece) as { links: unknown[][] }).links.reduce((n, linkDay) => n + (linkDay.length - 2) / 5, 0);
        assert.ok(rows <= maxRows, `seed ${seed}: ${rows} rows in a piece of at most ${maxRows}`);
        sums.add(piece);
      }
      from = to;
    }
    assert.ok(batches > 5, `seed ${seed}: several batches`);
    const got = { links: sums.linkRows, workspaces: sums.workspaceRows, countries: sums.countryRows };
    const { links, workspaces, countries } = byKey(got);
    assert.equal(got.links.length, links.size, `seed ${seed}: one row per key`);
    assert.equal(got.countries.length, countries.size, `seed ${seed}: one country row per key`);
    assert.equal(sums.size, links.size + workspaces.size + countries.size);
    const want = reference(clicks);
    assert.deepEqual(links, want.links, `seed ${seed}`);
    assert.deepEqual(workspaces, want.workspaces, `seed ${seed}`);
    assert.deepEqual(countries, want.countries, `seed ${seed}`);
  }
});

test('pending rollups of the form before 0022 ("workspaces", no countries): applied as they were, without countries', () => {
  const clicks = randomClicks(7);
  const r = rollUp(clicks);
  const [current] = encodeRollups(r, Infinity) as [string];
  const { links, hours } = JSON.parse(current) as { links: unknown[][]; hours: unknown[][] };
  const sums = new RollupSums();
  sums.add(JSON.stringify({ links, workspaces: hours }));
  const want = reference(clicks);
  const got = byKey({ links: sums.linkRows, workspaces: sums.workspaceRows, countries: sums.countryRows });
  assert.deepEqual(got.links, want.links);
  assert.deepEqual(got.workspaces, want.workspaces);
  assert.equal(got.countries.size, 0);
  sums.add(current);
  assert.deepEqual(byKey({ links: [], workspaces: [], countries: sums.countryRows }).countries, want.countries, 'a row of this form has its countries');
});

test('pending rollups: a row this version cannot read adds nothing, even when its start could be read', () => {
  const r = rollUp(randomClicks(1));
  const [good] = encodeRollups(r, Infinity) as [string];
  const parsed = JSON.parse(good) as { links: unknown[][]; hours: unknown[][]; countries: unknown[][] };
  const broken = [
    'not json',
    '{}',
    JSON.stringify({ ...parsed, links: [...parsed.links, [...parsed.links[0]!, 'country']] }),
    JSON.stringify({ ...parsed, links: [...parsed.links, [parsed.links[0]![0], parsed.links[0]![1], 'planet', 'Mars', 1, 1, 0]] }),
    JSON.stringify({ ...parsed, links: [...parsed.links, [parsed.links[0]![0], parsed.links[0]![1], 'all', '', -1, 0, 0]] }),
    JSON.stringify({ ...parsed, links: [...parsed.links, [parsed.links[0]![0], parsed.links[0]![1], 'all', '', 1.5, 0, 0]] }),
    JSON.stringify({ ...parsed, links: [...parsed.links, [parsed.links[0]![0], parsed.links[0]![1], 'all', 'from a newer version', 1, 1, 0]] }),
    JSON.stringify({ ...parsed, hours: [...parsed.hours, ['ws', 0, 1, 1]] }),
    JSON.stringify({ ...parsed, countries: [...parsed.countries, ['ws', 0, null, 1, 1, 0]] }),
    JSON.stringify({ ...parsed, countries: [...parsed.countries, ['ws', 0, 'US', 1, 1]] }),
    JSON.stringify({ links: parsed.links, hours: parsed.hours }),
    JSON.stringify({ links: parsed.links, countries: parsed.countries }),
  ];
  for (const text of broken) {
    const sums = new RollupSums();
    sums.add(good);
    const before = JSON.stringify([sums.linkRows, sums.workspaceRows, sums.countryRows]);
    assert.throws(() => sums.add(text), Error, text.slice(0, 40));
    assert.equal(JSON.stringify([sums.linkRows, sums.workspaceRows, sums.countryRows]), before, 'nothing added');
  }
});
