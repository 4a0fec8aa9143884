import assert from 'node:assert/strict';
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DB_FILE } from '../db/files.js';
import { COMMANDS } from './commands.js';
import { IMPLEMENTATIONS } from './implementations.js';
import { type Db, openDb, type Queries } from '../db/db.js';
import { openPostgres } from '../db/postgres.js';
import { postgresQueries } from '../db/postgres-db.js';
import { verifySecret } from '../lib/passwords.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../secrets/rotation-grace.js';
import { type CliResult, http, ROOT, runCli, spawnServer, sqliteOnly, startTestServer, TEST_BACKEND, tempDataDir, type TestServer } from '../testing/harness.js';
import { createTestDatabase } from '../testing/postgres.js';

// These tests run the built bundle: `npm run build` first.

const KEY = /^lqr_([0-9A-Za-z]{12})_([0-9A-Za-z]{32})_([0-9A-Za-z]{6})$/;
const PASSWORD = 'correct horse battery staple';
const DAY = 86_400_000;

function succeeded(r: CliResult, what = 'command') {
  assert.equal(r.code, 0, `${what} failed (exit ${r.code}):\n${r.stderr}`);
}

/** A failure the user can read: the expected exit code, a message on stderr, no stack trace, nothing on stdout. */
function failed(r: CliResult, code: number | 'non-zero', message: RegExp) {
  if (code === 'non-zero') assert.ok(r.code !== 0 && r.code !== null, `expected a failure, got exit ${r.code}\n${r.stdout}`);
  else assert.equal(r.code, code, `expected exit ${code}, got ${r.code}:\n${r.stderr}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stderr, /unexpected error|\n\s+at /, 'a user error must not print a stack trace');
  assert.equal(r.stdout, '', 'nothing on stdout when a command fails');
}

/** stdout must be exactly one line; returns it. */
function onlyLine(stdout: string): string {
  assert.match(stdout, /^[^\n]+\n$/, `expected exactly one line on stdout, got ${JSON.stringify(stdout)}`);
  return stdout.slice(0, -1);
}

/** `--json` output: one JSON object per line. */
function jsonLines(stdout: string): Record<string, unknown>[] {
  if (stdout === '') return [];
  assert.ok(stdout.endsWith('\n'), 'JSON lines end with a newline');
  return stdout
    .slice(0, -1)
    .split('\n')
    .map((line) => {
      const value: unknown = JSON.parse(line);
      assert.ok(value !== null && typeof value === 'object' && !Array.isArray(value), `not a JSON object: ${line}`);
      return value as Record<string, unknown>;
    });
}

/** The SQLite database of a data dir, opened for fn (the tests of SQLite's migrations). */
function withSqlite<T>(dataDir: string, fn: (db: Db) => T): T {
  const db = openDb(join(dataDir, DB_FILE));
  try {
    return fn(db);
  } finally {
    void db.close(); // SQLite's close is done when it returns
  }
}

/** The PostgreSQL database made for a data dir by cliBackend, by data dir. */
const postgresOf = new Map<string, string>();

/**
 * The database the CLI works on for a data dir of these tests: SQLite in the data dir, or with
 * LINKQR_TEST_BACKEND=postgres a PostgreSQL database made for it. `env` names it to the CLI (and
 * to a test server started on the data dir); `drop` removes it.
 */
async function cliBackend(dataDir: string): Promise<{ env: Record<string, string>; drop(): Promise<void> }> {
  if (TEST_BACKEND !== 'postgres') return { env: {}, drop: async () => {} };
  const database = await createTestDatabase();
  postgresOf.set(dataDir, database.url);
  return {
    // PostgreSQL requires the at-rest secret (the one the harness gives its test servers).
    env: { LINKQR_DATABASE_URL: database.url, LINKQR_SECRET: 'linkqr-test-secret-not-for-production' },
    drop: () => database.drop(),
  };
}

/** The database the CLI works on for a data dir (see cliBackend), opened for fn. */
async function withDb<T>(dataDir: string, fn: (db: Queries) => Promise<T>): Promise<T> {
  const url = postgresOf.get(dataDir);
  const db = url ? postgresQueries(openPostgres(url)) : openDb(join(dataDir, DB_FILE));
  try {
    return await fn(db);
  } finally {
    await db.close();
  }
}

describe('linkqr CLI: help, version and usage errors', { concurrency: 4 }, () => {
  let dataDir: string;
  before(() => {
    dataDir = tempDataDir();
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const cli = (...args: string[]) => runCli(args, { dataDir });

  const commands = [
    'serve',
    'migrate',
    'user create',
    'workspace create',
    'workspace list',
    'key create',
    'key list',
    'key revoke',
    'key disable',
    'key enable',
    'key rotate',
    'version',
  ];

  test('--help lists every command and exits 0', async () => {
    for (const args of [['--help'], ['-h'], ['help']]) {
      const r = await cli(...args);
      succeeded(r, args[0]);
      assert.match(r.stdout, /^linkqr \d+\.\d+\.\d+/);
      for (const c of commands) assert.match(r.stdout, new RegExp(`^  ${c} +\\S`, 'm'), `--help does not list "${c}"`);
      assert.match(r.stdout, /<command> --help/);
    }
  });

  test('--help lists the configuration flags once, each with the variable it overrides and its default', async () => {
    const r = await cli('--help');
    succeeded(r);
    for (const [flag, env] of [['data-dir', 'LINKQR_DATA_DIR'], ['log-level', 'LINKQR_LOG_LEVEL'], ['log-format', 'LINKQR_LOG_FORMAT'], ['port', 'LINKQR_PORT']]) {
      assert.equal(r.stdout.match(new RegExp(`^  --${flag} V `, 'gm'))?.length, 1, `--${flag} is listed once:\n${r.stdout}`);
      assert.match(r.stdout, new RegExp(`^  --${flag} V .*\\(${env}, default: `, 'm'));
    }
    assert.match(r.stdout, /^  --log-level V .*\(LINKQR_LOG_LEVEL, default: info\)$/m);
  });

  // What each command's --help must show: its usage line and its own options.
  const helpOf: [string, string[]][] = [
    ['serve', ['--host H', '--port P']],
    ['migrate', ['--status', '--json']],
    ['user create', ['--email E', '--password-stdin', '--role R', '--workspace W']],
    ['workspace create', ['linkqr workspace create W']],
    ['workspace list', ['--json']],
    ['key create', ['--workspace W', '--name N', '--scopes a,b', '--env E', '--expires 90d']],
    ['key list', ['--workspace W', '--json']],
    ['key revoke', ['linkqr key revoke ID']],
    ['key disable', ['linkqr key disable ID']],
    ['key enable', ['linkqr key enable ID']],
    ['key rotate', ['linkqr key rotate ID', '--grace 1d']],
    ['version', ['linkqr version']],
  ];
  test('the table of --help cases covers every command', () => {
    assert.deepEqual(helpOf.map(([c]) => c), commands);
  });
  test("the README's command table names every command", () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const table = /## CLI\n[\s\S]*?\n\| command \| does \|\n([\s\S]*?)\n\n/.exec(readme)?.[1];
    assert.ok(table, 'the README has a command table under "## CLI"');
    const rows = table.split('\n').map((row) => row.split(' | ')[0]!);
    for (const command of COMMANDS.map((c) => c.name.join(' '))) {
      assert.ok(rows.some((r) => new RegExp(`\`${command}( |\`)`).test(r)), `the README's CLI table names ${command}`);
    }
  });
  test('every command in the table has an implementation, and every implementation a command', () => {
    assert.deepEqual(Object.keys(IMPLEMENTATIONS).sort(), COMMANDS.map((c) => c.name.join(' ')).sort());
  });
  for (const [command, shows] of helpOf) {
    test(`${command} --help shows its usage and options`, async () => {
      const r = await cli(...command.split(' '), '--help');
      succeeded(r);
      assert.match(r.stdout, new RegExp(`^Usage: linkqr ${command}\\b`));
      for (const s of shows) assert.ok(r.stdout.includes(s), `"${command} --help" does not show ${s}:\n${r.stdout}`);
      // The configuration flags are mentioned in one line, not listed again under every command.
      assert.match(r.stdout, /^Every command also takes the configuration flags \(--data-dir, --log-level, …\), before or after it: see "linkqr --help"\.$/m);
      assert.doesNotMatch(r.stdout, /LINKQR_DATA_DIR|--log-level V/);
      assert.equal(r.stderr, '');
    });
  }

  test('version (and --version) prints "linkqr <semver>" from package.json', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    assert.match(version, /^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/);
    for (const args of [['version'], ['--version']]) {
      const r = await cli(...args);
      succeeded(r);
      assert.equal(r.stdout, `linkqr ${version}\n`);
    }
  });

  test('version --json names the version, the Node.js running it and the SQLite compiled into the addon', async () => {
    const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
    const r = await cli('version', '--json');
    succeeded(r);
    const sqlite = new Database(':memory:').prepare('select sqlite_version()').pluck().get() as string;
    assert.deepEqual(JSON.parse(r.stdout), { version, node: process.versions.node, sqlite });
    assert.match(sqlite, /^3\.\d+\.\d+$/);
  });

  // A mistake in how a command is called: one sentence that names it (then, for a known command,
  // its usage line), exit code 2, nothing on stdout.
  const usageErrors: [string, string[], string][] = [
    ['an unknown command', ['frobnicate'], 'linkqr: unknown command "frobnicate"; "linkqr --help" lists the commands'],
    ['an unknown verb', ['workspace', 'delete', 'W'], 'linkqr: unknown command "workspace delete"; "linkqr --help" lists the commands'],
    ['an unknown flag', ['workspace', 'list', '--nope'], 'linkqr workspace list: unknown option --nope'],
    ['an unknown flag on key create', ['key', 'create', '--workspace', 'W', '--colour', 'red'], 'linkqr key create: unknown option --colour'],
    ['an unknown flag before the command', ['--nope', 'workspace', 'list'], 'linkqr workspace list: unknown option --nope'],
    ['a flag given twice, before and after the command', ['--data-dir', 'a', 'workspace', 'list', '--data-dir', 'b'], 'linkqr workspace list: --data-dir given more than once'],
    ['a command option given twice', ['key', 'list', '--workspace', 'A', '--workspace', 'B'], 'linkqr key list: --workspace given more than once'],
    ['a missing argument', ['workspace', 'create'], 'linkqr workspace create: expected W'],
    ['an extra argument', ['workspace', 'list', 'extra'], 'linkqr workspace list: expected no arguments'],
    ['a string flag without its value', ['key', 'list', '--workspace'], 'linkqr key list: --workspace needs a value'],
    ['a value given to a switch', ['workspace', 'list', '--json=yes'], 'linkqr workspace list: --json takes no value'],
    ['a missing required option', ['key', 'list'], 'linkqr key list: --workspace is required'],
    ['two missing required options', ['key', 'create', '--name', 'N'], 'linkqr key create: --workspace and --scopes are required'],
  ];
  for (const [what, args, sentence] of usageErrors) {
    test(`${what} exits 2 with one sentence on stderr`, async () => {
      const r = await cli(...args);
      failed(r, 2, /./);
      const [first, ...rest] = r.stderr.trimEnd().split('\n');
      assert.equal(first, sentence);
      // A known command adds its usage line, and nothing else.
      if (rest.length > 0) assert.match(rest.join('\n'), /^\nUsage: linkqr [a-z-]+( [a-z-]+)? /);
    });
  }

  test('a group name alone lists its commands on stderr and exits 2; with --help it is the answer, on stdout', async () => {
    const bare = await cli('key');
    failed(bare, 2, /^linkqr key: which one\? Its commands are:\n/);
    for (const c of commands.filter((name) => name.startsWith('key '))) assert.match(bare.stderr, new RegExp(`^  ${c} +\\S`, 'm'), c);
    assert.doesNotMatch(bare.stderr, /workspace list|unknown command/);
    for (const args of [['key', '--help'], ['--help', 'key'], ['workspace', '-h']]) {
      const help = await cli(...args);
      succeeded(help);
      assert.match(help.stdout, new RegExp(`^Commands of linkqr ${args.includes('key') ? 'key' : 'workspace'}:\n  \\S`));
      assert.equal(help.stderr, '');
    }
  });

  test('usage lines show required options bare and optional ones in brackets', async () => {
    const usages: [string, string][] = [
      ['key create', 'linkqr key create --workspace W --name N --scopes a,b [--env E] [--expires 90d] [--allow-cidr 10.0.0.0/8,…]'],
      ['user create', 'linkqr user create --email E --password-stdin [--role R] [--workspace W]'],
      ['audit', 'linkqr audit --workspace W [--limit N] [--json]'],
      ['member add', 'linkqr member add --workspace W --email E --role R'],
      ['plan upsert', 'linkqr plan upsert P [--feature api=on,webhooks=off] [--limit links=100,members=5] [--json]'],
      ['serve', 'linkqr serve [--host H] [--port P]'],
    ];
    for (const [command, usage] of usages) {
      const r = await cli(...command.split(' '), '--help');
      succeeded(r);
      assert.equal(r.stdout.split('\n')[0], `Usage: ${usage}`);
    }
  });

  test('a bad configuration stops the command and names every bad setting (never the secret)', async () => {
    const secret = 'not-long-enough-s3cret';
    const r = await runCli(['serve'], {
      dataDir,
      env: { LINKQR_PORT: 'abc', LINKQR_LOG_LEVEL: 'loud', LINKQR_SECRET: secret },
    });
    failed(r, 'non-zero', /LINKQR_PORT/);
    assert.match(r.stderr, /LINKQR_LOG_LEVEL/);
    assert.match(r.stderr, /LINKQR_SECRET/);
    assert.ok(!r.stderr.includes(secret), 'the secret was echoed');
  });

  test('a bad configuration flag is named by its flag', async () => {
    const r = await cli('workspace', 'list', '--port', '99999', '--backup-keep', '0');
    failed(r, 'non-zero', /--port/);
    assert.match(r.stderr, /--backup-keep/);
  });
});

