import type { Request, Response, Router } from 'express';
import {
  allowedNetworks,
  createKey,
  type KeyStore,
  listKeys,
  type PresentedKey,
  revokeKey,
  rotateKey,
  setAllowedNetworks,
  setKeyEnabled,
  splitCidrList,
} from '../../keys/keys.service.js';
import { listKeyRequests, summariseKeyRequests } from '../../keys/request-log.js';
import { isScope, SCOPES, type Scope } from '../../keys/scopes.js';
import { AppError, type FieldError } from '../../lib/errors.js';
import { EVENT_TYPES } from '../../outbox/events.js';
import { DEFAULT_ROTATION_GRACE_MS } from '../../secrets/rotation-grace.js';
import { allows, authorize } from '../../policy/policy.js';
import { createWebhookBody } from '../../webhooks/webhooks.schema.js';
import {
  createWebhook,
  listDeliveries,
  listWebhooks,
  redeliver,
  rotateWebhookSecret,
  sendTestEvent,
  updateWebhook,
  type WebhookDeps,
} from '../../webhooks/webhooks.service.js';
import { listMembers } from '../../workspaces/members.service.js';
import { isHtmx, redirectTo, workspaceOf } from './admin-session.js';
import { refusalFor } from './plan-advice.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export type ApiPagesDeps = RenderDeps & KeyStore & WebhookDeps;

const DAY = 86_400_000;
/** A key not used for this long (or never, and this old) is marked in the list. */
export const UNUSED_AFTER_MS = 30 * DAY;
export const ENVIRONMENTS = ['production', 'staging', 'development'] as const;
const GRACE_DAYS = [0, 1, 2, 3, 4, 5, 6, 7] as const;
/** The grace period the rotate forms preselect: what the CLI and the API take when none is given. */
const DEFAULT_GRACE_DAYS = DEFAULT_ROTATION_GRACE_MS / DAY;
const DELIVERY_PAGE = 50;
/** Where a key's secret is shown once (partials/admin/api/reveal): after a rotate, and after creating it. */
const KEY_REVEALS = ['key-reveal', 'key-reveal-new'] as const;
const REQUEST_LOG_PAGE = 50;

type Form = Record<string, unknown>;
const text = (v: unknown) => (typeof v === 'string' ? v.trim() : '');
/** Checkbox groups arrive as a string (one ticked), an array (several) or nothing. */
const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
const fieldErrors = (errs: readonly FieldError[] | undefined) => Object.fromEntries((errs ?? []).map((e) => [e.field, e.message]));

interface KeyFormValues {
  name: string;
  environment: string;
  scopes: string[];
  expires: string;
  allowedCidrs: string;
}
const BLANK_KEY_FORM: KeyFormValues = { name: '', environment: 'production', scopes: [], expires: '', allowedCidrs: '' };

/** A key row's allowed-networks form sent back with its error (the form then stays open). */
interface NetworksFormError {
  keyId: string;
  value: string;
  error: string;
}

interface WebhookFormValues {
  url: string;
  description: string;
  events: string[];
}
const BLANK_WEBHOOK_FORM: WebhookFormValues = { url: '', description: '', events: ['link.created', 'link.updated', 'link.deleted'] };

/**
 * /admin/api: API keys and webhook endpoints of the current workspace, on one page. Secrets
 * (a new key, a webhook signing secret) appear only in the response to the POST that made them,
 * never in a page that can be fetched again.
 *
 * Fragments: partials/admin/api/{key-form, keys-table, key-row, key-log, key-log-rows,
 * webhook-form, webhooks-table, webhook-row, reveal, delivery-status, deliveries-table}. Lists
 * refresh on `keys-changed` and `webhooks-changed`.
 */
