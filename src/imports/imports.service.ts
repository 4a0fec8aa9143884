import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import * as z from 'zod';
import { type ChangeContext, recordAudit } from '../audit/audit.js';
import { isUniqueViolation, type Db, type Queries } from '../db/db.js';
import { jsonValuesParam } from '../db/dialect-sql.js';
import type { ImportJobRow, ImportOutcome } from '../db/schema.js';
import { findWorkspaceDomainForLinks } from '../domains/domains.repo.js';
import { type Clock, toIso } from '../lib/clock.js';
import { AppError, errors, type FieldError } from '../lib/errors.js';
import { newId } from '../lib/ids.js';
import { cursorParam, limitParam } from '../lib/pagination.js';
import { baseHostname, presentLink } from '../links/link-presenter.js';
import { insertLink } from '../links/links.repo.js';
import { createLinkBody } from '../links/links.schema.js';
import { domainColumn, newLinkRow } from '../links/links.service.js';
import { randomSlug } from '../links/slugs.js';
import { enqueueEvent } from '../outbox/events.js';
import { planOfWorkspace } from '../workspaces/plans.js';
import type { ImportedLink, ImportRow } from './import-row.js';
import { IMPORT_FORMATS, type ImportFormat, parseImportInSlices } from './parse-import.js';
import { ImportFormatError } from './import-row.js';
import { deleteImportFile, readImportFile, saveImportFile, takeImportFile } from './import-files.js';

export interface ImportDeps {
  db: Db;
  clock: Clock;
  baseUrl(): string;
  /** After a commit that queued an import: the runner starts it now rather than at its next poll. */
  importsChanged(): void;
  /** After a chunk committed links with events to deliver. */
  outboxChanged(): void;
}

/** The largest source a request may carry: 100,000 rows of a wide export, with room. */
export const MAX_IMPORT_BYTES = 64 * 1024 * 1024;
/** Imports a workspace may have waiting or running at once: one workspace cannot fill the queue every workspace shares. */
export const MAX_UNFINISHED_IMPORTS = 3;
/** How long a dry run keeps its file, to be run for real. */
export const DRY_RUN_KEPT_MS = 24 * 3_600_000;
/** Rows of the report in an import's JSON: the first that were not imported. */
const PROBLEMS_SHOWN = 100;

/** Rows per transaction: big enough that a 100,000-row import is 200 commits, small enough to keep the writer lock short. */
const CHUNK = 500;
/** How long a runner holds an import between two chunks; another instance takes it over after that. */
export const IMPORT_LEASE_MS = 60_000;

export const IMPORT_ID_PATTERN = /^imp_[0-9A-Za-z]{20}$/;

/** A route's :id as an import id; anything else is an import that does not exist (404). */
export function importIdOf(raw: string | string[] | undefined): string {
  if (typeof raw !== 'string' || !IMPORT_ID_PATTERN.test(raw)) throw errors.notFound(`Import ${String(raw)}`);
  return raw;
}

/** POST /api/v1/imports. */
export const createImportBody = z.strictObject({
  format: z.enum(IMPORT_FORMATS, { message: `must be one of ${IMPORT_FORMATS.join(', ')}` }).meta({
    description: 'csv: LinkQR\'s own export, or any CSV with a URL column; bitly, shlink, kutt, yourls: their exports (CSV or JSON, as the README lists)',
  }),
  data: z
    .string()
    .min(1, 'must not be empty')
    .max(MAX_IMPORT_BYTES, `must be at most ${MAX_IMPORT_BYTES / 1024 / 1024} MB of text; split the file`)
    .meta({ description: "The file's text, as exported" }),
  dryRun: z.boolean({ message: 'must be true or false' }).optional().meta({ description: 'Only check: report what would be created and every problem, create nothing' }),
  domain: z.string().max(253).trim().optional().meta({ description: "Put every link on this domain (default: each row's own, else this server's host)" }),
});
export type CreateImportInput = z.output<typeof createImportBody>;

export const listImportRowsQuery = z.strictObject({
  limit: limitParam,
  after: cursorParam(/^\d{1,9}$/).optional(),
  outcome: z.enum(['created', 'would_create', 'invalid', 'conflict', 'over_limit']).optional().meta({ description: 'Only rows with this outcome' }),
});
export type ListImportRowsQuery = z.output<typeof listImportRowsQuery>;

