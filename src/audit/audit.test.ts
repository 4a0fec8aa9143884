import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { userInfo } from 'node:os';
import { after, before, describe, test } from 'node:test';
import type { Selectable } from 'kysely';
import type { AuditRow as SchemaAuditRow } from '../db/schema.js';
import { runCli, startTestServer, tempDataDir, type TestServer } from '../testing/harness.js';
import { startReceiver } from '../testing/receiver.js';
import { findWorkspaceByName } from '../workspaces/workspaces.repo.js';

type AuditRow = Selectable<SchemaAuditRow>;

/** What a test compares: a row with its summary parsed, its id and time left out. */
const entry = (r: AuditRow) => ({
  workspace: r.workspace_id,
  actor: `${r.actor_type}:${r.actor_id}`,
  action: r.action,
  target: `${r.target_type}:${r.target_id}`,
  summary: JSON.parse(r.summary) as unknown,
  ip: r.ip,
});

/** The audit actor of CLI commands run by this test's OS account. */
const OPERATOR = (() => {
  try {
    return `operator:cli:${userInfo().username}`;
  } catch {
    return 'operator:cli:unknown';
  }
})();
const PASSWORD = 'audit password 0123';
const keyIdOf = (key: string) => key.split('_')[1]!;

describe('audit log', () => {
  const dataDir = tempDataDir();
  let t: TestServer;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let key: string;
  let ws: string;
  /** Every secret this suite saw: none may reach the audit log. */
  const secrets: string[] = [PASSWORD];

  const cli = (args: string[], stdin?: string) => runCli(args, { dataDir, stdin });
  const ok = async (args: string[], stdin?: string) => {
    const r = await cli(args, stdin);
    assert.equal(r.code, 0, `linkqr ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const lastId = async () => (await t.store.db.row<{ n: number }>('select coalesce(max(id), 0) as n from audit_log'))!.n;
  const rowsAfter = (id: number) => t.store.db.rows<AuditRow>('select * from audit_log where id > ? order by id', id);
  /** Runs fn and returns the audit rows it added, oldest first. */
  const recorded = async (fn: () => Promise<unknown>) => {
    const from = await lastId();
    const started = Date.now();
    await fn();
    const rows = await rowsAfter(from);
    for (const r of rows) assert.ok(r.created_at >= started - 1000 && r.created_at <= Date.now() + 1000, `entry time is now: ${r.created_at}`);
    return rows;
  };
  const workspaceId = async (name: string) => (await findWorkspaceByName(t.store.db, name))!.id;

  before(async () => {
    receiver = await startReceiver();
    t = await startTestServer({ dataDir, env: { LINKQR_WEBHOOK_ALLOWED_CIDRS: '127.0.0.1/32' } });
    key = await t.key({ workspace: 'Audited' });
    secrets.push(key);
    ws = await workspaceId('Audited');
  });
  after(async () => {
    await t.close();
    await receiver.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('links via the API: actor is the key, with the client IP', () => {
    test('create, update and delete each leave one entry saying what changed', async () => {
      const actor = `key:${keyIdOf(key)}`;
      let link!: { id: string; slug: string };
      const created = await recorded(async () => {
        const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/a', slug: 'audited-a' } });
        assert.equal(res.status, 201, res.text);
        link = res.json;
      });
      assert.deepEqual(created.map(entry), [
        { workspace: ws, actor, action: 'link.create', target: `link:${link.id}`, summary: { slug: 'audited-a', url: 'https://example.com/a' }, ip: '127.0.0.1' },
      ]);

      const updated = await recorded(async () => {
        const res = await t.request('PATCH', `/api/v1/links/${link.id}`, { key, body: { title: 'Launch', url: 'https://example.com/b', redirectCode: 302 } });
        assert.equal(res.status, 200, res.text);
      });
      assert.deepEqual(updated.map(entry), [
        {
          workspace: ws,
          actor,
          action: 'link.update',
          target: `link:${link.id}`,
          // Only the fields whose values changed: redirectCode was already 302.
          summary: { url: { from: 'https://example.com/a', to: 'https://example.com/b' }, title: { from: null, to: 'Launch' } },
          ip: '127.0.0.1',
        },
      ]);

      const deleted = await recorded(async () => {
        assert.equal((await t.request('DELETE', `/api/v1/links/${link.id}`, { key })).status, 204);
      });
      assert.deepEqual(deleted.map(entry), [
        { workspace: ws, actor, action: 'link.delete', target: `link:${link.id}`, summary: { slug: 'audited-a', url: 'https://example.com/b' }, ip: '127.0.0.1' },
      ]);
    });

    test('a disable through PATCH status is an update naming the status change', async () => {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/d' } });
      const rows = await recorded(() => t.request('PATCH', `/api/v1/links/${res.json.id}`, { key, body: { status: 'disabled' } }));
      assert.deepEqual(rows.map((r) => [r.action, JSON.parse(r.summary)]), [['link.update', { status: { from: 'active', to: 'disabled' } }]]);
    });
  });

  test('webhooks via the API: create, update, delete and rotate-secret are audited without secrets', async () => {
    const actor = `key:${keyIdOf(key)}`;
    let hook!: { id: string; secret: string };
    const created = await recorded(async () => {
      const res = await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/a`, events: ['link.created'] } });
      assert.equal(res.status, 201, res.text);
      hook = res.json;
      secrets.push(hook.secret);
    });
    const updated = await recorded(() => t.request('PATCH', `/api/v1/webhooks/${hook.id}`, { key, body: { description: 'CRM' } }));
    const rotated = await recorded(async () => {
      const res = await t.request('POST', `/api/v1/webhooks/${hook.id}/rotate-secret`, { key, body: { graceSeconds: 60 } });
      assert.equal(res.status, 200, res.text);
      secrets.push(res.json.secret);
    });
    const deleted = await recorded(() => t.request('DELETE', `/api/v1/webhooks/${hook.id}`, { key }));
    for (const [rows, action] of [[created, 'webhook.create'], [updated, 'webhook.update'], [rotated, 'webhook.rotate_secret'], [deleted, 'webhook.delete']] as const) {
      assert.deepEqual(
        rows.map((r) => ({ ...entry(r), summary: undefined })),
        [{ workspace: ws, actor, action, target: `webhook_endpoint:${hook.id}`, summary: undefined, ip: '127.0.0.1' }],
        action,
      );
      for (const r of rows) assert.ok(!JSON.stringify(r).includes('whsec_'), `${action} carries no secret`);
    }
    assert.deepEqual(JSON.parse(updated[0]!.summary), { description: { from: '', to: 'CRM' } });
  });

  describe('the CLI: actor is the operator (cli:<OS user>), no IP', () => {
    test('key create, disable, enable, rotate and revoke', async () => {
      let id = '';
      const created = await recorded(async () => {
        const r = await ok(['key', 'create', '--workspace', 'Audited', '--name', 'CRM sync', '--scopes', 'links:read,links:write', '--env', 'staging']);
        secrets.push(r.stdout.trim());
        id = keyIdOf(r.stdout.trim());
      });
      assert.deepEqual(created.map(entry), [
        {
          workspace: ws, actor: OPERATOR, action: 'key.create', target: `api_key:${id}`,
          summary: { name: 'CRM sync', environment: 'staging', scopes: ['links:read', 'links:write'], expiresAt: null, allowedCidrs: null }, ip: null,
        },
      ]);

      const simple = (action: string) => ({ workspace: ws, actor: OPERATOR, action, target: `api_key:${id}`, summary: { name: 'CRM sync' }, ip: null });
      assert.deepEqual((await recorded(() => ok(['key', 'disable', id]))).map(entry), [simple('key.disable')]);
      assert.deepEqual((await recorded(() => ok(['key', 'disable', id]))).map(entry), [], 'disabling a disabled key changes nothing');
      assert.deepEqual((await recorded(() => ok(['key', 'enable', id]))).map(entry), [simple('key.enable')]);

      const rotated = await recorded(async () => secrets.push((await ok(['key', 'rotate', id, '--grace', '1h'])).stdout.trim()));
      assert.equal(rotated.length, 1);
      assert.deepEqual({ ...entry(rotated[0]!), summary: undefined }, { ...simple('key.rotate'), summary: undefined });
      const until = (JSON.parse(rotated[0]!.summary) as { oldSecretValidUntil: string }).oldSecretValidUntil;
      assert.ok(Math.abs(Date.parse(until) - (rotated[0]!.created_at + 3_600_000)) < 1000, `the old secret's end is recorded: ${until}`);

      assert.deepEqual((await recorded(() => ok(['key', 'revoke', id]))).map(entry), [simple('key.revoke')]);
      assert.deepEqual((await recorded(() => ok(['key', 'revoke', id]))).map(entry), [], 'revoking again changes nothing');
    });

    test('workspace create, and user create with --workspace (new and existing workspace)', async () => {
      let newId = '';
      const created = await recorded(async () => (newId = (await ok(['workspace', 'create', 'Annex'])).stdout.trim()));
      assert.deepEqual(created.map(entry), [{ workspace: newId, actor: OPERATOR, action: 'workspace.create', target: `workspace:${newId}`, summary: { name: 'Annex' }, ip: null }]);

      let userId = '';
      const joined = await recorded(async () => (userId = (await ok(['user', 'create', '--email', 'Owner@Audit.test', '--password-stdin', '--workspace', 'Audited'], PASSWORD)).stdout.trim()));
      assert.deepEqual(joined.map(entry), [
        { workspace: ws, actor: OPERATOR, action: 'member.add', target: `user:${userId}`, summary: { email: 'owner@audit.test', role: 'owner' }, ip: null },
      ]);

      const both = await recorded(async () => (userId = (await ok(['user', 'create', '--email', 'admin@audit.test', '--password-stdin', '--workspace', 'Outpost', '--role', 'admin'], PASSWORD)).stdout.trim()));
      const outpost = await workspaceId('Outpost');
      assert.deepEqual(both.map(entry), [
        { workspace: outpost, actor: OPERATOR, action: 'workspace.create', target: `workspace:${outpost}`, summary: { name: 'Outpost' }, ip: null },
        { workspace: outpost, actor: OPERATOR, action: 'member.add', target: `user:${userId}`, summary: { email: 'admin@audit.test', role: 'admin' }, ip: null },
      ]);
    });

    test('member add, role and remove', async () => {
      const userId = (await ok(['user', 'create', '--email', 'member@audit.test', '--password-stdin'], PASSWORD)).stdout.trim();
      const m = (action: string, summary: unknown) => ({ workspace: ws, actor: OPERATOR, action, target: `user:${userId}`, summary, ip: null });
      const add = await recorded(() => ok(['member', 'add', '--workspace', 'Audited', '--email', 'member@audit.test', '--role', 'member']));
      assert.deepEqual(add.map(entry), [m('member.add', { email: 'member@audit.test', role: 'member' })]);
      const role = await recorded(() => ok(['member', 'role', '--workspace', 'Audited', '--email', 'member@audit.test', '--role', 'admin']));
      assert.deepEqual(role.map(entry), [m('member.role', { email: 'member@audit.test', role: { from: 'member', to: 'admin' } })]);
      const remove = await recorded(() => ok(['member', 'remove', '--workspace', 'Audited', '--email', 'member@audit.test']));
      assert.deepEqual(remove.map(entry), [m('member.remove', { email: 'member@audit.test', role: 'admin' })]);
    });

    test('a command that changes nothing leaves no entry: the same role again, the same plan again', async () => {
      await ok(['member', 'add', '--workspace', 'Audited', '--email', 'member@audit.test', '--role', 'viewer']);
      assert.deepEqual(await recorded(() => ok(['member', 'role', '--workspace', 'Audited', '--email', 'member@audit.test', '--role', 'viewer'])), []);
      assert.deepEqual(await recorded(() => ok(['workspace', 'set-plan', 'Audited', 'default'])), []);
    });

    test('plan create and update (instance-wide, no workspace), and workspace set-plan (in the workspace log)', async () => {
      const created = await recorded(() => ok(['plan', 'upsert', 'Audit-plan', '--limit', 'links=50']));
      assert.equal(created.length, 1);
      const planId = created[0]!.target_id;
      assert.match(planId ?? '', /^pln_/);
      const all = { api: true, webhooks: true, qr: true, analytics: true };
      assert.deepEqual(created.map(entry), [
        { workspace: null, actor: OPERATOR, action: 'plan.create', target: `plan:${planId}`, summary: { name: 'Audit-plan', features: all, limits: { links: 50 } }, ip: null },
      ]);
      const updated = await recorded(() => ok(['plan', 'upsert', 'Audit-plan', '--feature', 'qr=off', '--limit', 'links=none,members=3']));
      assert.deepEqual(updated.map(entry), [
        { workspace: null, actor: OPERATOR, action: 'plan.update', target: `plan:${planId}`, summary: { name: 'Audit-plan', features: { ...all, qr: false }, limits: { members: 3 } }, ip: null },
      ]);

      const moved = await recorded(() => ok(['workspace', 'set-plan', 'Annex', 'Audit-plan']));
      const annex = await workspaceId('Annex');
      assert.deepEqual(moved.map(entry), [
        { workspace: annex, actor: OPERATOR, action: 'workspace.set_plan', target: `workspace:${annex}`, summary: { plan: { from: 'default', to: 'Audit-plan' } }, ip: null },
      ]);
    });
  });

  describe('a refused change leaves no entry', () => {
    let tightKey = '';
    before(async () => {
      const res = await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/taken', slug: 'taken' } });
      assert.equal(res.status, 201, res.text);
      tightKey = await t.key({ workspace: 'Tight' });
      await ok(['plan', 'upsert', 'audit-tight', '--limit', 'links=0,apiKeys=0,members=1']);
      await ok(['workspace', 'set-plan', 'Tight', 'audit-tight']);
      await ok(['user', 'create', '--email', 'solo@audit.test', '--password-stdin', '--workspace', 'Solo'], PASSWORD);
      await ok(['user', 'create', '--email', 'loner@audit.test', '--password-stdin'], PASSWORD);
      await ok(['workspace', 'set-plan', 'Solo', 'audit-tight']);
    });

    const api = (method: string, path: string | (() => string), body: unknown, status: number, k: () => string = () => key) => async () => {
      const res = await t.request(method, typeof path === 'string' ? path : path(), { key: k(), body });
      assert.equal(res.status, status, res.text);
    };
    const failing = (args: string[], code: number, stdin?: string) => async () => {
      const r = await cli(args, stdin);
      assert.equal(r.code, code, r.stderr);
    };
    let otherLink = '';
    const cases: { what: string; setup?: () => Promise<void>; act: () => Promise<void> }[] = [
      { what: 'POST /links with a taken slug', act: api('POST', '/api/v1/links', { url: 'https://example.com/x', slug: 'taken' }, 409) },
      { what: 'POST /links with an invalid body', act: api('POST', '/api/v1/links', { url: 'ftp://example.com/x' }, 400) },
      { what: 'POST /links past the plan limit', act: api('POST', '/api/v1/links', { url: 'https://example.com/x' }, 403, () => tightKey) },
      {
        what: 'PATCH of a link to a taken slug',
        setup: async () => {
          otherLink = (await t.request('POST', '/api/v1/links', { key, body: { url: 'https://example.com/other' } })).json.id;
        },
        act: api('PATCH', () => `/api/v1/links/${otherLink}`, { slug: 'taken' }, 409),
      },
      { what: 'PATCH of an unknown link', act: api('PATCH', '/api/v1/links/lnk_00000000000000000000', { title: 'x' }, 404) },
      { what: 'DELETE of an unknown link', act: api('DELETE', '/api/v1/links/lnk_00000000000000000000', undefined, 404) },
      { what: 'removing the last owner', act: failing(['member', 'remove', '--workspace', 'Solo', '--email', 'solo@audit.test'], 1) },
      { what: 'demoting the last owner', act: failing(['member', 'role', '--workspace', 'Solo', '--email', 'solo@audit.test', '--role', 'admin'], 1) },
      { what: 'adding an existing member', act: failing(['member', 'add', '--workspace', 'Solo', '--email', 'solo@audit.test', '--role', 'viewer'], 1) },
      { what: 'adding a member past the plan limit', act: failing(['member', 'add', '--workspace', 'Solo', '--email', 'loner@audit.test', '--role', 'viewer'], 1) },
      { what: 'creating a key past the plan limit', act: failing(['key', 'create', '--workspace', 'Tight', '--name', 'n', '--scopes', 'links:read'], 1) },
      { what: 'moving a workspace to an unknown plan', act: failing(['workspace', 'set-plan', 'Audited', 'no-such-plan'], 1) },
      { what: 'creating a workspace that exists', act: failing(['workspace', 'create', 'audited'], 1) },
      {
        what: 'creating a user whose email exists',
        act: failing(['user', 'create', '--email', 'solo@audit.test', '--password-stdin', '--workspace', 'Audited'], 1, PASSWORD),
      },
      { what: 'a plan upsert with a bad limit', act: failing(['plan', 'upsert', 'audit-tight', '--limit', 'links=-1'], 2) },
    ];
    for (const c of cases) {
      test(c.what, async () => {
        await c.setup?.();
        const from = await lastId();
        await c.act();
        assert.deepEqual((await rowsAfter(from)).map(entry), []);
      });
    }

    test('(and the refused changes did not happen)', async () => {
      const taken = await t.store.db.rows<{ url: string }>(`select url from links where slug = 'taken'`);
      assert.deepEqual(taken, [{ url: 'https://example.com/taken' }]);
      const members = (await ok(['member', 'list', '--workspace', 'Solo', '--json'])).stdout.trim().split('\n').map((l) => JSON.parse(l));
      assert.deepEqual(members.map((m) => [m.email, m.role]), [['solo@audit.test', 'owner']]);
    });
  });

  describe('linkqr audit', () => {
    test('--limit 3 --json prints the 3 newest entries of the workspace, newest first, one JSON object a line', async () => {
      const r = await ok(['audit', '--workspace', 'Audited', '--limit', '3', '--json']);
      const lines = r.stdout.trim().split('\n');
      assert.equal(lines.length, 3);
      const printed = lines.map((l) => JSON.parse(l));
      const newest = await t.store.db.rows<AuditRow>('select * from audit_log where workspace_id = ? order by id desc limit 3', ws);
      assert.deepEqual(
        printed,
        newest.map((row) => ({
          id: row.id,
          at: new Date(row.created_at).toISOString(),
          actor: `${row.actor_type}:${row.actor_id}`,
          action: row.action,
          target: `${row.target_type}:${row.target_id}`,
          summary: JSON.parse(row.summary),
          ip: row.ip,
        })),
      );
      assert.deepEqual(printed.map((p) => p.id), printed.map((p) => p.id).sort((x, y) => y - x), 'newest first');
    });

    test('without --json it prints a table for people; the default limit covers the whole history here', async () => {
      const r = await ok(['audit', '--workspace', 'Audited']);
      const lines = r.stdout.trim().split('\n');
      assert.match(lines[0]!, /^ID\s+AT\s+ACTOR\s+ACTION\s+TARGET\s+IP\s+SUMMARY$/);
      const count = (await t.store.db.row<{ n: number }>('select count(*) as n from audit_log where workspace_id = ?', ws))!.n;
      assert.equal(lines.length - 1, count);
      assert.match(r.stdout, /link\.create/);
      // Summaries read as text, a change as "from → to"; JSON only with --json.
      assert.match(r.stdout, / link\.create +link:\S+ +127\.0\.0\.1 +slug=audited-a, url=https:\/\/example\.com\/a$/m);
      assert.match(r.stdout, / link\.update +link:\S+ +127\.0\.0\.1 +url: https:\/\/example\.com\/a → https:\/\/example\.com\/b, title: - → Launch$/m);
      assert.doesNotMatch(r.stdout, /[{}]|"from"/);
    });

    const refusals: [string, string[], number, RegExp][] = [
      ['no --workspace', ['audit'], 2, /--workspace is required/],
      ['--limit 0', ['audit', '--workspace', 'Audited', '--limit', '0'], 2, /--limit must be a whole number from 1 to 10000/],
      ['--limit abc', ['audit', '--workspace', 'Audited', '--limit', 'abc'], 2, /--limit must be a whole number/],
      ['an unknown workspace', ['audit', '--workspace', 'Nowhere'], 1, /Workspace "Nowhere" was not found/],
    ];
    for (const [what, args, code, message] of refusals) {
      test(`refuses ${what}`, async () => {
        const r = await cli(args);
        assert.equal(r.code, code, r.stderr);
        assert.match(r.stderr, message);
        assert.equal(r.stdout, '');
      });
    }
  });

  test('no entry, in any column, holds a key, a key secret, a webhook secret, a password or a hash', async () => {
    // A webhook created and rotated here too, whether or not endpoint changes are audited yet.
    const hook = await t.request('POST', '/api/v1/webhooks', { key, body: { url: `${receiver.url}/s`, events: ['link.created'] } });
    assert.equal(hook.status, 201, hook.text);
    secrets.push(hook.json.secret);
    const rotated = await t.request('POST', `/api/v1/webhooks/${hook.json.id}/rotate-secret`, { key, body: {} });
    secrets.push(rotated.json.secret);

    const rows = await t.store.db.rows<AuditRow>('select * from audit_log');
    assert.ok(rows.length > 20, `the suite recorded a history (${rows.length} entries)`);
    const keySecrets = secrets.filter((s) => s.startsWith('lqr_')).map((k) => k.split('_')[2]!);
    assert.ok(keySecrets.length >= 3 && keySecrets.every((s) => s.length === 32));
    const dump = (await ok(['audit', '--workspace', 'Audited', '--json'])).stdout;
    for (const text of [...rows.map((r) => Object.values(r).map(String).join('\u0000')), dump]) {
      for (const s of [...secrets, ...keySecrets]) assert.ok(!text.includes(s), `a secret reached the audit log: ${text}`);
      assert.doesNotMatch(text, /whsec_|\$argon2|lqr_[0-9A-Za-z]{12}_[0-9A-Za-z]{32}/);
    }
  });
});