export function bindApiPages(router: Router, deps: ApiPagesDeps) {
  router.get('/api', async (req, res) => {
    const { actor } = workspaceOf(res);
    authorize(actor, 'webhooks.read');
    await page(req, res);
  });

  // ---- API keys ----
  router.get('/api/keys', async (_req, res) => {
    authorize(workspaceOf(res).actor, 'webhooks.read');
    fragment(res, 'keys-table', await keysData(res));
  });

  router.post('/api/keys', async (req, res) => {
    const { workspace, actor, user } = workspaceOf(res);
    authorize(actor, 'keys.manage');
    const form = req.body as Form;
    const values: KeyFormValues = {
      name: text(form.name),
      environment: text(form.environment),
      scopes: list(form.scopes),
      expires: text(form.expires),
      allowedCidrs: text(form.allowedCidrs),
    };
    const { errors, expiresAt, allowedCidrs } = validateKeyForm(values, deps.clock.now());
    let formError: ReturnType<typeof refusalFor> | undefined;
    if (Object.keys(errors).length === 0) {
      try {
        const created = await createKey(deps, res.locals.change!, {
          workspaceId: workspace.workspaceId,
          name: values.name,
          environment: values.environment,
          scopes: values.scopes.filter(isScope),
          expiresAt,
          createdByUserId: user.id,
          allowedCidrs,
        });
        const reveal = { kind: 'key', heading: `Your new key “${created.record.name}”`, value: created.key, keyId: created.record.id };
        if (!isHtmx(req)) return await page(req, res, { keyReveal: reveal });
        res.setHeader('hx-trigger', 'keys-changed');
        return fragment(res, 'key-form', { ...keyFormData(res, BLANK_KEY_FORM), reveal });
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        formError = refusalFor(res, err.detail);
      }
    }
    const data = { ...keyFormData(res, values), errors, formError: formError?.text, changePlan: formError?.changePlan };
    if (!isHtmx(req)) return page(req, res, { keyForm: data }, 400);
    fragment(res, 'key-form', data, 400);
  });

  router.post('/api/keys/:id/rotate', async (req, res) => {
    const key = await workspaceKey(res, req.params.id);
    const graceDays = Number(text((req.body as Form).grace));
    if (!GRACE_DAYS.includes(graceDays as (typeof GRACE_DAYS)[number])) {
      refuse('Choose how long the old key keeps working: 0 to 7 days.');
    }
    const rotated = await rotateKey(deps, res.locals.change!, key.id, graceDays * DAY);
    const reveal = {
      kind: 'key',
      heading: `New secret for “${key.name}”`,
      value: rotated.key,
      keyId: key.id,
      note: graceDays === 0 ? 'The old key stopped working now.' : `The old key keeps working for ${graceDays} ${graceDays === 1 ? 'day' : 'days'}.`,
    };
    if (!isHtmx(req)) return page(req, res, { keyReveal: reveal });
    res.setHeader('hx-trigger', 'keys-changed');
    fragment(res, 'reveal', { ...reveal, id: 'key-reveal' });
  });

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    router.post(`/api/keys/:id/${action}`, async (req, res) => {
      const key = await workspaceKey(res, req.params.id);
      await setKeyEnabled(deps, res.locals.change!, key.id, enabled);
      await keyRowOrBack(req, res, key.id);
    });
  }

  router.post('/api/keys/:id/revoke', async (req, res) => {
    const key = await workspaceKey(res, req.params.id);
    await revokeKey(deps, res.locals.change!, key.id);
    // The boxes still showing this key's secret (their names are the boxes' ids) go with it.
    const form = (req.body ?? {}) as Form;
    await keyRowOrBack(req, res, key.id, { revealsGone: KEY_REVEALS.filter((box) => form[box] === key.id) });
  });

  router.post('/api/keys/:id/networks', async (req, res) => {
    const key = await workspaceKey(res, req.params.id);
    const value = text((req.body as Form).allowedCidrs);
    try {
      await setAllowedNetworks(deps, res.locals.change!, key.id, splitCidrList(value));
    } catch (err) {
      if (!(err instanceof AppError) || err.code !== 'validation_failed') throw err;
      const data = await keysData(res, { keyId: key.id, value, error: err.errors?.[0]?.message ?? err.detail });
      if (!isHtmx(req)) return page(req, res, { keys: data }, 400);
      return fragment(res, 'key-row', { ...data, key: data.keys.find((k) => k.id === key.id)! }, 400);
    }
    await keyRowOrBack(req, res, key.id);
  });

  // ---- A key's request log: which integration uses it (a panel under the list, or a page without JS) ----
  router.get('/api/keys/:id/requests', async (req, res) => {
    const key = await workspaceKey(res, req.params.id);
    const before = cursorOf(req.query.before);
    const data = await requestLogData(res, key, before);
    if (isHtmx(req)) return fragment(res, before === undefined ? 'key-log' : 'key-log-rows', data);
    await renderAdminPage(deps, req, res, 'pages/admin/api-key-requests', { title: `Requests with “${key.name}”`, section: 'api', ...data });
  });

  // ---- Webhook endpoints ----
  router.get('/api/webhooks', async (_req, res) => {
    authorize(workspaceOf(res).actor, 'webhooks.read');
    fragment(res, 'webhooks-table', await webhooksData(res));
  });

  router.post('/api/webhooks', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'webhooks.write');
    const form = req.body as Form;
    const values: WebhookFormValues = { url: text(form.url), description: text(form.description), events: list(form.events) };
    let errors: Record<string, string> = {};
    let formError: ReturnType<typeof refusalFor> | undefined;
    const parsed = createWebhookBody.safeParse(values);
    if (!parsed.success) {
      errors = Object.fromEntries(parsed.error.issues.map((i) => [String(i.path[0] ?? 'form'), i.message]));
    } else {
      try {
        const created = await createWebhook(deps, workspace.workspaceId, res.locals.change!, parsed.data);
        const reveal = { kind: 'secret', heading: `Signing secret for ${created.url}`, value: created.secret };
        if (!isHtmx(req)) return await page(req, res, { webhookReveal: reveal });
        res.setHeader('hx-trigger', 'webhooks-changed');
        return fragment(res, 'webhook-form', { ...webhookFormData(res, BLANK_WEBHOOK_FORM), reveal });
      } catch (err) {
        if (!(err instanceof AppError) || err.status >= 500) throw err;
        if (err.errors?.length) errors = fieldErrors(err.errors);
        else formError = refusalFor(res, err.detail);
      }
    }
    const data = { ...webhookFormData(res, values), errors, formError: formError?.text, changePlan: formError?.changePlan };
    if (!isHtmx(req)) return page(req, res, { webhookForm: data }, 400);
    fragment(res, 'webhook-form', data, 400);
  });

  router.post('/api/webhooks/:id/rotate-secret', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'webhooks.write');
    const graceDays = Number(text((req.body as Form).grace));
    if (!GRACE_DAYS.includes(graceDays as (typeof GRACE_DAYS)[number])) {
      refuse('Choose how long the old secret keeps signing: 0 to 7 days.');
    }
    const rotated = await rotateWebhookSecret(deps, workspace.workspaceId, res.locals.change!, req.params.id as string, graceDays * 86_400);
    const reveal = {
      kind: 'secret',
      heading: `New signing secret for ${rotated.url}`,
      value: rotated.secret,
      note: graceDays === 0 ? 'Deliveries are signed with the new secret only.' : `Deliveries carry a second signature with the old secret for ${graceDays} ${graceDays === 1 ? 'day' : 'days'}.`,
    };
    if (!isHtmx(req)) return page(req, res, { webhookReveal: reveal });
    res.setHeader('hx-trigger', 'webhooks-changed');
    fragment(res, 'reveal', { ...reveal, id: 'webhook-reveal' });
  });

  for (const [action, enabled] of [
    ['enable', true],
    ['disable', false],
  ] as const) {
    router.post(`/api/webhooks/:id/${action}`, async (req, res) => {
      const { workspace, actor } = workspaceOf(res);
      authorize(actor, 'webhooks.write');
      await updateWebhook(deps, workspace.workspaceId, res.locals.change!, req.params.id as string, { enabled });
      if (!isHtmx(req)) return redirectTo(req, res, '/admin/api');
      res.setHeader('hx-trigger', 'webhooks-changed');
      res.status(204).end();
    });
  }

  router.post('/api/webhooks/:id/test', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'webhooks.write');
    const id = req.params.id as string;
    let queued: { deliveryId: string } | undefined;
    let problem: string | undefined;
    try {
      queued = await sendTestEvent(deps, workspace.workspaceId, id);
    } catch (err) {
      if (!(err instanceof AppError) || err.status !== 409) throw err;
      problem = err.detail;
    }
    if (!isHtmx(req)) return redirectTo(req, res, `/admin/api/webhooks/${id}`);
    if (problem || !queued) return fragment(res, 'delivery-status', { endpointId: id, problem });
    res.setHeader('hx-trigger', 'deliveries-changed');
    fragment(res, 'delivery-status', { endpointId: id, delivery: await findDelivery(workspace.workspaceId, id, queued.deliveryId) });
  });

  // ---- Deliveries of one endpoint ----
  router.get('/api/webhooks/:id', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'webhooks.read');
    const id = req.params.id as string;
    const endpoint = (await listWebhooksOf(workspace.workspaceId)).find((w) => w.id === id);
    if (!endpoint) throw new AppError(404, 'not_found', 'Not found', `Webhook endpoint ${id} was not found.`);
    const data = await deliveriesData(res, id);
    if (isHtmx(req) && req.query.fragment === 'deliveries') return fragment(res, 'deliveries-table', data);
    await renderAdminPage(deps, req, res, 'pages/admin/api-deliveries', { title: 'Webhook deliveries', section: 'api', endpoint, ...data });
  });

  router.get('/api/webhooks/:id/deliveries/:delivery', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'webhooks.read');
    const id = req.params.id as string;
    const delivery = await findDelivery(workspace.workspaceId, id, req.params.delivery as string);
    // The status chip htmx polls; a person who opens its address gets the endpoint's page instead.
    if (!isHtmx(req)) return redirectTo(req, res, `/admin/api/webhooks/${id}`);
    const poll = Number(req.query.poll);
    fragment(res, 'delivery-status', { endpointId: id, delivery, poll: Number.isInteger(poll) && poll > 0 ? poll : 0 });
  });

  router.post('/api/deliveries/:id/redeliver', async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'webhooks.write');
    const delivery = await redeliver(deps, workspace.workspaceId, req.params.id as string);
    if (!isHtmx(req)) return redirectTo(req, res, `/admin/api/webhooks/${delivery.endpointId}`);
    res.setHeader('hx-trigger', 'deliveries-changed');
    fragment(res, 'delivery-status', { endpointId: delivery.endpointId, delivery });
  });

  // ---- helpers ----

  async function page(req: Request, res: Response, extra: Record<string, unknown> = {}, status = 200) {
    const { actor, workspace } = workspaceOf(res);
    // A page given its own keys data (a form's error) does not read the list again.
    const [keys, webhooks] = await Promise.all(['keys' in extra ? undefined : keysData(res), webhooksData(res)]);
    await renderAdminPage(deps, req, res, 'pages/admin/api', {
      title: 'API & Webhooks',
      section: 'api',
      status,
      workspaceName: workspace.name,
      keyForm: allows(actor, 'keys.manage') ? keyFormData(res, BLANK_KEY_FORM) : undefined,
      keys,
      webhookForm: allows(actor, 'webhooks.write') ? webhookFormData(res, BLANK_WEBHOOK_FORM) : undefined,
      webhooks,
      ...extra,
    });
  }

  function fragment(res: Response, name: string, data: Record<string, unknown>, status = 200) {
    res
      .status(status)
      .type('html')
      .send(deps.views.render(`partials/admin/api/${name}`, { ...data, csrf: workspaceOf(res).session.csrf_token }));
  }

  /** Only a tampered form gets here: the grace period is picked from a list. */
  function refuse(message: string): never {
    throw new AppError(400, 'validation_failed', 'Validation failed', message);
  }

  function keyFormData(res: Response, values: KeyFormValues) {
    return { csrf: workspaceOf(res).session.csrf_token, values, errors: {}, scopes: SCOPES, environments: ENVIRONMENTS, today: isoDate(deps.clock.now()) };
  }

  function webhookFormData(res: Response, values: WebhookFormValues) {
    return { csrf: workspaceOf(res).session.csrf_token, values, errors: {}, eventTypes: EVENT_TYPES };
  }

  async function keysData(res: Response, networksForm?: NetworksFormError) {
    const { workspace, actor, session } = workspaceOf(res);
    const now = deps.clock.now();
    const [members, presented] = await Promise.all([listMembers(deps.db, workspace.workspaceId), listKeys(deps, workspace.workspaceId)]);
    const emails = new Map(members.map((m) => [m.userId, m.email]));
    const keys = presented.map((k) => keyView(k, now, emails));
    return { csrf: session.csrf_token, keys, canManage: allows(actor, 'keys.manage'), graceDays: GRACE_DAYS, defaultGraceDays: DEFAULT_GRACE_DAYS, networksForm };
  }

  /** A page of the key's log, newest first; the first page comes with where the key was used from. */
  async function requestLogData(res: Response, key: PresentedKey, before: number | undefined) {
    const [page, summary] = await Promise.all([
      listKeyRequests(deps.db, key.id, { limit: REQUEST_LOG_PAGE, before }),
      before === undefined ? summariseKeyRequests(deps.db, key.id, deps.clock.now()) : undefined,
    ]);
    const base = `/admin/api/keys/${key.id}/requests`;
    return {
      csrf: workspaceOf(res).session.csrf_token,
      key,
      requests: page.data,
      summary,
      olderPage: before !== undefined,
      moreUrl: page.nextBefore === null ? undefined : `${base}?before=${page.nextBefore}`,
      pageSize: REQUEST_LOG_PAGE,
    };
  }

  async function keyRowOrBack(req: Request, res: Response, id: string, extra: Record<string, unknown> = {}) {
    if (!isHtmx(req)) return redirectTo(req, res, '/admin/api');
    const data = await keysData(res);
    fragment(res, 'key-row', { ...data, key: data.keys.find((k) => k.id === id)!, ...extra });
  }

  /** The key, if it belongs to the current workspace (another workspace's id is a 404). */
  async function workspaceKey(res: Response, id: unknown): Promise<PresentedKey> {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'keys.manage');
    const key = (await listKeys(deps, workspace.workspaceId)).find((k) => k.id === id);
    if (!key) throw new AppError(404, 'not_found', 'Not found', `API key ${String(id)} was not found.`);
    return key;
  }

  async function listWebhooksOf(workspaceId: string) {
    return (await listWebhooks(deps, workspaceId, { limit: 100 })).data;
  }

  async function webhooksData(res: Response) {
    const { workspace, actor, session } = workspaceOf(res);
    const base = { csrf: session.csrf_token, canWrite: allows(actor, 'webhooks.write'), graceDays: GRACE_DAYS, defaultGraceDays: DEFAULT_GRACE_DAYS };
    try {
      return { ...base, webhooks: await listWebhooksOf(workspace.workspaceId), unavailable: undefined };
    } catch (err) {
      // A plan without webhooks: the section says so instead of failing the whole page.
      if (err instanceof AppError && err.code === 'plan_feature_disabled') return { ...base, webhooks: [], unavailable: err.detail };
      throw err;
    }
  }

  async function deliveriesData(res: Response, endpointId: string) {
    const { workspace, actor, session } = workspaceOf(res);
    const deliveries = (await listDeliveries(deps, workspace.workspaceId, endpointId, { limit: DELIVERY_PAGE })).data.map((d) => ({ ...d, bodyPretty: pretty(d.body) }));
    return { csrf: session.csrf_token, endpointId, deliveries, canWrite: allows(actor, 'webhooks.write'), pageSize: DELIVERY_PAGE };
  }

  /** One delivery of an endpoint, by id, among its latest (what Send test and Redeliver follow). */
  async function findDelivery(workspaceId: string, endpointId: string, deliveryId: string) {
    const found = (await listDeliveries(deps, workspaceId, endpointId, { limit: 100 })).data.find((d) => d.id === deliveryId);
    if (!found) throw new AppError(404, 'not_found', 'Not found', `Delivery ${deliveryId} was not found.`);
    return found;
  }
}

