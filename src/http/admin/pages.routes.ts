import type { Request, Response, Router } from 'express';
import { listAudit } from '../../audit/audit.js';
import { listKeys } from '../../keys/keys.service.js';
import { authorize } from '../../policy/policy.js';
import { setFlash, switchWorkspace } from '../../sessions/sessions.service.js';
import { listMembers } from '../../workspaces/members.service.js';
import { adminOf, redirectTo, workspaceOf } from './admin-session.js';
import { HOME, safeAdminPath } from './navigation.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export interface PagesDeps extends RenderDeps {
  baseUrl(): string;
}

/** A page still to be built: what it will do, and how to do it today. No made-up data. */
interface Upcoming {
  title: string;
  lead: (workspace: string) => string;
  heading: string;
  features: string[];
  next: string;
  code?: (ctx: { workspace: string; baseUrl: string }) => string;
}

/** Sections still to be built (analytics comes with the analytics and QR issue). */
const UPCOMING: Record<'analytics', Upcoming> = {
  analytics: {
    title: 'Analytics',
    lead: (ws) => `How the links of ${ws} are used.`,
    heading: 'Click analytics will appear here',
    features: ['Human clicks, bots and QR scans over time', 'Top referrers, devices and browsers', 'A chart for every link'],
    next: "Until then, each link's human clicks and last click are on the Links page and in the API:",
    code: ({ baseUrl }) => `curl ${baseUrl}/api/v1/links/LINK_ID \\\n  -H "Authorization: Bearer $LINKQR_KEY"   # "clicks", "lastClickedAt"`,
  },
};

const AUDIT_PAGE_SIZE = 100;

/** The admin pages: / → Links, the sections of the sidebar, and the workspace switcher. */
export function bindPages(router: Router, deps: PagesDeps) {
  router.get('/', (_req, res) => res.redirect(303, HOME));

  router.post('/workspace', (req, res) => {
    const admin = adminOf(res);
    const form = (req.body ?? {}) as { workspace?: unknown; next?: unknown };
    const target = switchWorkspace(deps, admin.session, admin.memberships, typeof form.workspace === 'string' ? form.workspace : '');
    setFlash(deps, admin.session, { kind: 'ok', text: `You are now working in ${target.name}.` });
    redirectTo(req, res, safeAdminPath(form.next));
  });

  router.get('/analytics', (req, res) => upcoming(req, res, 'analytics'));

  router.get('/audit', (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'audit.read');
    const entries = listAudit(deps.db, workspace.workspaceId, AUDIT_PAGE_SIZE);
    const users = new Map(listMembers(deps.db, workspace.workspaceId).map((m) => [m.userId, m.email]));
    const keys = new Map(listKeys(deps, workspace.workspaceId).map((k) => [k.id, k.name]));
    const rows = entries.map((e) => ({ ...e, who: describeActor(e.actor, users, keys), what: describeTarget(e.target), details: describeSummary(e.summary) }));
    renderAdminPage(deps, req, res, 'pages/admin/audit', { title: 'Audit log', section: 'audit', rows, pageSize: AUDIT_PAGE_SIZE });
  });

  function upcoming(req: Request, res: Response, section: keyof typeof UPCOMING) {
    const page = UPCOMING[section];
    const workspace = adminOf(res).workspace?.name ?? '';
    renderAdminPage(deps, req, res, 'pages/admin/upcoming', {
      title: page.title,
      section,
      lead: page.lead(workspace),
      heading: page.heading,
      features: page.features,
      next: page.next,
      code: page.code?.({ workspace, baseUrl: deps.baseUrl() }),
    });
  }
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
