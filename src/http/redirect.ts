import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { CLICK_LIMIT_REACHED, type ClickInput, type ClickRecorder } from '../clicks/click-recorder.js';
import { isBotRequest } from '../clicks/classify.js';
import type { Clock } from '../lib/clock.js';
import { STORAGE_RETRY_SECONDS } from '../db/storage-health.js';
import { storageProblem } from '../db/storage-errors.js';
import { withForwardedQuery } from '../links/forward-query.js';
import { MAX_LOCATION_LENGTH } from '../links/location.js';
import type { RedirectCache, RedirectTarget } from '../links/redirect-cache.js';
import { isReservedSlug, SLUG_PATTERN } from '../links/slugs.js';
import type { Metrics } from '../metrics/metrics.js';
import type { DomainDirectory } from '../domains/domain-directory.js';
import type { KnownPath } from './allowed-methods.js';
import { matchTarget, targetDeviceOf } from '../links/targets.js';
import type { LinkPasswordThrottle } from '../links/password-throttle.js';
import { verifySecret } from '../lib/passwords.js';
import type { Eta } from 'eta';
import { PAGE_SECURITY_HEADERS } from './middleware/html-security.js';
import { type StatusPages, writeStatusPage } from './status-pages.js';

export interface RedirectDeps {
  clock: Clock;
  redirects: RedirectCache;
  domains: Pick<DomainDirectory, 'ofHost'>;
  clicks: ClickRecorder;
  pages: StatusPages;
  clientIp(req: IncomingMessage): string;
  log: Logger;
  metrics: Pick<Metrics, 'redirect'>;
  /** The country of an address, for links with country targets (src/geo/country-lookup.ts). */
  countries: { country(ip: string): string | null };
  /** Password tries of protected links (src/links/password-throttle.ts). */
  passwordThrottle: Pick<LinkPasswordThrottle, 'attempt' | 'succeeded'>;
  views: Eta;
}

export type RedirectOutcome =
  | 'redirected'
  | 'not_found'
  | 'disabled'
  | 'expired'
  | 'exhausted'
  | 'unavailable'
  | 'location_too_long'
  | 'password_required'
  | 'password_refused'
  | 'throttled'
  | 'method_not_allowed';

/** A password form's body: a password of at most 128 characters, percent-encoded, and its name. */
const MAX_PASSWORD_BODY = 4096;

/**
 * The slug of `/<slug>` or `/<slug>?…` when it can be a link, else undefined (the router takes
 * it). `/<slug>/` is the same link: a trailing slash is what people and some editors add.
 */
export function slugOf(url: string): string | undefined {
  const end = url.indexOf('?');
  let path = end === -1 ? url.slice(1) : url.slice(1, end);
  if (path.endsWith('/')) path = path.slice(0, -1);
  if (!SLUG_PATTERN.test(path) || isReservedSlug(path)) return undefined;
  return path;
}

/**
 * `/<slug>` in the route table: the fast path takes GET, HEAD and POST (a protected link's
 * password form) before Express, and Express answers the other methods of the same paths (405,
 * or 204 to OPTIONS) from this entry.
 */
export const REDIRECT_ROUTE: KnownPath = { pattern: '/:slug', matches: (path) => slugOf(path) !== undefined, methods: ['GET', 'HEAD', 'POST'] };

/**
 * GET|HEAD /:slug on raw node:http, outside Express: a cached lookup, a few checks, a buffered
 * click, and the redirect. Nothing here waits on the database but a cache miss (one read), and
 * the human clicks of links with maxClicks: those are written before their redirect is answered
 * (a group commit per event-loop turn), since a buffered click lost in a crash would let the
 * restarted server answer it once more, past the limit.
 */
