import type { Router } from 'express';
import { listAudit } from '../../audit/audit.js';
import { listKeys } from '../../keys/keys.service.js';
import { authorize } from '../../policy/policy.js';
import { setFlash, switchWorkspace } from '../../sessions/sessions.service.js';
import { listMembers } from '../../workspaces/members.service.js';
import { adminOf, redirectTo, workspaceOf } from './admin-session.js';
import { HOME, safeAdminPath } from './navigation.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export type PagesDeps = RenderDeps;

const AUDIT_PAGE_SIZE = 100;

/** The admin pages: / → Links, the sections of the sidebar, and the workspace switcher. */
export function bindPages(router: Router, deps: PagesDeps) {
  router.get('/', (_req, res) => res.redirect(303, HOME));

  router.post('/workspace', async (req, res) => {
    const admin = adminOf(res);
    const form = (req.body ?? {}) as { workspace?: unknown; next?: unknown };
    const target = await switchWorkspace(deps, admin.session, admin.memberships, typeof form.workspace === 'string' ? form.workspace : '');
    await setFlash(deps, admin.session, { kind: 'ok', text: `You are now working in ${target.name}.` });
    redirectTo(req, res, safeAdminPath(form.next));
  });

  router.get('/audit', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'audit.read');
    const [entries, members, workspaceKeys] = await Promise.all([
      listAudit(deps.db, workspace.workspaceId, AUDIT_PAGE_SIZE),
      listMembers(deps.db, workspace.workspaceId),
      listKeys(deps, workspace.workspaceId),
    ]);
    const users = new Map(members.map((m) => [m.userId, m.email]));
    const keys = new Map(workspaceKeys.map((k) => [k.id, k.name]));
    const rows = entries.map((e) => ({ ...e, who: describeActor(e.actor, users, keys), what: describeTarget(e.target), details: describeSummary(e.summary) }));
    await renderAdminPage(deps, req, res, 'pages/admin/audit', { title: 'Audit log', section: 'audit', rows, pageSize: AUDIT_PAGE_SIZE });
  });
}

const splitRef = (ref: string) => {
  const colon = ref.indexOf(':');
  return colon < 0 ? { type: ref, id: '' } : { type: ref.slice(0, colon), id: ref.slice(colon + 1) };
};

/** "user:usr_…" → the member's email, "key:…" → the key's name; others as stored. */
function describeActor(actor: string, users: Map<string, string>, keys: Map<string, string>): { kind: string; name: string } {
  const { type, id } = splitRef(actor);
  if (type === 'user') return { kind: 'User', name: users.get(id) ?? id };
  if (type === 'key') return { kind: `API key · ${id}`, name: keys.get(id) ?? id };
  return { kind: type === 'operator' ? 'Command line' : type, name: id };
}

/** "api_key:XAGl…" → {type: "api key", id: "XAGl…"}. */
function describeTarget(target: string): { type: string; id: string } {
  const { type, id } = splitRef(target);
  return { type: type.replace(/_/g, ' '), id };
}

/** {"name":"Acme","role":{"from":"member","to":"admin"}} → ["name: Acme", "role: member → admin"]. */
function describeSummary(summary: Record<string, unknown>): string[] {
  const show = (v: unknown): string =>
    typeof v === 'string' ? v : v === null ? 'none' : Array.isArray(v) ? v.map(show).join(', ') : JSON.stringify(v);
  return Object.entries(summary).map(([field, value]) => {
    if (value && typeof value === 'object' && 'from' in value && 'to' in value) return `${field}: ${show(value.from)} → ${show(value.to)}`;
    return `${field}: ${show(value)}`;
  });
}
