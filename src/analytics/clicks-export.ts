import { stringify } from 'csv-stringify/sync';
import { baseHostname } from '../links/link-presenter.js';
import type { Queries } from '../db/db.js';
import { guardCell } from '../imports/link-csv.js';

/** Rows read per query: big enough that the queries cost little, small enough to hold. */
const PAGE = 5_000;

export const CLICK_CSV_COLUMNS = [
  'clickedAt', 'linkId', 'domain', 'slug', 'bot', 'qr', 'country', 'device', 'browser', 'os', 'referrer', 'referrerHost', 'visitor', 'userAgent',
] as const;

interface ClickExportRow {
  id: number;
  clicked_at: number;
  bot: number;
  qr: number;
  country: string | null;
  device: string | null;
  browser: string | null;
  os: string | null;
  referrer: string | null;
  referrer_host: string | null;
  ip_hash: string | null;
  user_agent: string | null;
}

const csvLine = (cells: readonly (string | number | null)[]) =>
  stringify([cells.map((c) => (c === null ? '' : guardCell(String(c))))], { quoted: true, record_delimiter: '\r\n' });

/**
 * The workspace's clicks in [from, to) as CSV, streamed: link by link (the links that had clicks
 * in the range), each link's clicks in time order, read a page at a time
 * by the (link, time) index. Memory stays flat however many clicks there are. Clicks of links
 * deleted since are not exported (their link is gone); `visitor` is the day's salted address hash.
 */
export async function* clicksCsv(db: Queries, baseUrl: string, workspaceId: string, from: number, to: number, bom = false) {
  yield `${bom ? '\uFEFF' : ''}${csvLine(CLICK_CSV_COLUMNS)}`;
  // From the clicks themselves (one probe of the (link, time) index a link), not the day rollups:
  // those of the last second's clicks may still be pending (src/clicks/rollup-applier.ts).
  const links = await db.rows<{ id: string; slug: string; domain: string }>(
    `select l.id, l.slug, l.domain from links l
       where l.workspace_id = ? and exists (select 1 from clicks c where c.link_id = l.id and c.clicked_at >= ? and c.clicked_at < ?)
       order by l.id`,
    workspaceId, from, to,
  );
  const baseHost = baseHostname(baseUrl);
  for (const link of links) {
    let at = from;
    let id = -1;
    for (;;) {
      const rows = await db.rows<ClickExportRow>(
        `select id, clicked_at, bot, qr, country, device, browser, os, referrer, referrer_host, ip_hash, user_agent from clicks
           where link_id = ? and clicked_at >= ? and clicked_at < ? and (clicked_at > ? or id > ?)
           order by clicked_at, id limit ${PAGE}`,
        link.id, at, to, at, id,
      );
      yield rows
        .map((c) =>
          csvLine([
            new Date(Number(c.clicked_at)).toISOString(), link.id, link.domain || baseHost, link.slug, c.bot ? 'true' : 'false', c.qr ? 'true' : 'false',
            c.country, c.device, c.browser, c.os, c.referrer, c.referrer_host, c.ip_hash, c.user_agent,
          ]),
        )
        .join('');
      if (rows.length < PAGE) break;
      const last = rows[rows.length - 1]!;
      at = Number(last.clicked_at);
      id = Number(last.id);
    }
  }
}