/** Import JSON. */
export function presentImport(row: ImportJobRow) {
  return {
    id: row.id,
    format: row.format,
    dryRun: row.dry_run === 1,
    domain: row.domain,
    status: row.status,
    total: Number(row.total),
    processed: Number(row.processed),
    created: Number(row.created),
    skipped: Number(row.skipped),
    error: row.error,
    createdAt: toIso(row.created_at)!,
    finishedAt: toIso(row.finished_at),
  };
}
export type ImportJob = ReturnType<typeof presentImport>;

const notFound = (id: string) => errors.notFound(`Import ${id}`);

/** Queues an import of `input.data`; the runner (src/imports/import-runner.ts) reads and writes it in chunks. */
export async function startImport(deps: ImportDeps, workspaceId: string, ctx: ChangeContext, input: CreateImportInput) {
  // A domain the workspace does not have is refused now, not row by row later.
  const domain = input.domain === undefined ? null : await domainColumn(deps.db, deps.baseUrl(), workspaceId, input.domain);
  const now = deps.clock.now();
  const row: ImportJobRow = {
    id: newId('imp', now),
    workspace_id: workspaceId,
    format: input.format,
    dry_run: input.dryRun ? 1 : 0,
    domain: input.domain === undefined ? null : domain,
    status: 'queued',
    total: 0,
    processed: 0,
    created: 0,
    skipped: 0,
    error: null,
    lease_until: null,
    created_by_user_id: ctx.actor.type === 'user' ? ctx.actor.id : null,
    created_by_key_id: ctx.actor.type === 'key' ? ctx.actor.id : null,
    created_at: now,
    updated_at: now,
    finished_at: null,
  };
  await deps.db.write(async (t) => {
    // Counted in the write transaction, so concurrent requests cannot both pass.
    const unfinished = await t.row<{ n: number }>("select count(*) as n from imports where workspace_id = ? and status in ('queued', 'running')", workspaceId);
    if (Number(unfinished!.n) >= MAX_UNFINISHED_IMPORTS) {
      throw errors.conflict('imports_in_progress', `This workspace has ${MAX_UNFINISHED_IMPORTS} imports waiting or running; start another when one has finished.`);
    }
    await t.run(t.q.insertInto('imports').values(row));
    await saveImportFile(t, row.id, input.data);
  });
  deps.importsChanged();
  return { ...presentImport(row), problems: [] };
}

/** The same source again, for real: what "Import these links" does after a dry run. */
export async function runDryRun(deps: ImportDeps, workspaceId: string, ctx: ChangeContext, dryRunId: string) {
  const dry = await findImport(deps.db, workspaceId, dryRunId);
  if (!dry) throw notFound(dryRunId);
  if (dry.dry_run !== 1 || dry.status !== 'done') throw errors.conflict('import_not_runnable', 'Only a finished check can be imported.');
  // Taken from the check in one step: a second click (or a second tab) finds it gone. Past its
  // 24 hours it is not run even if the hourly retention job has not deleted it yet.
  const expired = dry.finished_at !== null && deps.clock.now() - dry.finished_at > DRY_RUN_KEPT_MS;
  const data = expired ? undefined : await deps.db.write((t) => takeImportFile(t, dry.id));
  if (data === undefined) throw errors.conflict('import_not_runnable', 'This check was imported already, or its file is no longer kept (24 hours): check the file again.');
  return startImport(deps, workspaceId, ctx, {
    format: dry.format as ImportFormat,
    data,
    dryRun: false,
    ...(dry.domain === null ? {} : { domain: dry.domain === '' ? baseHostname(deps.baseUrl()) : dry.domain }),
  });
}

const findImport = (db: Queries, workspaceId: string, id: string) =>
  db.first(db.q.selectFrom('imports').selectAll().where('workspace_id', '=', workspaceId).where('id', '=', id));