/** `?before=` of the request log: the id of the last entry shown. Anything else is a tampered link. */
function cursorOf(value: unknown): number | undefined {
  if (value === undefined) return undefined;
  const n = typeof value === 'string' && /^\d{1,15}$/.test(value) ? Number(value) : 0;
  if (n < 1) throw new AppError(400, 'validation_failed', 'Validation failed', 'The "before" parameter must be the id of a logged request.');
  return n;
}

function validateKeyForm(v: KeyFormValues, now: number): { errors: Record<string, string>; expiresAt: number | null; allowedCidrs: string[] | null } {
  const errors: Record<string, string> = {};
  if (v.name === '') errors.name = 'Give the key a name, such as the system that will use it.';
  else if (v.name.length > 100) errors.name = 'Use at most 100 characters.';
  if (v.environment === '') errors.environment = 'Say where the key is used: production, staging, development, or your own label.';
  else if (v.environment.length > 40) errors.environment = 'Use at most 40 characters.';
  if (v.scopes.length === 0) errors.scopes = 'Tick at least one scope.';
  else if (!v.scopes.every(isScope)) errors.scopes = `Scopes are ${SCOPES.join(', ')}.`;
  let expiresAt: number | null = null;
  if (v.expires !== '') {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(v.expires);
    const at = m ? Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) : Number.NaN;
    if (!m || Number.isNaN(at) || isoDate(at) !== v.expires) errors.expires = 'Enter a date as YYYY-MM-DD.';
    else if (at <= now) errors.expires = 'Choose a date in the future.';
    else expiresAt = at;
  }
  let allowedCidrs: string[] | null = null;
  try {
    allowedCidrs = allowedNetworks(splitCidrList(v.allowedCidrs));
  } catch (err) {
    if (!(err instanceof AppError) || !err.errors?.[0]) throw err;
    errors.allowedCidrs = err.errors[0].message;
  }
  return { errors, expiresAt, allowedCidrs };
}

/** The payload indented for reading (receivers get the compact bytes). */
function pretty(body: string): string {
  try {
    return JSON.stringify(JSON.parse(body), null, 2);
  } catch {
    return body;
  }
}

const isoDate = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/** A key as its row shows it: who made it, when it was last used, whether it looks forgotten. */
function keyView(k: PresentedKey, now: number, emails: Map<string, string>) {
  const lastUsed = k.lastUsedAt ? Date.parse(k.lastUsedAt) : null;
  const created = Date.parse(k.createdAt!);
  const expired = k.expiresAt !== null && Date.parse(k.expiresAt) <= now;
  return {
    ...k,
    scopes: k.scopes as Scope[],
    createdByLabel: k.createdBy === null ? 'command line' : (emails.get(k.createdBy) ?? 'a former member'),
    unused: k.status !== 'revoked' && (lastUsed === null ? now - created >= UNUSED_AFTER_MS : now - lastUsed >= UNUSED_AFTER_MS),
    state: k.status === 'active' && expired ? 'expired' : k.status,
  };
}
