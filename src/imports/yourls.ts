import { CsvColumns, extraCellsProblem, readCsvRecords, type CsvRecord } from './csv-table.js';
import { checkRowCount, ImportFormatError, type ImportRow } from './import-row.js';
import { at, isJsonObject, jsonItems, looksLikeJson, NOT_AN_OBJECT, readJson } from './json-document.js';
import { shortUrlParts, toImportRow, type RawLink } from './raw-link.js';
import { mapSteps, type Steps } from './steps.js';

/*
 * YOURLS (https://yourls.org) has no export of its own; these are the ways people get one:
 *
 * - JSON of its API, yourls-api.php?action=stats&filter=last&limit=N&format=json
 *   (YOURLS/YOURLS includes/functions.php `yourls_get_stats`): {links: {link_1: {shorturl, url,
 *   title, timestamp, ip, clicks}, link_2: …}, stats, …}; action=url-stats gives {link: {…}}.
 * - JSON of the shlink-import plugin's action=shlink-list (acelaya/yourls-shlink-import-plugin,
 *   plugin.php): {result: [{keyword, url, title, timestamp, ip, clicks}]}.
 * - JSON of the yourls_url table exported by phpMyAdmin: [{type: "header"}, …, {type: "table",
 *   name: "yourls_url", data: [{keyword, url, …}]}], or a plain array of such rows.
 * - CSV of that table (keyword, url, title, timestamp, ip, clicks), with its header, or without
 *   it in the table's column order (phpMyAdmin's default), and the CSV of the YOURLS-Import-Export
 *   plugin (GautamGupta/YOURLS-Import-Export, fileio/csv.php): source (/keyword/), target, hits.
 *
 * Mapping: url → url, keyword (or the last segment of shorturl) → slug, title, the host of shorturl
 * → domain. YOURLS keywords may be up to 199 characters of any charset the site allows: those
 * outside LinkQR's slug rule are reported. Not carried over: timestamp, ip, clicks.
 */

const WHAT_CSV = 'YOURLS CSV';
const WHAT_JSON = 'YOURLS JSON';
/** The columns of the yourls_url table, in order: a CSV without header has them so. */
const TABLE_COLUMNS = ['keyword', 'url', 'title', 'timestamp', 'ip', 'clicks'];

export function* parseYourlsExport(text: string, maxRows: number): Steps<ImportRow[]> {
  return looksLikeJson(text) ? yield* parseJson(text, maxRows) : yield* parseCsv(text, maxRows);
}

function* parseCsv(text: string, maxRows: number): Steps<ImportRow[]> {
  const records = yield* readCsvRecords(text, maxRows + 2);
  const [first] = records;
  if (!first) throw new ImportFormatError(`the ${WHAT_CSV} is empty`);
  let columns = new CsvColumns(first.cells);
  let rows: CsvRecord[] = records.slice(1);
  if (columns.index(['url', 'target']) === undefined) {
    if (!/^\s*https?:\/\//i.test(first.cells[1] ?? '')) {
      throw new ImportFormatError(`the ${WHAT_CSV} has no url column; found: ${columns.list()}`);
    }
    // No header: a table dump, keyword first and URL second.
    columns = new CsvColumns(TABLE_COLUMNS);
    rows = records;
  }
  checkRowCount(rows.length, maxRows, WHAT_CSV);
  const url = columns.cell(['url', 'target']);
  const keyword = columns.cell(['keyword', 'source', 'shortCode', 'slug']);
  const shortUrl = columns.cell(['shorturl']);
  const title = columns.cell(['title']);
  return yield* mapSteps(rows, (r) => {
    const parts = shortUrlParts(shortUrl(r), { lastSegment: true });
    const extra = extraCellsProblem(r, columns.header.length);
    return toImportRow(
      r.line,
      // The plugin's `source` is written /keyword/.
      { url: url(r), slug: keyword(r)?.replace(/^\s*\/+|\/+\s*$/g, '') || parts.slug, title: title(r), domain: parts.domain },
      extra ? [extra] : [],
    );
  });
}

/** The list of links in any of the JSON shapes above. */
function* linksOf(doc: unknown): Steps<unknown> {
  if (Array.isArray(doc)) {
    const table = doc.find((entry) => isJsonObject(entry) && entry.type === 'table' && Array.isArray(entry.data));
    return table ? at(table, 'data') : doc;
  }
  if (!isJsonObject(doc)) return undefined;
  if (Array.isArray(doc.result)) return doc.result;
  // yourls_get_stats leaves `links` out when there are none, but always sends `stats`.
  if (doc.links === undefined && isJsonObject(doc.stats)) return [];
  if (isJsonObject(doc.link)) return [doc.link];
  // PHP's json_encode writes the link_1, link_2… array as an object; JSON.parse keeps its order.
  if (isJsonObject(doc.links)) {
    const links = doc.links;
    // Object.values, a link at a time: at once it takes 70 ms for 100,000 links (Object.keys 30).
    return yield* mapSteps(Object.keys(links), (key) => links[key]);
  }
  return doc.links;
}

function* parseJson(text: string, maxRows: number): Steps<ImportRow[]> {
  const links = yield* linksOf(yield* readJson(text, WHAT_JSON));
  const items = jsonItems(
    links,
    (list) => list,
    WHAT_JSON,
    'expected the response of yourls-api.php?action=stats&format=json, {"links": {"link_1": {...}}}',
    maxRows,
  );
  return yield* mapSteps(items, (item, i) => {
    if (!isJsonObject(item)) return { line: i + 1, problems: [NOT_AN_OBJECT] };
    const parts = shortUrlParts(item.shorturl, { lastSegment: true });
    const raw: RawLink = { url: item.url, slug: item.keyword ?? parts.slug, title: item.title, domain: parts.domain };
    return toImportRow(i + 1, raw);
  });
}