/** An import with the first rows it did not import (all of them: GET …/rows). */
export async function getImport(deps: Pick<ImportDeps, 'db'>, workspaceId: string, id: string) {
  const row = await findImport(deps.db, workspaceId, id);
  if (!row) throw notFound(id);
  const problems = await deps.db.rows<{ line: number; outcome: ImportOutcome; slug: string | null; problems: string }>(
    `select line, outcome, slug, problems from import_rows where import_id = ? and outcome in ('invalid', 'conflict', 'over_limit') order by line limit ${PROBLEMS_SHOWN}`,
    id,
  );
  return {
    ...presentImport(row),
    problems: problems.map((p) => ({ line: Number(p.line), outcome: p.outcome, slug: p.slug, problems: JSON.parse(p.problems) as FieldError[] })),
  };
}

export async function listImports(deps: Pick<ImportDeps, 'db'>, workspaceId: string, limit: number): Promise<ImportJob[]> {
  const rows = await deps.db.all(deps.db.q.selectFrom('imports').selectAll().where('workspace_id', '=', workspaceId).orderBy('id', 'desc').limit(limit));
  return rows.map(presentImport);
}

/** An import's per-row report, in source order, a page at a time. */
export async function listImportRows(deps: Pick<ImportDeps, 'db'>, workspaceId: string, id: string, query: ListImportRowsQuery) {
  if (!(await findImport(deps.db, workspaceId, id))) throw notFound(id);
  let q = deps.db.q.selectFrom('import_rows').selectAll().where('import_id', '=', id);
  if (query.after !== undefined) q = q.where('line', '>', Number(query.after));
  if (query.outcome) q = q.where('outcome', '=', query.outcome);
  const rows = await deps.db.all(q.orderBy('line').limit(query.limit + 1));
  const page = rows.slice(0, query.limit);
  return {
    data: page.map((r) => ({ line: Number(r.line), outcome: r.outcome, linkId: r.link_id, slug: r.slug, problems: JSON.parse(r.problems) as FieldError[] })),
    nextCursor: rows.length > query.limit ? String(page[page.length - 1]!.line) : null,
  };
}

/** Who started the import, as its changes record it. */
function contextOf(job: ImportJobRow): ChangeContext {
  const actor = job.created_by_key_id
    ? { type: 'key' as const, id: job.created_by_key_id, workspaceId: job.workspace_id, scopes: [] }
    : job.created_by_user_id
      ? { type: 'user' as const, id: job.created_by_user_id, workspaceId: job.workspace_id, role: 'member' as const, instanceAdmin: false }
      : { type: 'operator' as const, id: 'cli:import' };
  return { actor, ip: null };
}

interface RowResult {
  line: number;
  outcome: ImportOutcome;
  linkId: string | null;
  slug: string | null;
  problems: FieldError[];
}

/**
 * Runs a claimed import from where it stopped: reads the source (the same way every time, so
 * `processed` is a position in it), then a chunk per transaction: each row checked (the link
 * schema, its domain, its slug against the links that exist, the plan's link limit) and, unless
 * it is a dry run, created with its link.created event. `renew` is called between chunks (the
 * lease). Never throws for a bad source, nor for its domain gone meanwhile: the import fails
 * with a message.
 */
export async function processImport(deps: ImportDeps, job: ImportJobRow, renew: () => Promise<void> = async () => {}): Promise<void> {
  let rows: ImportRow[];
  try {
    // In slices: the file takes about a second per 100,000 rows to read, and redirects go on meanwhile.
    rows = (await parseImportInSlices(job.format as ImportFormat, (await readImportFile(deps.db, job.id)) ?? '')).rows;
  } catch (e) {
    if (!(e instanceof ImportFormatError)) throw e;
    await finish(deps, job, 'failed', e.message);
    return;
  }
  await deps.db.exec('update imports set total = ?, updated_at = ? where id = ?', rows.length, deps.clock.now(), job.id);
  const ctx = contextOf(job);
  for (let from = Number(job.processed); from < rows.length; from += CHUNK) {
    const chunk = rows.slice(from, from + CHUNK);
    const written = await writeChunk(deps, job, ctx, chunk, from + chunk.length);
    if (written === DOMAIN_GONE) {
      await finish(deps, job, 'failed', `the domain ${job.domain} was removed from this workspace while the import ran (deleted, or released by an operator): the import stopped, and put no link on that name after`);
      return;
    }
    if (written.created > 0) deps.outboxChanged();
    await renew();
    // Other requests (redirects above all) run between two chunks.
    await yieldToEventLoop();
  }
  await finish(deps, job, 'done', null);
}

