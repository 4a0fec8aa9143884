import { createWriteStream, readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { systemClock } from '../lib/clock.js';
import { errors } from '../lib/errors.js';
import { IMPORT_FORMATS, type ImportFormat } from '../imports/parse-import.js';
import { IMPORT_LEASE_MS, type ImportDeps, listImportRows, processImport, startImport } from '../imports/imports.service.js';
import { linksCsv } from '../links/links-export.js';
import { requireWorkspace } from '../workspaces/workspaces.service.js';
import { type CommandContext, operatorContext, serverBaseUrl, stringOption } from './command.js';
import { printRows } from './output.js';
import { withStore } from './with-store.js';


/** `linkqr links export --workspace W [--out F]`: LinkQR's CSV, streamed (stdout by default). */
export async function linksExport(ctx: CommandContext) {
  const name = stringOption(ctx, 'workspace')!;
  const out = stringOption(ctx, 'out');
  await withStore(ctx, async (store) => {
    const workspace = await requireWorkspace(store, name);
    const lines = Readable.from(linksCsv({ db: store.db, baseUrl: () => serverBaseUrl(ctx.config) }, workspace.id, {}));
    try {
      await pipeline(lines, out === undefined ? process.stdout : createWriteStream(out, { flags: 'wx' }), { end: out !== undefined });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw errors.usage(`${out} exists already: choose another --out (an export never replaces a file)`);
      throw e;
    }
  });
}

/**
 * `linkqr links import --workspace W --format F FILE [--dry-run] [--domain D]`: the import the API
 * runs as a job, run here to its end, then what happened to the rows that were not imported.
 */
export async function linksImport(ctx: CommandContext) {
  const name = stringOption(ctx, 'workspace')!;
  const format = stringOption(ctx, 'format')!;
  if (!(IMPORT_FORMATS as readonly string[]).includes(format)) throw errors.usage(`--format must be one of ${IMPORT_FORMATS.join(', ')}`);
  const file = ctx.positionals[0]!;
  let data: string;
  try {
    data = readFileSync(file, 'utf8');
  } catch (e) {
    throw errors.usage(`cannot read ${file}: ${(e as Error).message}`);
  }
  const domain = stringOption(ctx, 'domain');
  return withStore(ctx, async (store) => {
    const workspace = await requireWorkspace(store, name);
    const deps: ImportDeps = { db: store.db, clock: systemClock, baseUrl: () => serverBaseUrl(ctx.config), importsChanged: () => {}, outboxChanged: () => {} };
    const started = await startImport(deps, workspace.id, operatorContext(), {
      format: format as ImportFormat,
      data,
      dryRun: ctx.options['dry-run'] === true,
      ...(domain === undefined ? {} : { domain }),
    });
    // Claimed at once, so a running server's import runner leaves it to this process.
    const now = systemClock.now();
    await store.db.exec("update imports set status = 'running', lease_until = ? where id = ? and status = 'queued'", now + IMPORT_LEASE_MS, started.id);
    const job = (await store.db.first(store.db.q.selectFrom('imports').selectAll().where('id', '=', started.id)))!;
    await processImport(deps, job);
    const done = (await store.db.first(store.db.q.selectFrom('imports').selectAll().where('id', '=', started.id)))!;
    const skipped: Record<string, unknown>[] = [];
    for (const outcome of ['invalid', 'conflict', 'over_limit'] as const) {
      let after: string | undefined;
      do {
        const page = await listImportRows({ db: store.db }, workspace.id, started.id, { limit: 100, outcome, ...(after ? { after } : {}) });
        for (const r of page.data) skipped.push({ line: r.line, outcome: r.outcome, slug: r.slug, problems: r.problems.map((p) => `${p.field}: ${p.message}`).join('; ') });
        after = page.nextCursor ?? undefined;
      } while (after);
    }
    if (ctx.options.json) {
      printRows([{ id: done.id, status: done.status, dryRun: done.dry_run === 1, total: Number(done.total), created: Number(done.created), skipped: Number(done.skipped), error: done.error }], true);
      printRows(skipped, true);
    } else {
      if (done.status === 'failed') {
        process.stderr.write(`linkqr: the import failed: ${done.error}\n`);
        return 1;
      }
      const verb = done.dry_run === 1 ? 'Would create' : 'Created';
      const count = (n: number, what: string) => `${n.toLocaleString('en-US')} ${what}${n === 1 ? '' : 's'}`;
      process.stdout.write(`${verb} ${Number(done.created).toLocaleString('en-US')} of ${count(Number(done.total), 'link')}; ${count(Number(done.skipped), 'row')} skipped (import ${done.id}).\n`);
      if (skipped.length > 0) printRows(skipped.sort((a, b) => Number(a.line) - Number(b.line)), false);
    }
    return done.status === 'failed' ? 1 : 0;
  });
}
