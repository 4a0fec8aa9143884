import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { AdminClient, textOf } from './testing/admin-client.js';
import { eventually, http, runCli, type ServerProcess, serveExpectingFailure, spawnServer, tempDataDir } from './testing/harness.js';
import { createTestDatabase, skipWithoutPostgres, type TestDatabase } from './testing/postgres.js';
import { startReceiver } from './testing/receiver.js';

// Three `linkqr serve` processes on one PostgreSQL database, as behind a load balancer: what one
// instance promises holds across them.

describe('three instances on one PostgreSQL database', { skip: skipWithoutPostgres }, () => {
  let database: TestDatabase;
  let env: Record<string, string>;
  const dataDirs: string[] = [];
  let servers: ServerProcess[] = [];
  let key: string;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;

  const cli = async (...args: string[]) => cliWith(undefined, ...args);
  const cliWith = async (stdin: string | undefined, ...args: string[]) => {
    const dataDir = tempDataDir();
    dataDirs.push(dataDir);
    const r = await runCli(args, { dataDir, env, stdin });
    assert.equal(r.code, 0, `linkqr ${args.join(' ')}: ${r.stderr}`);
    return r.stdout.trim();
  };
  const api = (i: number, method: string, path: string, body?: unknown) => http(servers[i]!.url, method, path, { key, body });

  before(async () => {
    database = await createTestDatabase();
    receiver = await startReceiver();
    env = {
      LINKQR_DATABASE_URL: database.url,
      LINKQR_SECRET: 'three-instances-share-this-secret',
      LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32',
    };
    await cli('migrate');
    await cli('workspace', 'create', 'Acme');
    key = await cli('key', 'create', '--workspace', 'Acme', '--name', 'lb', '--scopes', 'links:read,links:write,webhooks:read,webhooks:write');
    const started = await Promise.allSettled(
      [0, 1, 2].map(() => {
        const dataDir = tempDataDir();
        dataDirs.push(dataDir);
        return spawnServer(dataDir, env);
      }),
    );
    servers = started.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
  });
  after(async () => {
    await Promise.all(servers.map((s) => s.stop()));
    await receiver?.close();
    await database?.drop();
    for (const dir of dataDirs) rmSync(dir, { recursive: true, force: true });
  });

  /** Where each instance sends a visitor of `/slug` now (status and Location). */
  const redirectsOf = (slug: string) =>
    Promise.all(servers.map(async (s) => {
      const r = await fetch(`${s.url}/${slug}`, { redirect: 'manual' });
      return `${r.status} ${r.headers.get('location') ?? ''}`;
    }));

  test('a link created, changed, disabled and deleted through one instance redirects accordingly on every instance within 1 s', async () => {
    const created = await api(0, 'POST', '/api/v1/links', { url: 'https://example.com/first', slug: 'spread' });
    assert.equal(created.status, 201, created.text);
    // Every instance reads it (and caches it).
    assert.deepEqual(await redirectsOf('spread'), Array(3).fill('302 https://example.com/first'));

    const changed = await api(1, 'PATCH', `/api/v1/links/${created.json.id}`, { url: 'https://example.com/second' });
    assert.equal(changed.status, 200, changed.text);
    await eventually(async () => (await redirectsOf('spread')).every((r) => r === '302 https://example.com/second'), 1_000);

    assert.equal((await api(2, 'PATCH', `/api/v1/links/${created.json.id}`, { status: 'disabled' })).status, 200);
    await eventually(async () => (await redirectsOf('spread')).every((r) => !r.startsWith('302')), 1_000);

    assert.equal((await api(0, 'PATCH', `/api/v1/links/${created.json.id}`, { status: 'active' })).status, 200);
    await eventually(async () => (await redirectsOf('spread')).every((r) => r === '302 https://example.com/second'), 1_000);

    assert.equal((await api(1, 'DELETE', `/api/v1/links/${created.json.id}`)).status, 204);
    await eventually(async () => (await redirectsOf('spread')).every((r) => r.startsWith('404')), 1_000);
  });

  test('a plan limit is exact: 20 concurrent creates over three instances on a 2-link plan make exactly 2 links', async () => {
    await cli('plan', 'upsert', 'two-links', '--limit', 'links=2');
    await cli('workspace', 'create', 'Limited');
    await cli('workspace', 'set-plan', 'Limited', 'two-links');
    const limitedKey = await cli('key', 'create', '--workspace', 'Limited', '--name', 'race', '--scopes', 'links:write');
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => http(servers[i % 3]!.url, 'POST', '/api/v1/links', { key: limitedKey, body: { url: `https://example.com/${i}` } })),
    );
    const statuses = results.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array(2).fill(201), ...Array(18).fill(403)], results.map((r) => r.text).join('\n'));
  });

  test('with every instance dispatching, each event reaches the receiver once', async () => {
    const hook = await api(0, 'POST', '/api/v1/webhooks', { url: `${receiver.url}/spread`, events: ['link.created'] });
    assert.equal(hook.status, 201, hook.text);
    const created = await Promise.all(Array.from({ length: 30 }, (_, i) => api(i % 3, 'POST', '/api/v1/links', { url: `https://example.com/hook/${i}` })));
    assert.ok(created.every((r) => r.status === 201));
    await receiver.waitFor(30);
    // A little longer: a second delivery of any of them would arrive now.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const ids = receiver.received.filter((h) => h.path === '/spread').map((h) => h.headers['webhook-id']);
    assert.equal(ids.length, 30);
    assert.equal(new Set(ids).size, 30, 'no event was sent twice');
  });

  test('an instance started with another LINKQR_SECRET refuses to start, and the others go on delivering', async () => {
    const hook = await api(0, 'POST', '/api/v1/webhooks', { url: `${receiver.url}/other-secret`, events: ['link.created'] });
    assert.equal(hook.status, 201, hook.text);
    const dataDir = tempDataDir();
    dataDirs.push(dataDir);
    const stranger = await serveExpectingFailure(dataDir, ['--port', '0'], { ...env, LINKQR_SECRET: 'a-different-secret-of-another-instance' });
    assert.equal(stranger.listened, false);
    assert.equal(stranger.code, 1);
    assert.match(stranger.stderr, /another LinkQR instance on this database uses a different LINKQR_SECRET \(it was running \d+ s ago\)/);
    assert.doesNotMatch(stranger.output, /a-different-secret|three-instances-share/, 'no secret in its output');
    // Nothing was marked: every endpoint's secret is still readable, and its deliveries go.
    const hooks = await api(1, 'GET', '/api/v1/webhooks');
    assert.ok(hooks.json.data.every((h: { needsSecretRotation: boolean }) => h.needsSecretRotation === false), hooks.text);
    assert.equal((await api(2, 'POST', '/api/v1/links', { url: 'https://example.com/after-stranger' })).status, 201);
    await eventually(async () => receiver.received.some((h) => h.path === '/other-secret'), 10_000);
  });

  test('maxClicks is exact: 40 visits over three instances of a link limited to 10 clicks redirect exactly 10 times', async () => {
    const created = await api(0, 'POST', '/api/v1/links', { url: 'https://example.com/limited', slug: 'ten-only', maxClicks: 10 });
    assert.equal(created.status, 201, created.text);
    // Every instance has the link cached with its count at 0, so each alone would let 10 through.
    assert.deepEqual(await redirectsOf('ten-only'), Array(3).fill('302 https://example.com/limited'));
    // Those were bot clicks (fetch's agent is "node"), which maxClicks does not count.
    const visits = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        fetch(`${servers[i % 3]!.url}/ten-only`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' } }),
      ),
    );
    const statuses = visits.map((r) => r.status).sort();
    assert.deepEqual(statuses, [...Array(10).fill(302), ...Array(30).fill(410)]);
    await eventually(async () => (await api(1, 'GET', `/api/v1/links/${created.json.id}`)).json.clicks === 10, 5_000);
  });

  test('monthly click counts are exact: 60 clicks through three instances count 60', async () => {
    await cli('workspace', 'create', 'Counted');
    const counted = await cli('key', 'create', '--workspace', 'Counted', '--name', 'counted', '--scopes', 'links:read,links:write');
    const links = await Promise.all([0, 1, 2].map((i) => http(servers[i]!.url, 'POST', '/api/v1/links', { key: counted, body: { url: `https://example.com/counted/${i}` } })));
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        fetch(`${servers[i % 3]!.url}/${links[i % 3]!.json.slug}`, { redirect: 'manual', headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0' } }),
      ),
    );
    const usedThisMonth = async () => (await http(servers[0]!.url, 'GET', '/api/v1/me', { key: counted })).json.workspace.usage.limits.clicksPerMonth.used;
    await eventually(async () => (await usedThisMonth()) === 60, 5_000);
  });

  test('rate limits are shared: a key allowed 20 requests a minute gets 20 from 45 spread over three instances', async () => {
    // 20, not 60: the address's own limit (60 a minute, taken on arrival) must not be what stops them.
    await cli('plan', 'upsert', 'twenty-a-minute', '--limit', 'apiRequestsPerMinute=20');
    await cli('workspace', 'create', 'Metered');
    await cli('workspace', 'set-plan', 'Metered', 'twenty-a-minute');
    const metered = await cli('key', 'create', '--workspace', 'Metered', '--name', 'metered', '--scopes', 'links:read');
    const started = Date.now();
    const answers = await Promise.all(Array.from({ length: 45 }, (_, i) => http(servers[i % 3]!.url, 'GET', '/api/v1/links', { key: metered })));
    const admitted = answers.filter((r) => r.status === 200).length;
    // One more drains in every 3 s the requests take (on a busy machine they may take a while).
    const drained = Math.ceil((Date.now() - started) / 3_000);
    assert.ok(admitted >= 20 && admitted <= 20 + drained, `${admitted} admitted in ${Date.now() - started} ms`);
    const refused = answers.filter((r) => r.status !== 200);
    assert.equal(refused.length, 45 - admitted);
    for (const r of refused) {
      assert.equal(r.status, 429, r.text);
      assert.match(r.json.detail, /^This API key may make 20 requests a minute/);
    }
  });

  test('sign-in throttling and sessions work through any instance', async () => {
    await cliWith('a long enough password\n', 'user', 'create', '--email', 'ops@example.com', '--password-stdin', '--workspace', 'Acme');
    const failOn = async (i: number, email = 'ops@example.com') => {
      const client = new AdminClient(servers[i]!.url);
      await client.get('/admin/login');
      return (await client.request('POST', '/admin/login', { form: { email, password: 'not it', _csrf: client.csrf! } })).status;
    };
    // Five failures for the account, each through another instance than the one before.
    for (let i = 0; i < 5; i++) assert.equal(await failOn(i % 3), 400);
    for (const i of [0, 1, 2]) assert.equal(await failOn(i), 429, `instance ${i} knows of the failures through the others`);

    // Guesses sent all at once are counted one by one: 5 are tried, the others wait.
    const together = await Promise.all(Array.from({ length: 12 }, (_, i) => failOn(i % 3, 'guessed@example.com')));
    assert.deepEqual(together.sort(), [...Array(5).fill(400), ...Array(7).fill(429)]);

    await cliWith('another long password\n', 'user', 'create', '--email', 'dev@example.com', '--password-stdin', '--workspace', 'Acme');
    const client = await new AdminClient(servers[0]!.url).signIn('dev@example.com', 'another long password');
    for (const s of servers) {
      const page = await http(s.url, 'GET', '/admin/links', { headers: { cookie: [...client.cookies].map(([k, v]) => `${k}=${v}`).join('; ') } });
      assert.equal(page.status, 200, `the session works through ${s.url}`);
    }
  });

  test('two-factor sign-in through any instance: the password on one, the code on another; a code taken on one is refused on the others', async () => {
    await cliWith('a long password for mfa\n', 'user', 'create', '--email', 'mfa@example.com', '--password-stdin', '--workspace', 'Acme');
    const codeAt = (secret: string, at: number) => new TOTP({ secret: Secret.fromBase32(secret), algorithm: 'SHA1', digits: 6, period: 30 }).generate({ timestamp: at });
    const on = (i: number, from?: AdminClient) => {
      const client = new AdminClient(servers[i]!.url);
      for (const [k, v] of from?.cookies ?? []) client.cookies.set(k, v);
      return client;
    };
    const enrolled = await on(0).signIn('mfa@example.com', 'a long password for mfa');
    await enrolled.post('/admin/account/two-factor/start', {});
    const secret = textOf((await enrolled.get('/admin/account')).text, 'totp-secret')!.replace(/\s/g, '');
    assert.equal((await enrolled.post('/admin/account/two-factor/confirm', { code: codeAt(secret, Date.now()), password: 'a long password for mfa' })).status, 200);

    const passwordOn = async (i: number) => {
      const client = on(i);
      await client.get('/admin/login');
      const res = await client.post('/admin/login', { email: 'mfa@example.com', password: 'a long password for mfa' });
      assert.equal(res.headers.get('location'), '/admin/login/code');
      return client;
    };
    // The next step's code (accepted for a phone's drift): the one that turned it on is spent.
    const code = codeAt(secret, Date.now() + 30_000);
    const second = on(2, await passwordOn(1));
    await second.get('/admin/login/code');
    const signedIn = await second.post('/admin/login/code', { code });
    assert.equal(signedIn.status, 303, signedIn.text);
    assert.equal((await on(0, second).get('/admin/links')).status, 200);

    const replay = on(1, await passwordOn(0));
    await replay.get('/admin/login/code');
    const refused = await replay.post('/admin/login/code', { code });
    assert.equal(refused.status, 400);
    assert.match(refused.text, /That code \(or a newer one\) was used already/);
  });

  test('an Idempotency-Key sent to three instances at once has one effect, and each gets its answer', async () => {
    const send = (i: number) =>
      http(servers[i]!.url, 'POST', '/api/v1/links', { key, body: { url: 'https://example.com/once' }, headers: { 'idempotency-key': 'spread-once' } });
    const answers = await Promise.all([0, 1, 2].map(async (i) => {
      // A duplicate that reaches an instance while another runs the request is told to retry.
      for (;;) {
        const r = await send(i);
        if (r.status !== 409) return r;
        assert.equal(r.json.code, 'idempotency_key_in_progress', r.text);
        await new Promise((resolve) => setTimeout(resolve, Number(r.headers.get('retry-after')) * 1_000));
      }
    }));
    assert.deepEqual(answers.map((r) => r.status), [201, 201, 201]);
    assert.equal(new Set(answers.map((r) => r.json.id)).size, 1, 'one link');
    const list = await api(2, 'GET', '/api/v1/links?limit=100');
    assert.equal(list.json.data.filter((l: { url: string }) => l.url === 'https://example.com/once').length, 1);
  });

  test('an attempt that outlasts its lease keeps it: no other instance sends the delivery meanwhile', async () => {
    // A receiver that never answers holds the attempt for its whole timeout (15 s), past the 6 s
    // a claim holds a delivery unless renewed.
    const slow = await startReceiver(() => 'hang');
    try {
      const hook = await api(0, 'POST', '/api/v1/webhooks', { url: `${slow.url}/slow`, events: ['link.created'] });
      assert.equal(hook.status, 201, hook.text);
      assert.equal((await api(1, 'POST', '/api/v1/links', { url: 'https://example.com/slow' })).status, 201);
      await slow.waitFor(1);
      // Twice the lease: without its renewals, another instance would have claimed it by now.
      await new Promise((resolve) => setTimeout(resolve, 12_000));
      assert.equal(slow.received.length, 1, 'one attempt in flight per delivery');
      assert.equal((await api(2, 'PATCH', `/api/v1/webhooks/${hook.json.id}`, { enabled: false })).status, 200);
    } finally {
      await slow.close();
    }
  });

  // Last: it kills an instance.
  test('kill -9 an instance mid-dispatch: the events it was sending arrive within 10 s through the others', async () => {
    let holding = true;
    const answered = new Set<string>();
    const held = await startReceiver((hook) => {
      if (holding) return 'hang';
      answered.add(String(hook.headers['webhook-id']));
      return { status: 200 };
    });
    try {
      const hook = await api(0, 'POST', '/api/v1/webhooks', { url: `${held.url}/held`, events: ['link.created'] });
      assert.equal(hook.status, 201, hook.text);
      // Instances 1 and 2 frozen: instance 0 claims every delivery, and hangs in all of them.
      for (const s of servers.slice(1)) process.kill(s.pid, 'SIGSTOP');
      try {
        for (let i = 0; i < 6; i++) assert.equal((await api(0, 'POST', '/api/v1/links', { url: `https://example.com/held/${i}` })).status, 201);
        await held.waitFor(6);
      } finally {
        for (const s of servers.slice(1)) process.kill(s.pid, 'SIGCONT');
      }
      const ids = new Set(held.received.map((h) => String(h.headers['webhook-id'])));
      assert.equal(ids.size, 6);
      await servers[0]!.stop('SIGKILL');
      const killedAt = Date.now();
      holding = false;
      await eventually(() => [...ids].every((id) => answered.has(id)), 10_000);
      assert.ok(Date.now() - killedAt <= 10_000);
    } finally {
      await held.close();
    }
  });
});
