import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Role } from '../db/schema.js';
import type { Scope } from '../keys/scopes.js';
import { AppError } from '../lib/errors.js';
import { ACTION_PHRASES, ACTIONS, type Action, type Actor, allows, authorize, authorizeInstance } from './policy.js';

/**
 * SPEC §2's role table, written out here by hand (not derived from the module under test):
 *
 * | action                               | viewer | member | admin | owner |
 * | read links, analytics                |  yes   |  yes   |  yes  |  yes  |
 * | create/edit/disable links            |        |  yes   |  yes  |  yes  |
 * | API keys, webhooks, members          |        |        |  yes  |  yes  |
 * | plan, workspace settings, delete     |        |        |       |  yes  |
 *
 * The audit log is not a row of that table; SPEC §6 shows it to whoever manages the team
 * (who, what, when), so it is expected at the "API keys, webhooks, members" level.
 */
const ROLES: Role[] = ['viewer', 'member', 'admin', 'owner'];
const LOWEST_ROLE_ALLOWED: Record<Action, Role> = {
  'links.read': 'viewer',
  'analytics.read': 'viewer',
  'links.write': 'member',
  'domains.manage': 'admin',
  'keys.manage': 'admin',
  'webhooks.read': 'admin',
  'webhooks.write': 'admin',
  'members.manage': 'admin',
  'audit.read': 'admin',
  'workspace.plan': 'owner',
  'workspace.settings': 'owner',
  'workspace.delete': 'owner',
};
const rank = (r: Role) => ROLES.indexOf(r);

/** SPEC §4 and §8 (domains are part of the links API): what each API key scope opens. Nothing else is open to keys. */
const ACTIONS_OF_SCOPE: Record<Scope, Action[]> = {
  'links:read': ['links.read'],
  'links:write': ['links.write', 'domains.manage'],
  'analytics:read': ['analytics.read'],
  'webhooks:read': ['webhooks.read'],
  'webhooks:write': ['webhooks.write'],
};
const SCOPES = Object.keys(ACTIONS_OF_SCOPE) as Scope[];

const user = (role: Role, instanceAdmin = false): Actor => ({ type: 'user', id: 'usr_1', workspaceId: 'wsp_1', role, instanceAdmin });
const key = (scopes: Scope[]): Actor => ({ type: 'key', id: 'abcdefghijkl', workspaceId: 'wsp_1', scopes });
const operator: Actor = { type: 'operator', id: 'cli:test' };

/** Runs fn and returns the AppError it throws (failing when it throws nothing or something else). */
function refusal(fn: () => void): AppError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof AppError, `expected an AppError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a refusal, but it was allowed');
}

describe('policy: the action list', () => {
  test('every action the policy knows has an expectation here, and no other', () => {
    assert.deepEqual([...ACTIONS].sort(), Object.keys(LOWEST_ROLE_ALLOWED).sort());
  });
});

describe('policy: role × action (SPEC §2)', () => {
  for (const role of ROLES) {
    for (const action of ACTIONS) {
      const expected = rank(role) >= rank(LOWEST_ROLE_ALLOWED[action]);
      test(`${role} ${expected ? 'may' : 'may not'} ${action}`, () => {
        assert.equal(allows(user(role), action), expected);
        if (expected) {
          assert.doesNotThrow(() => authorize(user(role), action));
        } else {
          const e = refusal(() => authorize(user(role), action));
          assert.equal(e.status, 403);
          assert.equal(e.code, 'insufficient_role');
          assert.ok(e.detail.includes(role), `the refusal names the role: ${e.detail}`);
          assert.equal(e.detail, `Your role (${role}) cannot ${ACTION_PHRASES[action]}.`, 'the refusal names what was tried, in words');
        }
      });
    }
  }

  test('being instance admin does not widen a role inside a workspace', () => {
    for (const action of ACTIONS) {
      assert.equal(allows(user('viewer', true), action), allows(user('viewer'), action), action);
    }
  });
});

describe('policy: key scope × action (SPEC §4)', () => {
  for (const scope of SCOPES) {
    for (const action of ACTIONS) {
      const expected = ACTIONS_OF_SCOPE[scope].includes(action);
      test(`a key with only ${scope} ${expected ? 'may' : 'may not'} ${action}`, () => {
        assert.equal(allows(key([scope]), action), expected);
        if (expected) {
          assert.doesNotThrow(() => authorize(key([scope]), action));
        } else {
          const e = refusal(() => authorize(key([scope]), action));
          assert.equal(e.status, 403);
          assert.equal(e.code, 'insufficient_scope');
        }
      });
    }
  }

  test('a key with every scope may do exactly what the scopes name: never manage keys, members, audit, plan or settings', () => {
    const allowed = ACTIONS.filter((a) => allows(key(SCOPES), a));
    assert.deepEqual(allowed.sort(), Object.values(ACTIONS_OF_SCOPE).flat().sort());
  });

  test('a key with no scopes may do nothing', () => {
    for (const action of ACTIONS) assert.equal(allows(key([]), action), false, action);
  });

  test('insufficient_scope names the missing scope when one exists', () => {
    for (const scope of SCOPES) {
      const other = SCOPES.filter((s) => s !== scope);
      for (const action of ACTIONS_OF_SCOPE[scope]) {
        const e = refusal(() => authorize(key(other), action));
        assert.equal(e.code, 'insufficient_scope');
        assert.ok(e.detail.includes(`"${scope}"`), `detail names ${scope}: ${e.detail}`);
      }
    }
  });

  test('insufficient_scope for an action no scope opens says keys cannot do it', () => {
    for (const action of ['keys.manage', 'members.manage', 'audit.read', 'workspace.plan', 'workspace.settings', 'workspace.delete'] as const) {
      const e = refusal(() => authorize(key(SCOPES), action));
      assert.equal(e.status, 403);
      assert.equal(e.code, 'insufficient_scope');
      assert.match(e.detail, /API keys cannot/);
    }
  });
});

describe('policy: the operator and instance-wide management', () => {
  test('the operator at the command line may do every action', () => {
    for (const action of ACTIONS) {
      assert.equal(allows(operator, action), true, action);
      assert.doesNotThrow(() => authorize(operator, action));
    }
  });

  test('instance management: the operator and instance admins only', () => {
    assert.doesNotThrow(() => authorizeInstance(operator));
    assert.doesNotThrow(() => authorizeInstance(user('viewer', true)));
    for (const actor of [user('owner'), key(SCOPES)]) {
      const e = refusal(() => authorizeInstance(actor));
      assert.equal(e.status, 403);
      assert.equal(e.code, 'instance_admin_only');
    }
  });
});