describe('configuration flags before or after the command (SPEC §8)', () => {
  // The data dir is given by flag only; LINKQR_DATA_DIR names an empty decoy, so a flag that is
  // not taken shows up as an empty list instead of passing by chance.
  let dataDir: string;
  let decoy: string;
  before(async () => {
    dataDir = tempDataDir();
    decoy = tempDataDir();
    succeeded(await runCli(['workspace', 'create', 'Acme'], { dataDir }));
  });
  after(() => {
    rmSync(dataDir, { recursive: true, force: true });
    rmSync(decoy, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => runCli(args, { dataDir: decoy });

  for (const args of [
    ['--data-dir', 'DIR', 'workspace', 'list'],
    ['workspace', 'list', '--data-dir', 'DIR'],
    ['--data-dir=DIR', 'workspace', 'list'],
    ['--log-level', 'warn', '--data-dir', 'DIR', 'workspace', 'list', '--json'],
  ]) {
    test(`linkqr ${args.join(' ')}`, async () => {
      const r = await cli(...args.map((a) => a.replace('DIR', dataDir)));
      succeeded(r);
      assert.match(r.stdout, /Acme/);
    });
  }

  test('linkqr --log-level warn key create --workspace W …', async () => {
    const r = await cli('--log-level', 'warn', '--data-dir', dataDir, 'key', 'create', '--workspace', 'Acme', '--name', 'N', '--scopes', 'links:read');
    succeeded(r);
    assert.match(onlyLine(r.stdout), KEY);
  });

  test('a configuration flag before the command wins over the environment, as one after it does', async () => {
    const fresh = tempDataDir();
    try {
      // Migrating a new database logs at info: shown with --log-level info although the environment says silent.
      const r = await runCli(['--log-level', 'info', 'workspace', 'create', 'Acme'], { dataDir: fresh, env: { LINKQR_LOG_LEVEL: 'silent' } });
      succeeded(r);
      assert.match(r.stderr, /"msg":"migrations applied"/);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  test('a bad configuration flag before the command is named like one after it', async () => {
    failed(await cli('--port', 'http', 'workspace', 'list'), 1, /^linkqr: Invalid configuration:\n  - --port="http": must be an integer from 0 to 65535\n$/);
  });

  test('without a command, linkqr serves, with the flags given: `linkqr --data-dir X --port 0`', async () => {
    const server = await spawnServer(decoy, {}, ['--data-dir', dataDir, '--port', '0']);
    try {
      assert.equal((await http(server.url, 'GET', '/healthz')).status, 200);
    } finally {
      assert.equal((await server.stop()).code, 0);
    }
    // It served the data dir of the flag: the decoy was never made a database.
    assert.deepEqual(readdirSync(decoy), []);
  });
});

describe('linkqr user create', () => {
  let dataDir: string;
  let backend: Awaited<ReturnType<typeof cliBackend>>;
  before(async () => {
    dataDir = tempDataDir();
    backend = await cliBackend(dataDir);
  });
  after(async () => {
    await backend.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const createUser = (email: string, password: string, ...extra: string[]) =>
    runCli(['user', 'create', '--email', email, '--password-stdin', ...extra], { dataDir, stdin: `${password}\n`, env: backend.env });
  const membershipsOf = (email: string) =>
    withDb(dataDir, (db) =>
      db.rows(
        `SELECT w.name AS workspace, m.role FROM users u JOIN memberships m ON m.user_id = u.id
         JOIN workspaces w ON w.id = m.workspace_id WHERE u.email = ? ORDER BY w.name`,
        email,
      ),
    );
  const userCount = () => withDb(dataDir, async (db) => (await db.row<{ n: number }>('SELECT count(*) AS n FROM users'))!.n);

  test('the first user reads the password from stdin, becomes instance admin and owner of "Default"', async () => {
    const r = await createUser('Ada@Example.com', PASSWORD);
    succeeded(r);
    const id = onlyLine(r.stdout);
    assert.match(id, /^usr_[0-9A-Za-z]+$/);
    assert.match(r.stderr, /instance admin/);
    assert.match(r.stderr, /owner of workspace "Default"/);

    const user = (await withDb(dataDir, (db) =>
      db.row<{ id: string; email: string; password_hash: string; is_instance_admin: number }>('SELECT id, email, password_hash, is_instance_admin FROM users'),
    ))!;
    assert.equal(user.id, id);
    assert.equal(user.email, 'ada@example.com', 'emails are stored lower-case');
    assert.equal(user.is_instance_admin, 1);
    assert.match(user.password_hash, /^\$argon2id\$/);
    assert.ok(await verifySecret(user.password_hash, PASSWORD), 'the password is the stdin text without its newline');
    assert.ok(!(await verifySecret(user.password_hash, `${PASSWORD}\n`)));
    assert.deepEqual(await membershipsOf('ada@example.com'), [{ workspace: 'Default', role: 'owner' }]);
  });

  test('a second user joins a new workspace with --workspace W --role member, and is not instance admin', async () => {
    const r = await createUser('bob@example.com', PASSWORD, '--workspace', 'Sales', '--role', 'member');
    succeeded(r);
    onlyLine(r.stdout);
    assert.doesNotMatch(r.stderr, /instance admin/);
    assert.deepEqual(await membershipsOf('bob@example.com'), [{ workspace: 'Sales', role: 'member' }]);
    assert.equal(
      await withDb(dataDir, async (db) => (await db.row<{ a: number }>('SELECT is_instance_admin AS a FROM users WHERE email = ?', 'bob@example.com'))!.a),
      0,
    );
  });

  test('with --workspace naming an existing workspace, the user joins it (default role owner)', async () => {
    succeeded(await createUser('cy@example.com', PASSWORD, '--workspace', 'sales'));
    assert.deepEqual(await membershipsOf('cy@example.com'), [{ workspace: 'Sales', role: 'owner' }]);
    const workspaces = jsonLines((await runCli(['workspace', 'list', '--json'], { dataDir, env: backend.env })).stdout);
    assert.deepEqual(workspaces.map((w) => [w.name, w.members]), [['Default', 1], ['Sales', 2]]);
  });

  test('the first user made by a script with --role owner gets what the setup page gives', async () => {
    const fresh = tempDataDir();
    try {
      const r = await runCli(['user', 'create', '--email', 'root@example.com', '--password-stdin', '--role', 'owner'], { dataDir: fresh, stdin: PASSWORD });
      succeeded(r);
      assert.match(r.stderr, /\(instance admin\), owner of workspace "Default"/);
      assert.deepEqual(
        await withDb(fresh, (db) =>
          db.rows('SELECT u.is_instance_admin AS admin, w.name, m.role FROM users u JOIN memberships m ON m.user_id = u.id JOIN workspaces w ON w.id = m.workspace_id'),
        ),
        [{ admin: 1, name: 'Default', role: 'owner' }],
      );
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  test('a later user without --workspace belongs to no workspace', async () => {
    succeeded(await createUser('dee@example.com', PASSWORD));
    assert.deepEqual(await membershipsOf('dee@example.com'), []);
  });

  const refused: [string, () => Promise<CliResult>, number | 'non-zero', RegExp][] = [
    ['a duplicate email (any case)', () => createUser('ADA@example.com', PASSWORD), 'non-zero', /already exists/],
    ['a short password, naming the field', () => createUser('eve@example.com', 'short'), 'non-zero', /password: must be at least 10 characters/],
    ['an empty password', () => createUser('eve@example.com', ''), 'non-zero', /password/],
    ['a bad email, naming the field', () => createUser('not-an-email', PASSWORD), 'non-zero', /email: /],
    ['an unknown role, naming the field', () => createUser('eve@example.com', PASSWORD, '--workspace', 'Sales', '--role', 'boss'), 'non-zero', /role: must be one of owner, admin, member, viewer/],
    ['--role without --workspace for a non-first user', () => createUser('eve@example.com', PASSWORD, '--role', 'admin'), 2, /--role needs --workspace/],
    ['a missing --email', () => runCli(['user', 'create', '--password-stdin'], { dataDir, stdin: PASSWORD, env: backend.env }), 2, /--email is required/],
    ['a password on the command line instead of stdin', () => runCli(['user', 'create', '--email', 'eve@example.com'], { dataDir, env: backend.env }), 2, /--password-stdin is required/],
  ];
  for (const [what, run, code, message] of refused) {
    test(`refuses ${what}, creating nothing`, async () => {
      const before = await userCount();
      failed(await run(), code, message);
      assert.equal(await userCount(), before);
    });
  }
});

describe('linkqr workspace', () => {
  let dataDir: string;
  let backend: Awaited<ReturnType<typeof cliBackend>>;
  before(async () => {
    dataDir = tempDataDir();
    backend = await cliBackend(dataDir);
  });
  after(async () => {
    await backend.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => runCli(args, { dataDir, env: backend.env });
  const ids: Record<string, string> = {};

  test('list on a brand-new data dir prints nothing on stdout', async () => {
    const text = await cli('workspace', 'list');
    succeeded(text);
    assert.equal(text.stdout, '');
    const json = await cli('workspace', 'list', '--json');
    succeeded(json);
    assert.equal(json.stdout, '');
  });

  test('create W prints only the new id on stdout', async () => {
    for (const name of ['Marketing', 'Acme Corp']) {
      const r = await cli('workspace', 'create', name);
      succeeded(r);
      ids[name] = onlyLine(r.stdout);
      assert.match(ids[name]!, /^wsp_[0-9A-Za-z]+$/);
      assert.match(r.stderr, new RegExp(`Created workspace "${name}"`));
    }
    assert.notEqual(ids.Marketing, ids['Acme Corp']);
  });

  for (const name of ['Marketing', 'marketing', ' Marketing ']) {
    test(`create ${JSON.stringify(name)} again is refused`, async () => {
      failed(await cli('workspace', 'create', name), 'non-zero', /already exists/);
    });
  }

  test('create refuses a name that is too long', async () => {
    failed(await cli('workspace', 'create', 'x'.repeat(65)), 'non-zero', /name: must be at most 64 characters/);
  });

  test('list --json prints one parseable object per workspace, sorted by name', async () => {
    const r = await cli('workspace', 'list', '--json');
    succeeded(r);
    const rows = jsonLines(r.stdout);
    assert.deepEqual(rows.map((w) => [w.id, w.name, w.plan, w.members, w.links]), [
      [ids['Acme Corp'], 'Acme Corp', 'default', 0, 0],
      [ids.Marketing, 'Marketing', 'default', 0, 0],
    ]);
    for (const w of rows) assert.ok(!Number.isNaN(Date.parse(String(w.createdAt))), 'createdAt is a date');
  });

  test('list prints a table for people', async () => {
    const r = await cli('workspace', 'list');
    succeeded(r);
    const lines = r.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^ID +NAME +PLAN/);
    assert.equal(lines.length, 3);
    assert.ok(lines[1]!.startsWith(ids['Acme Corp']!));
    assert.ok(lines[2]!.startsWith(ids.Marketing!));
  });
});

describe('linkqr key', () => {
  let dataDir: string;
  let server: TestServer | undefined;
  // The CLI makes the database before any server runs (a server started first would migrate it).
  let backend: Awaited<ReturnType<typeof cliBackend>>;
  before(async () => {
    dataDir = tempDataDir();
    backend = await cliBackend(dataDir);
  });
  after(async () => {
    await server?.close();
    await backend.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => runCli(args, { dataDir, env: backend.env });
  /** Asks the running server who a key is (the key works) or why not. */
  const me = async (key: string) => {
    server ??= await startTestServer({ dataDir, env: { LINKQR_LOG_LEVEL: 'silent', ...backend.env } });
    return server.request('GET', '/api/v1/me', { key });
  };
  const keys: string[] = [];
  const listAll = async () => {
    const text = await cli('key', 'list', '--workspace', 'Acme');
    const json = await cli('key', 'list', '--workspace', 'Acme', '--json');
    succeeded(text, 'key list');
    succeeded(json, 'key list --json');
    return { text, json, rows: jsonLines(json.stdout) };
  };
  const statusOf = async (id: string) => {
    const r = await cli('key', 'list', '--workspace', 'Acme', '--json');
    succeeded(r);
    return jsonLines(r.stdout).find((k) => k.id === id)?.status;
  };
  const keyCount = () => withDb(dataDir, async (db) => (await db.row<{ n: number }>('SELECT count(*) AS n FROM api_keys'))!.n);

  test('key create on a brand-new data dir: migrations run, the workspace is missing, stdout stays empty', async () => {
    const fresh = tempDataDir();
    try {
      const r = await runCli(['key', 'create', '--workspace', 'Acme', '--name', 'N', '--scopes', 'links:read'], {
        dataDir: fresh,
        env: { LINKQR_LOG_LEVEL: 'info' },
      });
      failed(r, 1, /Workspace "Acme" was not found/);
      assert.match(r.stderr, /"msg":"migrations applied"/);
    } finally {
      rmSync(fresh, { recursive: true, force: true });
    }
  });

  test('on a brand-new data dir, migrations run and stdout still holds only the result', async () => {
    const r = await runCli(['workspace', 'create', 'Acme'], { dataDir, env: { LINKQR_LOG_LEVEL: 'info', ...backend.env } });
    succeeded(r);
    assert.match(onlyLine(r.stdout), /^wsp_/);
    assert.match(r.stderr, /"msg":"migrations applied"/, 'the migration log goes to stderr');
  });

  test('key create prints exactly one line, the key, and the key works', async () => {
    const before = Date.now();
    const r = await runCli(
      ['key', 'create', '--workspace', 'Acme', '--name', 'CRM sync', '--scopes', 'links:read,links:write', '--env', 'staging', '--expires', '90d'],
      { dataDir, env: { LINKQR_LOG_LEVEL: 'debug', ...backend.env } },
    );
    succeeded(r);
    const key = onlyLine(r.stdout);
    const m = KEY.exec(key);
    assert.ok(m, `not a key: ${key}`);
    keys.push(key);
    assert.match(r.stderr, new RegExp(`Created API key ${m[1]} "CRM sync" \\(staging\\)`));
    assert.ok(!r.stderr.includes(m[2]!), 'the secret appears only on stdout');

    const res = await me(key);
    assert.equal(res.status, 200, res.text);
    assert.equal(res.json.id, m[1]);
    assert.equal(res.json.name, 'CRM sync');
    assert.equal(res.json.environment, 'staging');
    assert.deepEqual(res.json.scopes, ['links:read', 'links:write']);
    assert.equal(res.json.workspace.name, 'Acme');
    const expires = Date.parse(res.json.expiresAt);
    assert.ok(expires >= before + 90 * DAY && expires <= Date.now() + 90 * DAY, `expiresAt ${res.json.expiresAt} is not 90 days away`);
  });

  test('key create defaults to the production environment and no expiry', async () => {
    const r = await cli('key', 'create', '--workspace', 'acme', '--name', 'Reporting', '--scopes', 'analytics:read, links:read,analytics:read');
    succeeded(r);
    const key = onlyLine(r.stdout);
    assert.match(key, KEY);
    keys.push(key);
    const row = (await listAll()).rows.find((k) => k.name === 'Reporting');
    assert.equal(row?.environment, 'production');
    assert.equal(row?.expiresAt, null);
    assert.deepEqual(row?.scopes, ['analytics:read', 'links:read'], 'scopes are trimmed and de-duplicated');
  });

  const refused: [string, string[], number | 'non-zero', RegExp][] = [
    ['an unknown scope', ['--workspace', 'Acme', '--name', 'N', '--scopes', 'links:read,links:delete'], 2, /links:delete.*links:read, links:write, analytics:read, webhooks:read, webhooks:write/],
    ['no scopes', ['--workspace', 'Acme', '--name', 'N'], 2, /--scopes is required/],
    ['an empty scope list', ['--workspace', 'Acme', '--name', 'N', '--scopes', ','], 2, /scope/],
    ['a bad --expires', ['--workspace', 'Acme', '--name', 'N', '--scopes', 'links:read', '--expires', '3 months'], 2, /--expires must be a duration/],
    ['a zero --expires', ['--workspace', 'Acme', '--name', 'N', '--scopes', 'links:read', '--expires', '0d'], 2, /--expires/],
    ['an unknown workspace', ['--workspace', 'Nope', '--name', 'N', '--scopes', 'links:read'], 'non-zero', /Workspace "Nope" was not found/],
    ['a missing --workspace', ['--name', 'N', '--scopes', 'links:read'], 2, /--workspace is required/],
    ['a missing --name', ['--workspace', 'Acme', '--scopes', 'links:read'], 2, /--name is required/],
  ];
  for (const [what, args, code, message] of refused) {
    test(`key create refuses ${what}`, async () => {
      const before = await keyCount();
      failed(await cli('key', 'create', ...args), code, message);
      assert.equal(await keyCount(), before, 'no key was created');
    });
  }

  test('key list (text and --json) shows every key with its status, never a secret', async () => {
    const { text, json, rows } = await listAll();
    assert.equal(rows.length, keys.length);
    for (const key of keys) {
      const [, id, secret] = KEY.exec(key)!;
      const row = rows.find((r) => r.id === id);
      assert.ok(row, `key ${id} is not listed`);
      assert.equal(row.status, 'active');
      assert.equal(row.prefix, `lqr_${id}`);
      for (const out of [text.stdout, text.stderr, json.stdout, json.stderr]) {
        assert.ok(!out.includes(secret!), 'a secret appears in key list output');
        assert.ok(!out.includes(key), 'a full key appears in key list output');
      }
      assert.match(text.stdout, new RegExp(`^${id} .* active `, 'm'));
    }
    for (const row of rows) assert.ok(!Object.keys(row).some((k) => /hash/i.test(k)), 'no hash columns');
    assert.match(text.stdout, /^ID +NAME +ENV +SCOPES +STATUS/);
  });

  test('key list refuses an unknown workspace', async () => {
    failed(await cli('key', 'list', '--workspace', 'Nope'), 'non-zero', /Workspace "Nope" was not found/);
  });

  test('key disable stops the key at once; key enable brings it back', async () => {
    const key = keys[0]!;
    const id = KEY.exec(key)![1]!;
    const disabled = await cli('key', 'disable', id);
    succeeded(disabled);
    assert.equal(disabled.stdout, '');
    assert.equal(await statusOf(id), 'disabled');
    const res = await me(key);
    assert.equal(res.status, 401);
    assert.equal(res.json.code, 'api_key_disabled');

    succeeded(await cli('key', 'enable', id));
    assert.equal(await statusOf(id), 'active');
    assert.equal((await me(key)).status, 200);
  });

  test('key rotate --grace 1d prints a new key with the same id; old and new both work', async () => {
    const old = keys[0]!;
    const [, id, oldSecret] = KEY.exec(old)!;
    const r = await cli('key', 'rotate', id!, '--grace', '1d');
    succeeded(r);
    const fresh = onlyLine(r.stdout);
    const m = KEY.exec(fresh);
    assert.ok(m, `not a key: ${fresh}`);
    assert.equal(m[1], id, 'same key id');
    assert.notEqual(m[2], oldSecret, 'a new secret');
    assert.ok(!r.stderr.includes(m[2]!));
    assert.match(r.stderr, /works until/);
    keys[0] = fresh;

    assert.equal((await me(fresh)).status, 200, 'the new key works');
    assert.equal((await me(old)).status, 200, 'the old key works during the grace period');
    assert.equal((await listAll()).rows.filter((k) => k.id === id).length, 1, 'still one key record');
  });

  test('key rotate without --grace keeps the old secret for a day, as the admin UI does; --grace 0 ends it at once', async () => {
    const old = keys[1]!;
    const id = KEY.exec(old)![1]!;
    assert.equal((await me(old)).status, 200);
    const before = Date.now();
    const r = await cli('key', 'rotate', id);
    succeeded(r);
    const until = Date.parse(/works until (\S+)\./.exec(r.stderr)?.[1] ?? '');
    assert.ok(until >= before + DEFAULT_ROTATION_GRACE_MS && until <= Date.now() + DEFAULT_ROTATION_GRACE_MS, r.stderr);
    const fresh = onlyLine(r.stdout);
    assert.equal(KEY.exec(fresh)?.[1], id);
    assert.equal((await me(old)).status, 200, 'the old key works during the default grace period');
    assert.equal((await me(fresh)).status, 200);

    const again = await cli('key', 'rotate', id, '--grace', '0');
    succeeded(again);
    assert.match(again.stderr, /no longer works/);
    keys[1] = onlyLine(again.stdout);
    assert.equal((await me(fresh)).status, 401);
    assert.equal((await me(keys[1])).status, 200);
  });

  for (const expires of ['99999999d', '36501d', 'soon']) {
    test(`key create refuses --expires ${expires} with a usage message`, async () => {
      failed(await cli('key', 'create', '--workspace', 'Acme', '--name', 'N', '--scopes', 'links:read', '--expires', expires), 2, /--expires must be a duration such as 30d, 12h or 90m, at most 36500d/);
    });
  }

  for (const grace of ['8d', '1 day', '-1d']) {
    test(`key rotate refuses --grace ${grace}`, async () => {
      failed(await cli('key', 'rotate', KEY.exec(keys[0]!)![1]!, `--grace=${grace}`), 2, /--grace must be a duration from 0 to 7d/);
    });
  }

  test('key revoke is final: the key stops working, list shows revoked, enable and rotate refuse', async () => {
    const key = keys[0]!;
    const id = KEY.exec(key)![1]!;
    const r = await cli('key', 'revoke', id);
    succeeded(r);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /revoked/);
    const { rows, text } = await listAll();
    const row = rows.find((k) => k.id === id)!;
    assert.equal(row.status, 'revoked');
    assert.ok(!Number.isNaN(Date.parse(String(row.revokedAt))), 'revokedAt is set');
    assert.match(text.stdout, new RegExp(`^${id} .* revoked `, 'm'));
    const res = await me(key);
    assert.equal(res.status, 401);
    assert.equal(res.json.code, 'api_key_revoked');

    failed(await cli('key', 'enable', id), 'non-zero', /revoked/);
    failed(await cli('key', 'rotate', id), 'non-zero', /revoked/);
    assert.equal(await statusOf(id), 'revoked');
  });

  for (const verb of ['revoke', 'disable', 'enable', 'rotate']) {
    test(`key ${verb} of an unknown id fails`, async () => {
      failed(await cli('key', verb, 'AAAAAAAAAAAA'), 'non-zero', /API key AAAAAAAAAAAA was not found/);
    });
  }
});

// SQLite's migrations (migrations/sqlite, the schema_migrations of the file).
describe('linkqr migrate', { skip: sqliteOnly }, () => {
  let dataDir: string;
  before(() => {
    dataDir = tempDataDir();
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));
  const cli = (...args: string[]) => runCli(args, { dataDir });
  const shipped = readdirSync(join(ROOT, 'migrations', 'sqlite'))
    .filter((f) => f.endsWith('.sql'))
    .sort()
    .map((f) => /^(\d{4})_(.+)\.sql$/.exec(f)!);

  test('the build ships 0001_initial', () => {
    assert.deepEqual(shipped[0]?.slice(1), ['0001', 'initial']);
  });

  test('--status on a new database lists every migration as pending', async () => {
    const r = await cli('migrate', '--status', '--json');
    succeeded(r);
    assert.deepEqual(
      jsonLines(r.stdout),
      shipped.map(([, version, name]) => ({ version, name, status: 'pending', appliedAt: null })),
    );
  });

  test('migrate applies them, then says the database is up to date', async () => {
    const first = await cli('migrate');
    succeeded(first);
    assert.equal(first.stdout, '');
    assert.match(first.stderr, /Applied 0001_initial/);
    const again = await cli('migrate');
    succeeded(again);
    assert.match(again.stderr, /up to date/);
  });

  test('--status and --status --json show 0001_initial applied', async () => {
    const text = await cli('migrate', '--status');
    succeeded(text);
    assert.match(text.stdout, /^VERSION +NAME +STATUS +APPLIEDAT$/m);
    assert.match(text.stdout, /^0001 +initial +applied +\d{4}-\d\d-\d\dT/m);

    const json = await cli('migrate', '--status', '--json');
    succeeded(json);
    const rows = jsonLines(json.stdout);
    assert.equal(rows.length, shipped.length);
    assert.deepEqual({ ...rows[0], appliedAt: undefined }, { version: '0001', name: 'initial', status: 'applied', appliedAt: undefined });
    assert.ok(Math.abs(Date.parse(String(rows[0]!.appliedAt)) - Date.now()) < 60_000, 'appliedAt is the time it ran');
    assert.ok(rows.every((row) => row.status === 'applied'));
  });

  test('a database whose applied migration was edited is refused by every command', async () => {
    withSqlite(dataDir, (db) => db.sqlite.prepare("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1").run());
    for (const args of [['migrate'], ['migrate', '--status'], ['workspace', 'list']]) {
      failed(await cli(...args), 1, /0001_initial was edited after it was applied \(checksum mismatch\)/);
    }
  });

  test('a database made by a newer LinkQR is refused', async () => {
    const original = createHash('sha256').update(readFileSync(join(ROOT, 'migrations', 'sqlite', '0001_initial.sql'), 'utf8')).digest('hex');
    withSqlite(dataDir, (db) => {
      db.sqlite.prepare('UPDATE schema_migrations SET checksum = ? WHERE version = 1').run(original);
      db.sqlite.prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (9999, 'from_the_future', 'x', 0)").run();
    });
    failed(await cli('migrate'), 1, /9999 \(from_the_future\).*newer LinkQR/);
    failed(await cli('workspace', 'list'), 1, /newer LinkQR/);
  });
});

describe('linkqr key allow and key log', () => {
  let dataDir: string;
  let server: TestServer;
  before(async () => {
    dataDir = tempDataDir();
    // Trusting the loopback proxy lets each request play another client through X-Forwarded-For.
    // The server first: the CLI run on its data dir then works on its database, whichever backend.
    server = await startTestServer({ dataDir, env: { LINKQR_LOG_LEVEL: 'silent', LINKQR_TRUST_PROXY: 'loopback' } });
    succeeded(await runCli(['workspace', 'create', 'Acme'], { dataDir }));
  });
  after(async () => {
    await server?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const cli = (...args: string[]) => runCli(args, { dataDir });
  const from = (key: string, ip: string, path = '/api/v1/me') => server.request('GET', path, { key, headers: { 'x-forwarded-for': ip } });
  const keyCount = async () => (await server.store.db.row<{ n: number }>('SELECT count(*) AS n FROM api_keys'))!.n;
  const create = async (...extra: string[]) => {
    const r = await cli('key', 'create', '--workspace', 'Acme', '--name', 'CRM sync', '--scopes', 'links:read', ...extra);
    succeeded(r);
    const key = onlyLine(r.stdout);
    return { key, id: KEY.exec(key)![1]!, stderr: r.stderr };
  };

  test('--help of key allow and key log shows their usage', async () => {
    for (const [command, shows] of [
      ['key allow', ['linkqr key allow ID CIDRS|any']],
      ['key log', ['linkqr key log ID', '--limit N', '--before ID', '--json']],
      ['key create', ['--allow-cidr']],
    ] as const) {
      const r = await cli(...command.split(' '), '--help');
      succeeded(r);
      for (const s of shows) assert.ok(r.stdout.includes(s), `"${command} --help" does not show ${s}`);
    }
  });

  test('key create --allow-cidr limits the key to those networks (IPv4, IPv6 and IPv4-mapped)', async () => {
    const { key, id, stderr } = await create('--allow-cidr', '10.0.0.0/8, 2001:db8::/32');
    assert.match(stderr, /usable from 10\.0\.0\.0\/8, 2001:db8::\/32 only/);
    for (const ip of ['10.9.8.7', '::ffff:10.0.0.1', '2001:db8::5']) assert.equal((await from(key, ip)).status, 200, ip);
    for (const ip of ['203.0.113.5', '::ffff:11.0.0.1', '2001:db9::5']) {
      const res = await from(key, ip);
      assert.equal(res.status, 403, ip);
      assert.equal(res.json.code, 'ip_not_allowed');
      assert.ok(res.json.detail.includes(ip));
    }
    const listed = await cli('key', 'list', '--workspace', 'Acme', '--json');
    assert.deepEqual(jsonLines(listed.stdout).find((k) => k.id === id)?.allowedCidrs, ['10.0.0.0/8', '2001:db8::/32']);
    assert.match((await cli('key', 'list', '--workspace', 'Acme')).stdout, new RegExp(`^${id} .* 10\\.0\\.0\\.0/8,2001:db8::/32$`, 'm'));
  });

  for (const [what, value] of [
    ['a prefix too long', '10.0.0.0/33'],
    ['a host name', 'example.com'],
    ['an empty list', ' , '],
  ] as const) {
    test(`key create --allow-cidr refuses ${what} with exit 2`, async () => {
      const before = await keyCount();
      failed(await cli('key', 'create', '--workspace', 'Acme', '--name', 'N', '--scopes', 'links:read', '--allow-cidr', value), 2, /--allow-cidr/);
      assert.equal(await keyCount(), before, 'no key was created');
    });
  }

  test('key allow changes the list for the next request, "any" lifts it, and both are audited', async () => {
    const { key, id } = await create();
    assert.equal((await from(key, '203.0.113.5')).status, 200);
    const limited = await cli('key', 'allow', id, '192.0.2.0/24,2001:db8:1::/48');
    succeeded(limited);
    assert.equal(limited.stdout, '');
    assert.match(limited.stderr, /may now be used from 192\.0\.2\.0\/24, 2001:db8:1::\/48 only/);
    assert.equal((await from(key, '203.0.113.5')).status, 403, 'applies to the running server at once');
    assert.equal((await from(key, '192.0.2.200')).status, 200);

    const any = await cli('key', 'allow', id, 'any');
    succeeded(any);
    assert.match(any.stderr, /from any address/);
    assert.equal((await from(key, '203.0.113.5')).status, 200);

    const audit = jsonLines((await cli('audit', '--workspace', 'Acme', '--json')).stdout).filter((e) => e.action === 'key.set_networks' && e.target === `api_key:${id}`);
    assert.deepEqual(
      audit.map((e) => e.summary),
      [
        { name: 'CRM sync', allowedCidrs: { from: ['192.0.2.0/24', '2001:db8:1::/48'], to: null } },
        { name: 'CRM sync', allowedCidrs: { from: null, to: ['192.0.2.0/24', '2001:db8:1::/48'] } },
      ],
    );
    assert.match(String(audit[0]!.actor), /^operator:cli:/);
  });

  test('key allow refuses what is not a network (exit 2) and an unknown key (exit 1)', async () => {
    const { id } = await create();
    failed(await cli('key', 'allow', id, '10.0.0.0/8,10.0.0.256'), 2, /"10\.0\.0\.256" is not an IP address or network/);
    failed(await cli('key', 'allow', id, ''), 2, /CIDRs/);
    failed(await cli('key', 'allow', id), 2, /expected ID CIDRS\|any/);
    failed(await cli('key', 'allow', 'AAAAAAAAAAAA', 'any'), 1, /API key AAAAAAAAAAAA was not found/);
    const row = await server.store.db.row<{ allowed_cidrs: string | null }>('SELECT allowed_cidrs FROM api_keys WHERE id = ?', id);
    assert.equal(row?.allowed_cidrs, null, 'unchanged');
  });

  test('key log prints the requests newest first, never a query string, a page at a time', async () => {
    const { key, id } = await create();
    const calls = [
      ['/api/v1/me', '198.51.100.1'],
      ['/api/v1/links?q=private-words', '2001:db8::77'],
      ['/api/v1/links/lnk_missing', '198.51.100.2'],
    ] as const;
    for (const [path, ip] of calls) await from(key, ip, path);
    await server.server.deps.apiRequests.flush();

    const json = await cli('key', 'log', id, '--json');
    succeeded(json);
    const rows = jsonLines(json.stdout);
    assert.deepEqual(
      rows.map((r) => [r.method, r.path, r.status, r.ip]),
      [
        ['GET', '/api/v1/links/lnk_missing', 404, '198.51.100.2'],
        ['GET', '/api/v1/links', 200, '2001:db8::77'],
        ['GET', '/api/v1/me', 200, '198.51.100.1'],
      ],
    );
    for (const r of rows) {
      assert.ok(!Number.isNaN(Date.parse(String(r.at))), 'an ISO time');
      assert.equal(typeof r.durationMs, 'number');
      assert.match(String(r.requestId), /^[0-9a-f-]{36}$/);
    }
    assert.ok(!json.stdout.includes('private-words') && !json.stdout.includes(key));

    const text = await cli('key', 'log', id);
    succeeded(text);
    assert.match(text.stdout, /^ID +AT +METHOD +PATH +STATUS +MS +IP$/m);
    assert.match(text.stdout, /GET +\/api\/v1\/links\/lnk_missing +404 +\d+ +198\.51\.100\.2$/m);

    const first = await cli('key', 'log', id, '--limit', '2', '--json');
    succeeded(first);
    assert.equal(jsonLines(first.stdout).length, 2);
    const next = /--before (\d+)/.exec(first.stderr)?.[1];
    assert.ok(next, `the next page is named: ${first.stderr}`);
    const second = await cli('key', 'log', id, '--limit', '2', '--before', next, '--json');
    assert.deepEqual(jsonLines(second.stdout).map((r) => r.path), ['/api/v1/me']);
    assert.doesNotMatch(second.stderr, /--before/, 'no further page');
  });

  test('key log refuses a bad --limit (exit 2) and an unknown key (exit 1)', async () => {
    for (const limit of ['0', '1001', 'ten']) failed(await cli('key', 'log', 'AAAAAAAAAAAA', '--limit', limit), 2, /--limit must be a whole number from 1 to 1000/);
    failed(await cli('key', 'log', 'AAAAAAAAAAAA'), 1, /API key AAAAAAAAAAAA was not found/);
  });
});