async function finish(deps: ImportDeps, job: ImportJobRow, status: 'done' | 'failed', error: string | null) {
  const now = deps.clock.now();
  await deps.db.write(async (t) => {
    await t.exec('update imports set status = ?, error = ?, finished_at = ?, updated_at = ?, lease_until = null where id = ?', status, error, now, now, job.id);
    // A real import's source goes once read: a finished dry run keeps it, to be run for real.
    if (job.dry_run === 0 || status === 'failed') await deleteImportFile(t, job.id);
    const done = (await t.row<{ created: number; skipped: number; total: number }>('select created, skipped, total from imports where id = ?', job.id))!;
    if (job.dry_run === 0) {
      await recordAudit(t, contextOf(job), {
        workspaceId: job.workspace_id, action: 'links.import', targetType: 'import', targetId: job.id,
        summary: { format: job.format, status, rows: Number(done.total), created: Number(done.created), skipped: Number(done.skipped), ...(error ? { error } : {}) },
        at: now,
      });
    }
  });
}

/** What a chunk returns, having written nothing, when the import's domain is no longer the workspace's. */
const DOMAIN_GONE = Symbol('domain gone');

/** The checks and writes of one chunk, in one transaction (retried once if a concurrent link took a slug meanwhile). */
async function writeChunk(deps: ImportDeps, job: ImportJobRow, ctx: ChangeContext, chunk: ImportRow[], processedAfter: number): Promise<{ created: number } | typeof DOMAIN_GONE> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await deps.db.write((t) => checkAndWrite(t, deps, job, ctx, chunk, processedAfter));
    } catch (e) {
      if (!isUniqueViolation(e) || attempt === 2) throw e;
    }
  }
}

