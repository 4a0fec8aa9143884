import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parse } from 'csv-parse/sync';
import { runCli, tempDataDir } from '../testing/harness.js';

describe('linkqr links import / export', () => {
  let dir: string;
  before(async () => {
    dir = tempDataDir();
    assert.equal((await runCli(['workspace', 'create', 'Acme'], { dataDir: dir })).code, 0);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('a dry run reports and writes nothing; the import creates; the export reads back; problems are listed by line', async () => {
    const file = join(dir, 'in.csv');
    writeFileSync(file, 'url,slug,title\nhttps://example.com/a,cli-a,"Hello, world"\nftp://x,bad,\nhttps://example.com/b,,\n');
    const dry = await runCli(['links', 'import', '--workspace', 'Acme', '--format', 'csv', '--dry-run', file], { dataDir: dir });
    assert.equal(dry.code, 0, dry.stderr);
    assert.match(dry.stdout, /^Would create 2 of 3 links; 1 row skipped \(import imp_\w+\)\.\n/);
    assert.match(dry.stdout, /^3 +invalid +bad +url: must be an absolute http:\/\/ or https:\/\/ URL$/m);
    const none = await runCli(['links', 'export', '--workspace', 'Acme'], { dataDir: dir });
    assert.equal(parse(none.stdout, { columns: true }).length, 0, 'the dry run created nothing');

    const real = await runCli(['links', 'import', '--workspace', 'Acme', '--format', 'csv', file], { dataDir: dir });
    assert.match(real.stdout, /^Created 2 of 3 links; 1 row skipped/);
    const out = join(dir, 'out.csv');
    assert.equal((await runCli(['links', 'export', '--workspace', 'Acme', '--out', out], { dataDir: dir })).code, 0);
    const rows = parse(readFileSync(out, 'utf8'), { columns: true }) as Record<string, string>[];
    assert.deepEqual(rows.map((r) => r.url).sort(), ['https://example.com/a', 'https://example.com/b']);
    assert.equal(rows.find((r) => r.slug === 'cli-a')!.title, 'Hello, world');

    const again = await runCli(['links', 'export', '--workspace', 'Acme', '--out', out], { dataDir: dir });
    assert.equal(again.code, 2);
    assert.match(again.stderr, /exists already/);
    const wrong = await runCli(['links', 'import', '--workspace', 'Acme', '--format', 'shlink', file], { dataDir: dir });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /the import failed: the Shlink CSV has no longUrl column; found: url, slug, title/);
    const json = await runCli(['links', 'import', '--workspace', 'Acme', '--format', 'csv', '--json', '--dry-run', file], { dataDir: dir });
    const [summary, ...skipped] = json.stdout.trim().split('\n').map((l) => JSON.parse(l));
    // cli-a is taken now; the row without a slug would get a new one.
    assert.deepEqual({ created: summary.created, skipped: summary.skipped }, { created: 1, skipped: 2 });
    assert.deepEqual(skipped.map((s: { outcome: string }) => s.outcome).sort(), ['conflict', 'invalid']);
  });
});
