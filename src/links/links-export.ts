import { linkCsvHeaderLine, linkToCsvLine } from '../imports/link-csv.js';
import { presentLink } from './link-presenter.js';
import { type LinkFilter, listLinkRows } from './links.repo.js';
import type { LinkDeps } from './links.service.js';

/** Rows read per query: big enough that the queries cost little, small enough to hold. */
const PAGE = 1_000;

/**
 * The workspace's links matching the filters of the list (`q`, `tag`, `status` or `state`) as LinkQR's CSV
 * (src/imports/link-csv.ts: the format `linkqr links import` and POST /api/v1/imports read back),
 * newest first, a page at a time: an export of a million links holds a thousand.
 */
export async function* linksCsv(deps: Pick<LinkDeps, 'db' | 'baseUrl'>, workspaceId: string, filter: Pick<LinkFilter, 'q' | 'tag' | 'status' | 'state'>, bom = false) {
  yield `${bom ? '\uFEFF' : ''}${linkCsvHeaderLine()}`;
  let after: string | undefined;
  for (;;) {
    const rows = await listLinkRows(deps.db, { workspaceId, ...filter, after, limit: PAGE });
    yield rows.map((r) => linkToCsvLine(presentLink(r, deps.baseUrl()))).join('');
    if (rows.length < PAGE) return;
    after = rows[rows.length - 1]!.id;
  }
}