async function checkAndWrite(t: Queries, deps: ImportDeps, job: ImportJobRow, ctx: ChangeContext, chunk: ImportRow[], processedAfter: number) {
  // The import's domain was checked when it was queued; the workspace may have deleted it since,
  // or an operator released it, and links put on it now would redirect for whoever verifies the
  // name next. So each chunk checks again, in its transaction: on PostgreSQL the row stays locked
  // (shared) until the chunk commits, so a delete or a release waits for it (SQLite's
  // transactions run one at a time already).
  if (job.domain !== null && job.domain !== '' && !(await findWorkspaceDomainForLinks(t, job.workspace_id, job.domain))) return DOMAIN_GONE;
  const now = deps.clock.now();
  const baseUrl = deps.baseUrl();
  const dryRun = job.dry_run === 1;
  const results: RowResult[] = [];
  const domains = new Map<string, string | FieldError>();
  const domainOf = async (sent: string | undefined): Promise<string | FieldError> => {
    if (job.domain !== null) return job.domain;
    if (sent === undefined) return '';
    let known = domains.get(sent);
    if (known === undefined) {
      try {
        known = await domainColumn(t, baseUrl, job.workspace_id, sent);
      } catch (e) {
        if (!(e instanceof AppError) || !e.errors?.[0]) throw e;
        known = { field: 'domain', message: `${sent} ${e.errors[0].message}` };
      }
      domains.set(sent, known);
    }
    return known;
  };

  // First the rows that can be links: valid by the link schema, on a domain of the workspace.
  const candidates: { line: number; input: z.output<typeof createLinkBody>; status: ImportedLink['status']; domain: string }[] = [];
  for (const row of chunk) {
    if (!row.input || row.problems.length > 0) {
      results.push({ line: row.line, outcome: 'invalid', linkId: null, slug: row.input?.slug ?? null, problems: row.problems });
      continue;
    }
    const { status, domain: sentDomain, ...fields } = row.input;
    const parsed = createLinkBody.safeParse(fields);
    const problems: FieldError[] = parsed.success ? [] : parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'row', message: i.message }));
    if (parsed.success && parsed.data.expiresAt != null && parsed.data.expiresAt <= now) problems.push({ field: 'expiresAt', message: 'is in the past' });
    const domain = await domainOf(sentDomain);
    if (typeof domain !== 'string') problems.push(domain);
    if (!parsed.success || problems.length > 0 || typeof domain !== 'string') {
      results.push({ line: row.line, outcome: 'invalid', linkId: null, slug: fields.slug ?? null, problems });
      continue;
    }
    candidates.push({ line: row.line, input: parsed.data, status, domain });
  }

  // Slugs: the ones asked for must be free on their domain; the random ones are drawn until they are.
  const taken = await takenSlugs(t, candidates.map((c) => ({ domain: c.domain, slug: c.input.slug })).filter((c): c is { domain: string; slug: string } => c.slug !== undefined));
  const random = new Map<number, string>();
  for (let draw = 0; draw < 5; draw++) {
    const drawn = candidates.filter((c) => c.input.slug === undefined && (draw === 0 || taken.has(`${c.domain}/${random.get(c.line)}`)));
    if (drawn.length === 0) break;
    for (const c of drawn) random.set(c.line, randomSlug());
    for (const key of await takenSlugs(t, drawn.map((c) => ({ domain: c.domain, slug: random.get(c.line)! })))) taken.add(key);
  }

  // The plan's link limit, counted in this transaction (the workspace's creates take turns on it).
  const plan = await planOfWorkspace(t, job.workspace_id);
  const max = plan.limits.links;
  let room = Infinity;
  if (max !== undefined) {
    // As requireWithinPlanLimit does: the workspace's creates take turns on PostgreSQL while it counts.
    if (t.dialect === 'postgres') await t.row('select 1 from workspaces where id = ? for no key update', job.workspace_id);
    const existing = Number((await t.row<{ n: number }>('select count(*) as n from links where workspace_id = ?', job.workspace_id))!.n);
    // A dry run creates nothing: the links it would have made so far count too.
    const wouldBe = dryRun ? Number((await t.row<{ created: number }>('select created from imports where id = ?', job.id))!.created) : 0;
    room = max - existing - wouldBe;
  }

  let created = 0;
  for (const c of candidates) {
    const slug = c.input.slug ?? random.get(c.line)!;
    if (taken.has(`${c.domain}/${slug}`)) {
      const where = c.domain === '' ? baseHostname(baseUrl) : c.domain;
      results.push({ line: c.line, outcome: 'conflict', linkId: null, slug, problems: [{ field: 'slug', message: `is already in use on ${where}` }] });
      continue;
    }
    if (room <= 0) {
      results.push({ line: c.line, outcome: 'over_limit', linkId: null, slug, problems: [{ field: 'row', message: `the "${plan.name}" plan allows ${max} links` }] });
      continue;
    }
    room--;
    taken.add(`${c.domain}/${slug}`);
    if (dryRun) {
      results.push({ line: c.line, outcome: 'would_create', linkId: null, slug, problems: [] });
      created++;
      continue;
    }
    const row = newLinkRow(job.workspace_id, ctx, { ...c.input, slug }, now, c.domain);
    if (c.status === 'disabled') row.status = 'disabled';
    await insertLink(t, row);
    await enqueueEvent(t, { workspaceId: job.workspace_id, type: 'link.created', data: presentLink(row, baseUrl), at: now });
    results.push({ line: c.line, outcome: 'created', linkId: row.id, slug, problems: [] });
    created++;
  }

  for (const r of results) {
    await t.exec(
      'insert into import_rows (import_id, line, outcome, link_id, slug, problems) values (?, ?, ?, ?, ?, ?)',
      job.id, r.line, r.outcome, r.linkId, r.slug, JSON.stringify(r.problems),
    );
  }
  await t.exec(
    `update imports set processed = ?, created = created + ?, skipped = skipped + ?, updated_at = ?, lease_until = ? where id = ?`,
    processedAfter, created, results.length - created, now, now + IMPORT_LEASE_MS, job.id,
  );
  return { created };
}

/** Which of these (domain, slug) pairs a link has already, as `domain/slug` keys. */
async function takenSlugs(t: Queries, pairs: { domain: string; slug: string }[]): Promise<Set<string>> {
  const out = new Set<string>();
  const byDomain = new Map<string, string[]>();
  for (const p of pairs) byDomain.set(p.domain, [...(byDomain.get(p.domain) ?? []), p.slug]);
  for (const [domain, slugs] of byDomain) {
    const rows = await t.rows<{ slug: string }>(
      `select slug from links where domain = ? and slug in (select value from ${jsonValuesParam(t.dialect)})`,
      domain, JSON.stringify(slugs),
    );
    for (const r of rows) out.add(`${domain}/${r.slug}`);
  }
  return out;
}
