import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { runCli, tempDataDir } from '../testing/harness.js';

const PASSWORD = 'members password 42';
const ISO_UTC = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('linkqr member: add, role, remove, list', () => {
  const dataDir = tempDataDir();
  const cli = (args: string[], stdin?: string) => runCli(args, { dataDir, stdin });
  const ok = async (args: string[], stdin?: string) => {
    const r = await cli(args, stdin);
    assert.equal(r.code, 0, `linkqr ${args.join(' ')}: ${r.stderr}`);
    return r;
  };
  const refused = async (args: string[], code: number, message: RegExp) => {
    const r = await cli(args);
    assert.equal(r.code, code, `linkqr ${args.join(' ')} should fail: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  };
  /** `member list --json` as [email, role] pairs. */
  const roles = async (workspace: string) =>
    (await ok(['member', 'list', '--workspace', workspace, '--json'])).stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as { email: string; role: string })
      .map((m) => [m.email, m.role]);
  const user = (email: string, ...workspaceArgs: string[]) => ok(['user', 'create', '--email', email, '--password-stdin', ...workspaceArgs], PASSWORD);
  const setRole = (workspace: string, email: string, role: string) => cli(['member', 'role', '--workspace', workspace, '--email', email, '--role', role]);

  before(async () => {
    await user('owner@crew.test', '--workspace', 'Crew');
    await Promise.all(['alice', 'bob', 'carol', 'dave'].map((name) => user(`${name}@crew.test`)));
  });
  after(() => rmSync(dataDir, { recursive: true, force: true }));

  test('add puts an existing user in a workspace with a role; list shows every member, sorted by email', async () => {
    const added = await ok(['member', 'add', '--workspace', 'Crew', '--email', 'bob@crew.test', '--role', 'viewer']);
    assert.equal(added.stdout, '', 'nothing on stdout: there is no secret to print');
    assert.match(added.stderr, /bob@crew\.test is now viewer of "Crew"/);
    await ok(['member', 'add', '--workspace', 'Crew', '--email', 'ALICE@crew.test', '--role', 'member']);

    assert.deepEqual(await roles('Crew'), [
      ['alice@crew.test', 'member'],
      ['bob@crew.test', 'viewer'],
      ['owner@crew.test', 'owner'],
    ]);
    const row = JSON.parse((await ok(['member', 'list', '--workspace', 'Crew', '--json'])).stdout.split('\n')[0]!);
    assert.deepEqual(Object.keys(row).sort(), ['email', 'role', 'since', 'userId']);
    assert.match(row.userId, /^usr_/);
    assert.match(row.since, ISO_UTC);

    const table = (await ok(['member', 'list', '--workspace', 'Crew'])).stdout.trim().split('\n');
    assert.match(table[0]!, /^USERID\s+EMAIL\s+ROLE\s+SINCE$/);
    assert.equal(table.length, 4);
  });

  test('role changes a role; remove takes the member out', async () => {
    const changed = await setRole('Crew', 'alice@crew.test', 'admin');
    assert.equal(changed.code, 0, changed.stderr);
    assert.match(changed.stderr, /alice@crew\.test is now admin of "Crew"/);
    const removed = await ok(['member', 'remove', '--workspace', 'Crew', '--email', 'bob@crew.test']);
    assert.match(removed.stderr, /bob@crew\.test is no longer a member of "Crew"/);
    assert.deepEqual(await roles('Crew'), [
      ['alice@crew.test', 'admin'],
      ['owner@crew.test', 'owner'],
    ]);
  });

  describe('refusals', () => {
    const cases: [string, string[], number, RegExp][] = [
      ['add of an unknown user', ['member', 'add', '--workspace', 'Crew', '--email', 'nobody@crew.test', '--role', 'member'], 1, /User nobody@crew\.test was not found/],
      ['add to an unknown workspace', ['member', 'add', '--workspace', 'Nowhere', '--email', 'dave@crew.test', '--role', 'member'], 1, /Workspace "Nowhere" was not found/],
      ['add of a member already there', ['member', 'add', '--workspace', 'Crew', '--email', 'alice@crew.test', '--role', 'viewer'], 1, /already a member; change their role instead/],
      ['add with an unknown role', ['member', 'add', '--workspace', 'Crew', '--email', 'dave@crew.test', '--role', 'superuser'], 2, /--role must be one of owner, admin, member, viewer/],
      ['add without --role', ['member', 'add', '--workspace', 'Crew', '--email', 'dave@crew.test'], 2, /--role is required/],
      ['add without --email', ['member', 'add', '--workspace', 'Crew', '--role', 'member'], 2, /--email is required/],
      ['add without --workspace', ['member', 'add', '--email', 'dave@crew.test', '--role', 'member'], 2, /--workspace is required/],
      ['role of a user who is not a member', ['member', 'role', '--workspace', 'Crew', '--email', 'dave@crew.test', '--role', 'admin'], 1, /Member dave@crew\.test was not found/],
      ['remove of a user who is not a member', ['member', 'remove', '--workspace', 'Crew', '--email', 'dave@crew.test'], 1, /Member dave@crew\.test was not found/],
      ['list of an unknown workspace', ['member', 'list', '--workspace', 'Nowhere'], 1, /Workspace "Nowhere" was not found/],
    ];
    for (const [what, args, code, message] of cases) {
      test(`${what} exits ${code} with a clear message`, () => refused(args, code, message));
    }
    test('(and changed nothing)', async () => {
      assert.deepEqual(await roles('Crew'), [
        ['alice@crew.test', 'admin'],
        ['owner@crew.test', 'owner'],
      ]);
    });
  });

  describe('a workspace always keeps at least one owner', () => {
    before(() => user('first@keep.test', '--workspace', 'Keep'));

    test('the only owner can be neither demoted nor removed', async () => {
      for (const role of ['admin', 'member', 'viewer']) {
        await refused(['member', 'role', '--workspace', 'Keep', '--email', 'first@keep.test', '--role', role], 1, /only owner of the workspace: make someone else owner first/);
      }
      await refused(['member', 'remove', '--workspace', 'Keep', '--email', 'first@keep.test'], 1, /only owner of the workspace/);
      assert.deepEqual(await roles('Keep'), [['first@keep.test', 'owner']]);
    });

    test('with a second owner, the first can step down; then the second is the last owner', async () => {
      await ok(['member', 'add', '--workspace', 'Keep', '--email', 'carol@crew.test', '--role', 'owner']);
      assert.equal((await setRole('Keep', 'first@keep.test', 'admin')).code, 0);
      await refused(['member', 'remove', '--workspace', 'Keep', '--email', 'carol@crew.test'], 1, /only owner/);
      await refused(['member', 'role', '--workspace', 'Keep', '--email', 'carol@crew.test', '--role', 'viewer'], 1, /only owner/);
      await ok(['member', 'remove', '--workspace', 'Keep', '--email', 'first@keep.test']);
      assert.deepEqual(await roles('Keep'), [['carol@crew.test', 'owner']]);
    });

    test('two owners demoting each other at the same moment: one wins, one owner remains', async () => {
      await ok(['member', 'add', '--workspace', 'Keep', '--email', 'dave@crew.test', '--role', 'owner']);
      const results = await Promise.all([setRole('Keep', 'carol@crew.test', 'admin'), setRole('Keep', 'dave@crew.test', 'admin')]);
      assert.deepEqual(results.map((r) => r.code).sort(), [0, 1], results.map((r) => r.stderr).join('\n'));
      const owners = (await roles('Keep')).filter(([, role]) => role === 'owner');
      assert.equal(owners.length, 1);
    });
  });

  test('one user, two workspaces, a role in each: changes in one leave the other alone', async () => {
    await user('erin@two.test', '--workspace', 'North', '--role', 'admin');
    await ok(['workspace', 'create', 'South']);
    await ok(['member', 'add', '--workspace', 'South', '--email', 'erin@two.test', '--role', 'viewer']);
    const erin = async (ws: string) => (await roles(ws)).find(([email]) => email === 'erin@two.test')?.[1];
    assert.equal(await erin('North'), 'admin');
    assert.equal(await erin('South'), 'viewer');

    assert.equal((await setRole('South', 'erin@two.test', 'member')).code, 0);
    assert.equal(await erin('South'), 'member');
    assert.equal(await erin('North'), 'admin');

    await ok(['member', 'remove', '--workspace', 'South', '--email', 'erin@two.test']);
    assert.equal(await erin('South'), undefined);
    assert.equal(await erin('North'), 'admin');
  });
});
