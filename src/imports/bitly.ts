import { CsvColumns, extraCellsProblem, readCsvRecords } from './csv-table.js';
import { checkRowCount, ImportFormatError, type ImportRow } from './import-row.js';
import { isJsonObject, jsonItems, looksLikeJson, NOT_AN_OBJECT, readJson } from './json-document.js';
import { shortUrlParts, splitTagList, text, toImportRow } from './raw-link.js';
import { mapSteps, type Steps } from './steps.js';

/*
 * Bitly (https://bitly.com), read from:
 *
 * - CSV of the web app's Links → Export. Its columns are not documented; two namings are found:
 *   the API's field names (long_url, link, id, custom_bitlinks, title, tags, created_at), as
 *   scripts built on the API write them, and the app's labels, which migration guides name
 *   (Link, Custom Link, Destination URL; URLR/urlr-docs, docs/migration/bitly.md), with Title and
 *   Tags beside them. Both are read, names compared in any case and spacing.
 * - JSON of the API, GET /v4/groups/{group_guid}/bitlinks: {links: [Bitlink], pagination}, or
 *   the `links` array alone (pages joined into one list); a Bitlink has long_url, link
 *   ("https://bit.ly/3xYz"), id ("bit.ly/3xYz"), custom_bitlinks (["https://acme.co/spring"]),
 *   title, tags[], archived, created_at (the fields shlinkio/shlink-importer reads,
 *   src/Sources/Bitly/BitlyApiImporter.php).
 *
 * Mapping: long_url → url; the back-half of the custom link when there is one, else of the link
 * → slug; title; tags; the host of that short link → domain, except Bitly's shared domains
 * (bit.ly, j.mp, bitly.com), which nobody else can serve. Not carried over: clicks, created_at,
 * archived (an archived Bitlink still redirects).
 */

const WHAT_CSV = 'Bitly CSV';
const WHAT_JSON = 'Bitly JSON';
const SHARED_HOSTS = new Set(['bit.ly', 'j.mp', 'bitly.com']);

const COLUMNS = {
  url: ['long_url', 'Destination URL', 'destination', 'Long URL', 'original_url', 'url'],
  custom: ['custom_bitlinks', 'Custom Link', 'custom_link', 'custom_bitlink', 'Custom Bitlink'],
  link: ['link', 'Bitlink', 'Short Link', 'short_url', 'id'],
  title: ['title'],
  tags: ['tags'],
};

export function* parseBitlyExport(data: string, maxRows: number): Steps<ImportRow[]> {
  return looksLikeJson(data) ? yield* parseJson(data, maxRows) : yield* parseCsv(data, maxRows);
}

/** The slug and domain of the short link a Bitlink is known by: its custom one when it has one. */
function backHalf(custom: unknown, link: unknown) {
  // A cell may list several custom links; the first is the one Bitly shows.
  const first = Array.isArray(custom) ? custom[0] : text(custom)?.split(/[\s,|]+/)[0];
  const parts = shortUrlParts(first ?? link);
  return { slug: parts.slug, domain: parts.domain && !SHARED_HOSTS.has(parts.domain) ? parts.domain : undefined };
}

function* parseCsv(data: string, maxRows: number): Steps<ImportRow[]> {
  const [header, ...rows] = yield* readCsvRecords(data, maxRows + 2);
  if (!header) throw new ImportFormatError(`the ${WHAT_CSV} is empty`);
  const columns = new CsvColumns(header.cells);
  if (columns.index(COLUMNS.url) === undefined) {
    throw new ImportFormatError(`the ${WHAT_CSV} has no long_url (or "Destination URL") column; found: ${columns.list()}`);
  }
  checkRowCount(rows.length, maxRows, WHAT_CSV);
  const cell = {
    url: columns.cell(COLUMNS.url),
    custom: columns.cell(COLUMNS.custom),
    link: columns.cell(COLUMNS.link),
    title: columns.cell(COLUMNS.title),
    tags: columns.cell(COLUMNS.tags),
  };
  return yield* mapSteps(rows, (r) => {
    const extra = extraCellsProblem(r, header.cells.length);
    return toImportRow(
      r.line,
      { url: cell.url(r), ...backHalf(cell.custom(r), cell.link(r)), title: cell.title(r), tags: splitTagList(cell.tags(r)) },
      extra ? [extra] : [],
    );
  });
}

function* parseJson(data: string, maxRows: number): Steps<ImportRow[]> {
  const items = jsonItems(
    yield* readJson(data, WHAT_JSON),
    (doc) => (Array.isArray(doc) ? doc : isJsonObject(doc) ? doc.links : undefined),
    WHAT_JSON,
    'expected the response of GET /v4/groups/{group_guid}/bitlinks, {"links": [...]}',
    maxRows,
  );
  return yield* mapSteps(items, (item, i) => {
    if (!isJsonObject(item)) return { line: i + 1, problems: [NOT_AN_OBJECT] };
    return toImportRow(i + 1, {
      url: item.long_url,
      ...backHalf(item.custom_bitlinks, item.link ?? item.id),
      title: item.title,
      tags: Array.isArray(item.tags) ? item.tags : undefined,
    });
  });
}