export function createRedirectHandler(deps: RedirectDeps) {
  // Redirects are logged at debug level only: every one is already a row in `clicks`, and a
  // JSON line per redirect at info level measured at less than half the throughput.
  const log = deps.log.child({ component: 'redirect' });
  // An answer is written synchronously once its target is known, so one variable carries its
  // start time to `note`.
  let started = 0;
  const note = (req: IncomingMessage, status: number, outcome: RedirectOutcome, since = started) => {
    deps.metrics.redirect(outcome, req.method!, status, (performance.now() - since) / 1000);
    if (log.isLevelEnabled('debug')) log.debug({ reqId: randomUUID(), method: req.method, path: req.url, status, outcome }, 'request');
  };
  const send = (res: ServerResponse, status: number, location: string) => {
    res.writeHead(status, { location, 'cache-control': 'private, max-age=0', 'content-length': 0 });
    res.end();
  };

  /** The human click of a limited link: answered once written, or 503 when it cannot be (then it does not count). */
  const redirectOnceWritten = (req: IncomingMessage, res: ServerResponse, target: RedirectTarget, click: ClickInput, destination: string, status: number) => {
    const since = started;
    deps.clicks.recordDurably(click, (error) => {
      if (error === undefined) {
        note(req, status, 'redirected', since);
        return send(res, status, locationOf(target, destination, req.url!));
      }
      if (error === CLICK_LIMIT_REACHED) {
        // Other instances' clicks took the rest: this one knows it now too.
        target.humanClicks = Math.max(target.humanClicks, target.maxClicks!);
        note(req, 410, 'exhausted', since);
        return writeStatusPage(res, 410, deps.pages.gone);
      }
      target.humanClicks--;
      note(req, 503, 'unavailable', since);
      writeStatusPage(res, 503, deps.pages.unavailable, { 'retry-after': String(STORAGE_RETRY_SECONDS) });
    });
  };

  // A destination saved before links.schema.ts bounded it after percent-encoding: rather than a
  // Location common clients refuse, a 500 and a log line that says which link to edit.
  const tooLong = (req: IncomingMessage, res: ServerResponse, target: RedirectTarget, location: string) => {
    log.error(
      { linkId: target.linkId, length: location.length, max: MAX_LOCATION_LENGTH },
      'link destination too long for a Location header once percent-encoded: edit the link',
    );
    note(req, 500, 'location_too_long');
    writeStatusPage(res, 500, deps.pages.serverError);
  };

  /** The small page that asks for a protected link's password; `problem` says why the last try failed. */
  const passwordPage = (req: IncomingMessage, res: ServerResponse, status: number, problem?: string, headers: Record<string, string> = {}) => {
    const body = Buffer.from(deps.views.render('pages/link-password', { action: req.url, problem }));
    // The form posts here and this server answers with a redirect to the destination, which
    // form-action must allow (browsers apply it to the redirect too).
    writeStatusPage(res, status, body, { 'content-security-policy': PASSWORD_PAGE_CSP, 'cache-control': 'no-store', ...headers });
  };

  /**
   * The answer for a target (or its absence on a domain with its own place for unknown slugs),
   * measured from `since`. `unlocked`: the visitor just typed the link's password.
   */
  const answer = (req: IncomingMessage, res: ServerResponse, target: RedirectTarget | undefined, since: number, notFoundRedirect?: string | null, unlocked = false): void => {
    started = since;
    if (!target) {
      if (notFoundRedirect) {
        note(req, 302, 'not_found');
        return send(res, 302, notFoundRedirect);
      }
      note(req, 404, 'not_found');
      return writeStatusPage(res, 404, deps.pages.notFound);
    }
    if (target.status === 'disabled') {
      note(req, 410, 'disabled');
      return writeStatusPage(res, 410, deps.pages.gone);
    }
    const now = deps.clock.now();
    if (target.expiresAt !== null && now >= target.expiresAt) {
      if (target.expiredUrl && target.expiredUrl.length > MAX_LOCATION_LENGTH) return tooLong(req, res, target, target.expiredUrl);
      note(req, target.expiredUrl ? 302 : 410, 'expired');
      if (!target.expiredUrl) return writeStatusPage(res, 410, deps.pages.gone);
      return send(res, 302, locationOf(target, target.expiredUrl, req.url!));
    }
    if (target.maxClicks !== null && target.humanClicks >= target.maxClicks) {
      note(req, 410, 'exhausted');
      return writeStatusPage(res, 410, deps.pages.gone);
    }
    if (target.url.length > MAX_LOCATION_LENGTH) return tooLong(req, res, target, target.url);
    // Nothing is counted until the password is typed: a visitor who gives up made no click.
    if (target.passwordHash !== null && !unlocked) {
      note(req, 200, 'password_required');
      return passwordPage(req, res, 200);
    }

    const userAgent = req.headers['user-agent'];
    // Looked up at most once, and only for a link whose targets name countries.
    let country: string | null | undefined;
    const countryOfVisitor = () => (country ??= deps.countries.country(deps.clientIp(req)));
    const destination = target.targets === null ? target.url : (matchTarget(target.targets, targetDeviceOf(userAgent), countryOfVisitor)?.url ?? target.url);
    // After a password form, 303: a 307 or 308 would make the browser post the password on to the destination.
    const status = unlocked ? 303 : target.redirectCode;
    const bot = isBotRequest(req.method!, userAgent);
    const click: ClickInput = {
      linkId: target.linkId,
      workspaceId: target.workspaceId,
      at: now,
      bot,
      qr: isQrScan(req.url!),
      referrer: req.headers.referer,
      userAgent,
      ip: deps.clientIp(req),
    };
    // Set only when a target asked for it: the batch looks the others up, off this path.
    if (country !== undefined) click.country = country;
    // Counted now, before any write, so that concurrent requests see the limit at once.
    if (!bot) target.humanClicks++;
    if (!bot && target.maxClicks !== null) return redirectOnceWritten(req, res, target, click, destination, status);
    note(req, status, 'redirected');
    send(res, status, locationOf(target, destination, req.url!));
    // After the answer: a click that finds the batch overdue writes it (click-recorder.ts), and
    // this visitor need not wait for that.
    deps.clicks.record(click);
  };

  /** A failure while answering: a database that cannot be read now (PostgreSQL restarting) is a 503 to retry; anything else a 500. */
  const failed = (req: IncomingMessage, res: ServerResponse, since: number) => (err: unknown) => {
    if (res.headersSent) return;
    if (storageProblem(err)) {
      note(req, 503, 'unavailable', since);
      return writeStatusPage(res, 503, deps.pages.unavailable, { 'retry-after': String(STORAGE_RETRY_SECONDS) });
    }
    log.error({ err, path: req.url }, 'redirect failed');
    writeStatusPage(res, 500, deps.pages.serverError);
  };

  /**
   * The target of the request's domain and slug, to `then`, with where the domain sends unknown
   * slugs. A miss: one read fills the cache, shared with the requests for the slug that come meanwhile.
   */
  const lookUp = (req: IncomingMessage, res: ServerResponse, slug: string, since: number, then: (target: RedirectTarget | undefined, notFoundRedirect?: string | null) => unknown) => {
    // An added domain's links by its name; every other host (the base URL's, an address) serves the base URL's links.
    const domain = deps.domains.ofHost(req.headers.host);
    const hostname = domain === undefined ? '' : domain.hostname;
    // On an added domain, only the links of the workspace that verified it: a link another
    // workspace put on the name before (its claim released, or deleted) is never served there.
    const ours = (target: RedirectTarget | undefined) => (domain === undefined || target?.workspaceId === domain.workspaceId ? target : undefined);
    const target = deps.redirects.cached(hostname, slug);
    if (target) return void then(ours(target), domain?.notFoundRedirect);
    deps.redirects
      .miss(hostname, slug)
      .then((loaded) => then(ours(loaded), domain?.notFoundRedirect))
      .catch(failed(req, res, since));
  };

  /** POST /<slug>: a protected link's password form. Throttled per link and address; the click counts once the password is right. */
  const unlock = async (req: IncomingMessage, res: ServerResponse, target: RedirectTarget, password: string, since: number) => {
    if (target.passwordHash === null) {
      note(req, 405, 'method_not_allowed', since);
      return writeStatusPage(res, 405, deps.pages.methodNotAllowed, { allow: 'GET, HEAD, OPTIONS' });
    }
    const ip = deps.clientIp(req);
    const at = deps.clock.now();
    const waitMs = await deps.passwordThrottle.attempt(target.linkId, ip, at);
    if (waitMs > 0) {
      const minutes = Math.ceil(waitMs / 60_000);
      note(req, 429, 'throttled', since);
      return passwordPage(req, res, 429, `Too many wrong passwords from your address. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`, {
        'retry-after': String(Math.ceil(waitMs / 1000)),
      });
    }
    if (!(password.length <= 128 && (await verifySecret(target.passwordHash, password)))) {
      note(req, 403, 'password_refused', since);
      return passwordPage(req, res, 403, 'That password is not right. Check it and try again.');
    }
    await deps.passwordThrottle.succeeded(target.linkId, ip, at);
    answer(req, res, target, since, undefined, true);
  };

  return {
    /** GET|HEAD /<slug>. */
    redirect(req: IncomingMessage, res: ServerResponse, slug: string): void {
      const since = performance.now();
      lookUp(req, res, slug, since, (target, notFoundRedirect) => answer(req, res, target, since, notFoundRedirect));
    },
    /** POST /<slug>: the password form of a protected link. */
    submitPassword(req: IncomingMessage, res: ServerResponse, slug: string): void {
      const since = performance.now();
      readSmallForm(req, MAX_PASSWORD_BODY).then((form) => {
        if (form === undefined) {
          note(req, 413, 'password_refused', since);
          return writeStatusPage(res, 413, deps.pages.render(413, 'Too large', 'The form sent was larger than a password form can be.'));
        }
        lookUp(req, res, slug, since, (target, notFoundRedirect) => {
          if (!target) return answer(req, res, target, since, notFoundRedirect);
          return unlock(req, res, target, form.get('password') ?? '', since).catch(failed(req, res, since));
        });
      }, failed(req, res, since));
    },
  };
}

/** The CSP of the password page: its form posts here, and the answer redirects to the destination, which form-action must allow too. */
const PASSWORD_PAGE_CSP = PAGE_SECURITY_HEADERS['content-security-policy']!.replace("form-action 'self'", "form-action 'self' https: http:");

/** An urlencoded body of at most `limit` bytes; undefined when larger (the rest is read and dropped, so the connection stays usable). */
async function readSmallForm(req: IncomingMessage, limit: number): Promise<URLSearchParams | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req.iterator({ destroyOnReturn: false })) {
    size += (chunk as Buffer).length;
    if (size <= limit) chunks.push(chunk as Buffer);
  }
  return size > limit ? undefined : new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
}

/** Where to send the visitor: the destination, with their query string when the link forwards it. */
const locationOf = (target: RedirectTarget, destination: string, requestUrl: string) =>
  target.forwardQuery ? withForwardedQuery(destination, requestUrl) : destination;

function isQrScan(url: string): boolean {
  const q = url.indexOf('?');
  // Any qr=1 (the QR URL is `?qr=1`; a visitor may add parameters before it): the one forwarding leaves out (src/links/forward-query.ts).
  return q !== -1 && new URLSearchParams(url.slice(q + 1)).getAll('qr').includes('1');
}
