import { CsvColumns, extraCellsProblem, readCsvRecords } from './csv-table.js';
import { checkRowCount, ImportFormatError, type ImportRow } from './import-row.js';
import { at, isJsonObject, jsonItems, looksLikeJson, NOT_AN_OBJECT, readJson } from './json-document.js';
import { shortUrlParts, splitTagList, toImportRow } from './raw-link.js';
import { mapSteps, type Steps } from './steps.js';

/*
 * Shlink (https://shlink.io), read from either of its exports:
 *
 * - CSV, the "Export" button of the short URL list in shlink-web-client (file short_urls.csv).
 *   Since April 2023 (shlinkio/shlink-web-component, src/short-urls/helpers/ExportShortUrlsBtn.tsx):
 *   createdAt, domain, shortCode, shortUrl, longUrl, title, tags (joined by "|"), visits; domain is
 *   the short URL's host name even for the default domain. From March 2022 to then
 *   (shlinkio/shlink-web-client, same path): createdAt, shortUrl, longUrl, title, tags (joined by
 *   ","), visits. Also read: the CSV shlink-importer takes (`Long URL`, `Short code`, `Domain`,
 *   `Title`, `Tags` by "|" or ","; shlinkio/shlink-importer, src/Sources/Csv/CsvImporter.php).
 * - JSON, the REST API's list of short URLs (GET /rest/v3/short-urls, shlinkio/shlink
 *   docs/swagger/paths/v1_short-urls.json): {shortUrls: {data: [ShortUrl], pagination}}, or the
 *   `data` array alone (pages joined into one list). ShortUrl (docs/swagger/definitions/ShortUrl.json):
 *   shortCode, shortUrl, longUrl (`originalUrl` before Shlink 2), dateCreated, tags[], title,
 *   domain (null: the default domain), forwardQuery, meta {validSince, validUntil, maxVisits}.
 *
 * Mapping: longUrl → url, shortCode → slug (Shlink allows "/" in it: reported), title, tags,
 * meta.validUntil → expiresAt, meta.maxVisits → maxClicks (LinkQR counts clicks from zero, so a
 * link keeps its full allowance), forwardQuery, domain (or the short URL's host) → domain.
 * Not carried over: visits, dateCreated, validSince, crawlable, redirect rules.
 */

const WHAT_CSV = 'Shlink CSV';
const WHAT_JSON = 'Shlink JSON';

export function* parseShlinkExport(text: string, maxRows: number): Steps<ImportRow[]> {
  return looksLikeJson(text) ? yield* parseJson(text, maxRows) : yield* parseCsv(text, maxRows);
}

function* parseCsv(text: string, maxRows: number): Steps<ImportRow[]> {
  const [header, ...rows] = yield* readCsvRecords(text, maxRows + 2);
  if (!header) throw new ImportFormatError(`the ${WHAT_CSV} is empty`);
  const columns = new CsvColumns(header.cells);
  if (columns.index(['longUrl', 'originalUrl']) === undefined) {
    throw new ImportFormatError(`the ${WHAT_CSV} has no longUrl column; found: ${columns.list()}`);
  }
  checkRowCount(rows.length, maxRows, WHAT_CSV);
  const longUrl = columns.cell(['longUrl', 'originalUrl']);
  const shortCode = columns.cell(['shortCode']);
  const shortUrl = columns.cell(['shortUrl']);
  const domain = columns.cell(['domain']);
  const title = columns.cell(['title']);
  const tags = columns.cell(['tags']);
  return yield* mapSteps(rows, (r) => {
    const parts = shortUrlParts(shortUrl(r));
    const extra = extraCellsProblem(r, header.cells.length);
    return toImportRow(
      r.line,
      {
        url: longUrl(r),
        slug: shortCode(r)?.trim() || parts.slug,
        title: title(r),
        tags: splitTagList(tags(r)),
        domain: domain(r)?.trim() || parts.domain,
      },
      extra ? [extra] : [],
    );
  });
}

function* parseJson(text: string, maxRows: number): Steps<ImportRow[]> {
  const items = jsonItems(
    yield* readJson(text, WHAT_JSON),
    (doc) => (Array.isArray(doc) ? doc : (at(doc, 'shortUrls', 'data') ?? at(doc, 'data'))),
    WHAT_JSON,
    'expected the response of GET /rest/v3/short-urls, {"shortUrls": {"data": [...]}}',
    maxRows,
  );
  return yield* mapSteps(items, (item, i) => {
    if (!isJsonObject(item)) return { line: i + 1, problems: [NOT_AN_OBJECT] };
    const parts = shortUrlParts(item.shortUrl);
    return toImportRow(i + 1, {
      url: item.longUrl ?? item.originalUrl,
      slug: item.shortCode ?? parts.slug,
      title: item.title,
      tags: Array.isArray(item.tags) ? item.tags : undefined,
      expiresAt: at(item, 'meta', 'validUntil'),
      maxClicks: at(item, 'meta', 'maxVisits'),
      forwardQuery: item.forwardQuery,
      domain: item.domain ?? parts.domain,
    });
  });
}
