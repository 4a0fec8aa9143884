import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type TestContext, describe, test } from 'node:test';
import { tempDataDir } from '../testing/harness.js';
import { KEY_FILE, KeyFileError, loadAtRestKeys } from './at-rest-key.js';
import { SecretBox, UnreadableSecretError } from './secret-box.js';

const SECRET = 'a shared instance secret of at least 32 characters';

function dataDir(ctx: TestContext) {
  const dir = tempDataDir();
  ctx.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

describe('the at-rest key', () => {
  test('without LINKQR_SECRET: a random key in <data dir>/linkqr.key, readable by its owner only, the same on every start', (ctx) => {
    const dir = dataDir(ctx);
    const first = loadAtRestKeys({ secret: undefined, dataDir: dir });
    const file = join(dir, KEY_FILE);
    assert.equal(statSync(file).mode & 0o777, 0o600);
    assert.equal(Buffer.from(readFileSync(file, 'utf8').trim(), 'base64').length, 32);
    assert.equal(first.warning, undefined);
    assert.deepEqual(loadAtRestKeys({ secret: undefined, dataDir: dir }).current, first.current);
    assert.notDeepEqual(loadAtRestKeys({ secret: undefined, dataDir: dataDir(ctx) }).current.key, first.current.key, 'each instance its own');
  });

  test('processes starting at once on a new data dir end up with one key', async (ctx) => {
    const dir = dataDir(ctx);
    // Each child loads the key (making the file if it is missing) and prints its id.
    const script = `require('tsx/cjs'); const { loadAtRestKeys } = require(${JSON.stringify(join(__dirname, 'at-rest-key.ts'))});
      process.stdout.write(loadAtRestKeys({ secret: undefined, dataDir: ${JSON.stringify(dir)} }).current.id);`;
    const ids = await Promise.all(
      Array.from({ length: 6 }, () => {
        const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
        let out = '';
        child.stdout.on('data', (d) => (out += d));
        return new Promise<string>((resolve) => child.on('close', () => resolve(out)));
      }),
    );
    assert.equal(new Set(ids).size, 1, `ids: ${ids.join(', ')}`);
    assert.equal(ids[0], loadAtRestKeys({ secret: undefined, dataDir: dir }).current.id);
  });

  test('with LINKQR_SECRET: derived from it, no file made; an existing key file stays readable as a previous key', (ctx) => {
    const dir = dataDir(ctx);
    const fromSecret = loadAtRestKeys({ secret: SECRET, dataDir: dir });
    assert.equal(fromSecret.current.source, 'LINKQR_SECRET');
    assert.deepEqual(fromSecret.previous, []);
    assert.throws(() => statSync(join(dir, KEY_FILE)), /ENOENT/);
    assert.deepEqual(loadAtRestKeys({ secret: SECRET, dataDir: dataDir(ctx) }).current, fromSecret.current, 'instances sharing the secret share the key');
    assert.ok(!fromSecret.current.key.equals(Buffer.from(SECRET).subarray(0, 32)), 'the secret itself is not the key');

    const fileKey = loadAtRestKeys({ secret: undefined, dataDir: dir }).current;
    const both = loadAtRestKeys({ secret: SECRET, dataDir: dir });
    assert.deepEqual([both.current.id, both.previous.map((k) => k.id)], [fromSecret.current.id, [fileKey.id]]);
  });

  test('a damaged key file stops start-up with what to do, and is never replaced', (ctx) => {
    const dir = dataDir(ctx);
    const file = join(dir, KEY_FILE);
    writeFileSync(file, 'not a key\n', { mode: 0o600 });
    assert.throws(() => loadAtRestKeys({ secret: undefined, dataDir: dir }), (e: Error) => e instanceof KeyFileError && /Restore it from your copy/.test(e.message));
    assert.equal(readFileSync(file, 'utf8'), 'not a key\n');
  });

  test('a key file others can read is reported', (ctx) => {
    const dir = dataDir(ctx);
    loadAtRestKeys({ secret: undefined, dataDir: dir });
    chmodSync(join(dir, KEY_FILE), 0o644);
    assert.match(loadAtRestKeys({ secret: undefined, dataDir: dir }).warning ?? '', /chmod 600/);
  });
});

describe('SecretBox', () => {
  const keysOf = (ctx: TestContext, secret?: string) => loadAtRestKeys({ secret, dataDir: dataDir(ctx) });

  test('seals to text that holds nothing of the secret, differently each time, and opens in its own place only', (ctx) => {
    const box = new SecretBox(keysOf(ctx));
    const secret = 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw';
    const a = box.seal(secret, 'webhook_endpoints.secret:whk_a');
    assert.match(a, /^enc:v1:[\w-]{8}:[\w-]{16}:[\w-]+$/);
    assert.ok(!a.includes('MfKQ9r8G'));
    assert.notEqual(box.seal(secret, 'webhook_endpoints.secret:whk_a'), a, 'a fresh nonce every time');
    assert.equal(box.open(a, 'webhook_endpoints.secret:whk_a'), secret);
    assert.ok(box.isCurrent(a));
    for (const [what, value, context] of [
      ['copied to another row', a, 'webhook_endpoints.secret:whk_b'],
      ['copied to another column', a, 'webhook_endpoints.previous_secret:whk_a'],
      ['altered', a.slice(0, -2) + (a.endsWith('AA') ? 'BB' : 'AA'), 'webhook_endpoints.secret:whk_a'],
      ['not sealed', secret, 'webhook_endpoints.secret:whk_a'],
    ] as const) {
      assert.throws(() => box.open(value, context), UnreadableSecretError, what);
    }
  });

  test('another key cannot open it; a box with that key as a previous one can', (ctx) => {
    const dir = dataDir(ctx);
    const fileKeys = loadAtRestKeys({ secret: undefined, dataDir: dir });
    const sealed = new SecretBox(fileKeys).seal('salt', 'visitor_salts.salt:0');
    assert.throws(() => new SecretBox(keysOf(ctx)).open(sealed, 'visitor_salts.salt:0'), UnreadableSecretError);
    const moved = new SecretBox(loadAtRestKeys({ secret: SECRET, dataDir: dir }));
    assert.equal(moved.open(sealed, 'visitor_salts.salt:0'), 'salt');
    assert.equal(moved.isCurrent(sealed), false, 'to be sealed again under the current key');
  });
});
