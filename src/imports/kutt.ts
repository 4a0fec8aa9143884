import { ImportFormatError, type ImportProblem, type ImportRow } from './import-row.js';
import { isJsonObject, jsonItems, looksLikeJson, NOT_AN_OBJECT, readJson } from './json-document.js';
import { shortUrlParts, toImportRow } from './raw-link.js';
import { mapSteps, type Steps } from './steps.js';

/*
 * Kutt (https://kutt.it) has no export file (v3, thedevs-network/kutt: no export route or view),
 * so the source is its API's list of links, GET /api/v2/links (server/handlers/links.handler.js
 * `get`): {total, limit, skip, data: [link]}, or the `data` array alone (pages joined into one
 * list). A link (server/utils/utils.js `sanitize.link`, server/queries/link.queries.js): id,
 * address, target, description, expire_in, visit_count, password (a boolean there), banned,
 * domain (a custom domain's host, null for the default one), link (the short URL, in v2 too:
 * server/utils/index.ts `generateShortLink`), created_at.
 *
 * Mapping: target → url, address → slug, description → title, expire_in → expiresAt (on SQLite
 * Kutt writes `2030-01-31 12:00:00` in UTC, which is how it is read), domain (or the host of
 * `link`) → domain. A password-protected or banned link is reported instead of being made an
 * open redirect. Not carried over: visit_count, created_at.
 */

const WHAT = 'Kutt JSON';

export function* parseKuttExport(text: string, maxRows: number): Steps<ImportRow[]> {
  // trim() takes a byte order mark for white space.
  if (!looksLikeJson(text) && text.trim() !== '') {
    throw new ImportFormatError(
      'Kutt has no CSV export: send the JSON of its API, GET /api/v2/links (or choose the csv format for a CSV with a url column)',
    );
  }
  const items = jsonItems(
    yield* readJson(text, WHAT),
    (doc) => (Array.isArray(doc) ? doc : isJsonObject(doc) ? doc.data : undefined),
    WHAT,
    'expected the response of GET /api/v2/links, {"data": [...]}',
    maxRows,
  );
  return yield* mapSteps(items, (item, i) => {
    if (!isJsonObject(item)) return { line: i + 1, problems: [NOT_AN_OBJECT] };
    const problems: ImportProblem[] = [];
    if (item.password === true) {
      problems.push({ field: 'password', message: 'is set in Kutt, whose exports do not carry it: import the link without it, then set a password in LinkQR' });
    }
    if (item.banned === true) problems.push({ field: 'banned', message: 'the link is banned in Kutt' });
    const parts = shortUrlParts(item.link);
    return toImportRow(
      i + 1,
      {
        url: item.target,
        slug: item.address ?? parts.slug,
        title: item.description,
        expiresAt: item.expire_in,
        domain: item.domain ?? parts.domain,
      },
      problems,
    );
  });
}
