import type { Request, Response, Router } from 'express';
import { listAudit } from '../../audit/audit.js';
import { listKeys } from '../../keys/keys.service.js';
import { authorize, authorizeInstance } from '../../policy/policy.js';
import { setFlash, switchWorkspace } from '../../sessions/sessions.service.js';
import { listMembers } from '../../workspaces/members.service.js';
import { adminOf, redirectTo, workspaceOf } from './admin-session.js';
import { HOME, safeAdminPath, type Section } from './navigation.js';
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

const UPCOMING: Record<Exclude<Section, 'audit'>, Upcoming> = {
  links: {
    title: 'Links',
    lead: (ws) => `Short links and QR codes of ${ws}.`,
    heading: 'Links will be managed here',
    features: [
      'Search and filter every link of the workspace',
      'Create, edit, disable and delete links',
      'Copy short URLs and download QR codes (SVG, PNG)',
      "See each link's clicks over time",
    ],
    next: 'Until then, create links with the API, using a key with the links:write scope:',
    code: ({ baseUrl }) =>
      `curl -X POST ${baseUrl}/api/v1/links \\\n  -H "Authorization: Bearer $LINKQR_KEY" \\\n  -H "Content-Type: application/json" \\\n  -d '{"url": "https://example.com/launch"}'`,
  },
  analytics: {
    title: 'Analytics',
    lead: (ws) => `How the links of ${ws} are used.`,
    heading: 'Click analytics will appear here',
    features: ['Human clicks, bots and QR scans over time', 'Top referrers, devices and browsers', 'A chart for every link'],
    next: "Until then, each link's numbers are in the API (analytics:read scope):",
    code: ({ baseUrl }) => `curl ${baseUrl}/api/v1/links/LINK_ID/stats?interval=day \\\n  -H "Authorization: Bearer $LINKQR_KEY"`,
  },
  api: {
    title: 'API & Webhooks',
    lead: (ws) => `Keys for scripts and systems, and webhooks that tell them what happens in ${ws}.`,
    heading: 'API keys and webhooks will be managed here',
    features: [
      'Create keys with scopes, environment and expiry; each key is shown once',
      'Rotate, disable and revoke keys, and see when each was last used',
      'Webhook endpoints with event subscriptions, test sends and a delivery log',
    ],
    next: 'Until then, create keys from the command line on the server:',
    code: ({ workspace }) => `linkqr key create --workspace ${shellQuote(workspace)} --name "CRM sync" \\\n  --scopes links:read,links:write`,
  },
  team: {
    title: 'Team',
    lead: (ws) => `Who works in ${ws}, and what each person may do.`,
    heading: 'Members and roles will be managed here',
    features: ['Everyone in the workspace with their role', 'Add people by email, change roles, remove members', 'A workspace always keeps at least one owner'],
    next: 'Until then, manage members from the command line on the server:',
    code: ({ workspace }) => `linkqr member add --workspace ${shellQuote(workspace)} \\\n  --email colleague@example.com --role member`,
  },
  settings: {
    title: 'Settings',
    lead: (ws) => `The name, plan and limits of ${ws}.`,
    heading: 'Workspace settings will be here',
    features: ['The workspace name', 'Its plan and the features it includes', 'Usage against every limit of the plan'],
    next: 'Until then, the command line on the server lists workspaces with their plans:',
    code: () => 'linkqr workspace list',
  },
  instance: {
    title: 'Instance',
    lead: () => 'Everything this LinkQR server hosts.',
    heading: 'Instance administration will be here',
    features: ['Users, workspaces and plans of this server', 'Clear caches after changing global settings'],
    next: 'Until then, use the command line on the server:',
    code: () => 'linkqr workspace list\nlinkqr plan upsert Team --limit links=1000,members=10',
  },
};

/** Quoted for a POSIX shell, so a copied command works whatever the workspace is called. */
const shellQuote = (s: string) => (/^[A-Za-z0-9_.-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);

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

  for (const section of ['links', 'analytics', 'api', 'team', 'settings'] as const) {
    router.get(`/${section}`, (req, res) => upcoming(req, res, section));
  }
  router.get('/instance', (req, res) => {
    authorizeInstance({ type: 'user', instanceAdmin: adminOf(res).user.instanceAdmin });
    upcoming(req, res, 'instance');
  });

  router.get('/audit', (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'audit.read');
    const entries = listAudit(deps.db, workspace.workspaceId, AUDIT_PAGE_SIZE);
    const users = new Map(listMembers(deps.db, workspace.workspaceId).map((m) => [m.userId, m.email]));
    const keys = new Map(listKeys(deps, workspace.workspaceId).map((k) => [k.id, k.name]));
    const rows = entries.map((e) => ({ ...e, who: describeActor(e.actor, users, keys), what: describeTarget(e.target), details: describeSummary(e.summary) }));
    renderAdminPage(deps, req, res, 'pages/admin/audit', { title: 'Audit log', section: 'audit', rows, pageSize: AUDIT_PAGE_SIZE });
  });

  function upcoming(req: Request, res: Response, section: Exclude<Section, 'audit'>) {
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
