import { resolveTxt } from 'node:dns/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClickRecorder, type ClickRecorderOptions } from './clicks/click-recorder.js';
import { VisitorSalts } from './clicks/visitor-salts.js';
import type { Config } from './config.js';
import { describeStorageProblem } from './db/storage-errors.js';
import { createExpressApp } from './http/express-app.js';
import { createScheduler } from './jobs/schedule.js';
import { clientIpResolver } from './http/client-ip.js';
import { PublicFiles } from './http/public-files.js';
import { createRedirectHandler, REDIRECT_ROUTE, slugOf } from './http/redirect.js';
import { LinkPasswordThrottle } from './links/password-throttle.js';
import { renderStatusPages, writeStatusPage } from './http/status-pages.js';
import { createViews } from './http/views.js';
import { KeyUsageRecorder } from './keys/key-usage.js';
import { ApiRequestRecorder, type ApiRequestRecorderOptions } from './keys/request-log.js';
import { VerificationCache } from './keys/verification-cache.js';
import { RedirectCache } from './links/redirect-cache.js';
import { DomainDirectory } from './domains/domain-directory.js';
import { OperatorError } from './lib/errors.js';
import { createMetrics } from './metrics/metrics.js';
import { Dispatcher, type DispatcherOptions } from './outbox/dispatcher.js';
import { countPendingDeliveries } from './outbox/deliveries.repo.js';
import { pendingRollupsBacklog } from './clicks/clicks.repo.js';
import { enqueueClickEvents } from './outbox/events.js';
import { findLinkById } from './links/links.repo.js';
import { presentLink } from './links/link-presenter.js';
import { VERSION } from './version.js';
import { AddressGuard } from './webhooks/address-guard.js';
import { createSender, type SenderOptions } from './webhooks/sender.js';
import { generateWebhookSecret, webhookHeaders } from './webhooks/signing.js';
import { QrRenderer } from './qr/qr.js';
import { ImportRunner } from './imports/import-runner.js';
import { resvgRasterizer } from './qr/svg-rasterizer.js';
import { createCountryLookup } from './geo/country-lookup.js';
import { type AtRestKeys, loadAtRestKeys } from './secrets/at-rest-key.js';
import { prepareSecretsAtRest } from './secrets/secrets-at-rest.js';
import { claimKeyInUse } from './secrets/shared-key.js';
import { InstanceSettingsStore } from './settings/instance-settings.js';
import { BackgroundWork } from './lib/background.js';
import type { Store } from './store.js';

export interface ServerOptions {
  clicks?: ClickRecorderOptions;
  apiRequests?: ApiRequestRecorderOptions;
  /** Schedule the jobs (backup, retention, optimize) when listening. Default true; tests run them by name instead. */
  jobs?: boolean;
  dispatcher?: DispatcherOptions;
  /**
   * Attempt timeouts; SPEC §5 fixes them at 15 s (5 s to connect): shorter ones, and timers
   * moved by hand, are for tests.
   */
  webhookTimeouts?: Pick<SenderOptions, 'totalTimeoutMs' | 'connectTimeoutMs' | 'timers'>;
  /** The at-rest keys, when the caller read them already (serve does, before migrating); else read here. */
  atRestKeys?: AtRestKeys;
  /** DNS TXT lookups for domain verification (default: the system resolver); tests give their own. */
  resolveTxt?: (name: string) => Promise<string[][]>;
}

/** The running server: HTTP (redirect fast path + Express) over one store. */
export async function createServer(store: Store, opts: ServerOptions = {}) {
  const { config, log, clock, db, assets, latestMigration } = store;
  // Before anything reads a secret: seals what an older version left in clear, marks what this key cannot open.
  const atRestKeys = opts.atRestKeys ?? loadAtRestKeys(config);
  // First: not a secret is read, sealed or marked when the key differs from a running instance's.
  const keyInUse = await claimKeyInUse(db, atRestKeys.current, log);
  const secretBox = await prepareSecretsAtRest({ db, keys: atRestKeys, log, clock });
  const clientIp = clientIpResolver(config.trustProxy);
  const publicFiles = new PublicFiles(assets);
  const views = createViews(assets, publicFiles);
  const pages = renderStatusPages(views);
  let baseUrl = config.baseUrl ?? '';
  const metrics = createMetrics({
    clickBufferDepth: () => clicks.depth,
    pendingDeliveries: () => countPendingDeliveries(db),
    pendingRollups: async () => {
      const { batches, oldestAt } = await pendingRollupsBacklog(db);
      return { batches, lagSeconds: oldestAt === null ? 0 : Math.max(0, (clock.now() - oldestAt) / 1000) };
    },
    storageAvailable: () => db.storage.available,
    redirectCache: () => redirects,
  });

  const guard = new AddressGuard(config.webhookAllowedCidrs);
  const userAgent = `LinkQR/${VERSION} (webhooks; +https://www.standardwebhooks.com)`;
  const sender = createSender({ guard, userAgent, clock, ...opts.webhookTimeouts });
  const dispatcher = new Dispatcher(
    {
      db,
      clock,
      log: log.child({ component: 'webhooks' }),
      secretBox,
      send: (request, signal) => sender.send(request, signal),
      headers: (p) => webhookHeaders({ ...p, userAgent }),
      retrySchedule: config.webhookRetrySchedule,
      onAttempt: (outcome, seconds) => metrics.webhookAttempt(outcome, seconds),
    },
    opts.dispatcher,
  );

  const instanceSettings = await InstanceSettingsStore.load(db);
  const countries = createCountryLookup({
    assets,
    onError: (err) => log.error({ err }, 'the IP-to-country database cannot be read: clicks are recorded without a country'),
  });
  const clicks = new ClickRecorder(
    {
      db,
      log: log.child({ component: 'clicks' }),
      visitorSalts: new VisitorSalts({ db, secretBox, clock, log: log.child({ component: 'clicks' }) }),
      keepUserAgent: () => instanceSettings.get().keepUserAgents,
      countryOf: (ip) => countries.country(ip),
      inBatch: async (t, records) => {
        const linkJson = async (id: string) => {
          const row = await findLinkById(t, id);
          return row && presentLink(row, baseUrl);
        };
        if ((await enqueueClickEvents(t, records, linkJson)) > 0) dispatcher.wake();
      },
      onFlush: (count, seconds) => metrics.clickFlush(count, seconds),
    },
    opts.clicks,
  );
  const redirects = new RedirectCache(db, (linkId) => clicks.pendingHumanClicks(linkId));
  const domains = new DomainDirectory(db);
  await domains.reload();
  const reloadDomains = () => domains.reload().catch((err: unknown) => log.warn({ err }, 'the domain list could not be reloaded after a change'));
  const verifiedKeys = new VerificationCache();
  const keyUsage = new KeyUsageRecorder({ db, log: log.child({ component: 'keys' }) });
  const apiRequests = new ApiRequestRecorder({ db, log: log.child({ component: 'keys' }) }, opts.apiRequests);
  // nodemailer is loaded only by a server that sends mail.
  const mailer = config.smtpUrl ? (await import('./mail/smtp.js')).createMailer(config, log) : undefined;
  const background = new BackgroundWork(log);

  db.changes.subscribe((heard) => {
    if (heard.kind === 'link') return redirects.invalidate(heard.domain ?? '', heard.slug);
    if (heard.kind === 'domains') return void reloadDomains();
    if (heard.kind === 'caches' || heard.kind === 'reset') {
      redirects.clear();
      verifiedKeys.clear();
      void reloadDomains();
    }
    instanceSettings.reload().catch((err: unknown) => log.warn({ err }, 'the instance settings could not be reloaded after a change'));
  });

  const deps = {
    config,
    log,
    clock,
    db,
    assets,
    publicFiles,
    views,
    pages,
    clientIp,
    clicks,
    instanceSettings,
    qr: new QrRenderer(undefined, { svgRasterizer: resvgRasterizer(assets) }),
    redirects,
    domains,
    countries,
    passwordThrottle: new LinkPasswordThrottle(db, config.secret),
    verifiedKeys,
    keyUsage,
    apiRequests,
    metrics,
    mailer,
    background,
    baseUrl: () => baseUrl,
    // Every instance on the database drops the link from its cache (this one at once).
    linkChanged: (domain: string, slug: string) => db.changes.publish({ kind: 'link', domain, slug }),
    // Every instance reloads its list; this one before the change is answered, so the next request routes by it.
    resolveTxt: opts.resolveTxt ?? ((name: string) => resolveTxt(name)),
    async domainsChanged() {
      db.changes.publish({ kind: 'domains' });
      await reloadDomains();
    },
    outboxChanged: () => dispatcher.wake(),
    importsChanged: () => imports.wake(),
    endpointsChanged: (pointedElsewhere?: readonly string[]) => dispatcher.endpointsChanged(pointedElsewhere),
    async webhookUrlProblem(url: string) {
      const verdict = await guard.checkUrlResolving(url);
      return verdict.ok ? undefined : verdict.reason;
    },
    generateSecret: generateWebhookSecret,
    secretBox,
    /** Why this server should get no traffic now (/readyz), or undefined when it should. */
    async notReady(): Promise<string | undefined> {
      const read = db.first(db.q.selectFrom('schema_migrations').select((eb) => eb.fn.max('version').as('v')));
      read.catch(() => {}); // awaited below, or given up on after a second
      let version: number | null | undefined;
      try {
        // While writes fail, a database that has not answered within a second counts as out of
        // reach: a probe should not wait out the pool's 10 s to connect.
        version = (await (db.storage.available ? read : Promise.race([read, rejectAfter(1_000)])))?.v;
      } catch {
        return 'database_unreachable';
      }
      // Writes failing while reads answer: the disk (full, read-only, failing).
      if (!db.storage.available) return 'storage_unavailable';
      return version === latestMigration ? undefined : 'migrations_not_current';
    },
  };

  const scheduler = createScheduler({ config, db, log, clock });
  const imports = new ImportRunner({ ...deps, log: log.child({ component: 'imports' }) });
  const expressApp = createExpressApp(deps);
  const publicLinks = createRedirectHandler(deps);
  let closing = false;
  const server = http.createServer((req, res) => {
    // Captured now: the socket may be gone by the time a log line or a click wants the address.
    clientIp(req);
    // While stopping, answer what is in flight but let no connection carry another request.
    if (closing) res.setHeader('connection', 'close');
    // Other methods of /<slug> go on to Express, which answers them from REDIRECT_ROUTE.
    const slug = REDIRECT_ROUTE.methods.includes(req.method!) && req.url ? slugOf(req.url) : undefined;
    if (slug) {
      try {
        if (req.method === 'POST') publicLinks.submitPassword(req, res, slug);
        else publicLinks.redirect(req, res, slug);
      } catch (err) {
        log.error({ err, path: req.url }, 'redirect failed');
        if (!res.headersSent) writeStatusPage(res, 500, pages.serverError);
      }
      return;
    }
    expressApp(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;

  return {
    deps,
    scheduler,
    dispatcher,
    async listen(): Promise<string> {
      // Prove the database can be written before taking traffic: a read-only or full disk stops
      // the start here, instead of a server that says it is ready and answers writes with errors.
      await db.storage.probe();
      // From now on, said once when the disk goes and once when it is back, not per failing
      // request; and the clicks buffered meanwhile are written at once, not after their back-off.
      db.storage.onChange((state) => {
        if (state.available) {
          log.info('the database can be written again');
          clicks.retryNow();
        } else {
          log.error(
            { err: state.error, problem: state.problem },
            'the database cannot be written: API writes answer 503 storage_unavailable and /readyz 503 until it can; clicks wait in memory',
          );
        }
      });
      await new Promise<void>((resolve, reject) => {
        const refused = (err: NodeJS.ErrnoException) => reject(listenError(err, config));
        server.once('error', refused);
        server.listen(config.port, config.host, () => {
          server.off('error', refused);
          resolve();
        });
      });
      const { port } = server.address() as AddressInfo;
      const host = config.host.includes(':') ? `[${config.host}]` : config.host;
      baseUrl = config.baseUrl ?? `http://${host}:${port}`;
      log.info({ url: `http://${host}:${port}`, baseUrl }, 'listening');
      if (opts.jobs !== false) scheduler.start();
      // Releases the leases a previous process left before the first claim; a failure fails the start.
      await dispatcher.start();
      imports.start();
      clicks.start();
      return `http://${host}:${port}`;
    },
    /**
     * Stop accepting, let in-flight requests finish (force-closing after `graceMs`), write every
     * buffered click, close the database. Nothing that was answered is lost.
     */
    async close(graceMs = 10_000): Promise<void> {
      // First, so no job starts (and none is left running) once the database closes; an import
      // stops after its chunk, and the next start resumes it.
      await scheduler.stop();
      await imports.stop();
      closing = true;
      // No new attempts from now on; those in flight finish (bounded by their own timeout)
      // while HTTP drains, and the rest stays due in the outbox.
      const dispatcherStopped = dispatcher.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      // Keep-alive connections go idle as their last response ends; close them as they do.
      const idle = setInterval(() => server.closeIdleConnections(), 50);
      const force = setTimeout(() => {
        log.warn({ graceMs }, 'closing the connections still open after the shutdown grace');
        server.closeAllConnections();
      }, graceMs);
      await closed;
      clearInterval(idle);
      clearTimeout(force);
      // Mail a request started (bounded by the mailer's timeouts) is sent before the database closes.
      await background.settled();
      // What was answered is written first: a webhook attempt still waiting for a slow receiver
      // (up to its 15 s timeout) must not push the clicks past a supervisor's SIGKILL.
      const written = await clicks.close(CLICK_WRITE_GRACE_MS);
      const lost = clicks.depth;
      // Neither rejects (a failed write is logged there); both are written before the database closes.
      await keyUsage.flush();
      await apiRequests.flush();
      await dispatcherStopped;
      sender.close();
      keyInUse.stop();
      await db.close();
      log.info({ clicksWritten: written, clicksLost: lost }, 'stopped');
      if (lost > 0) {
        throw new OperatorError(`${lost} answered clicks could not be written to the database (${describeStorageProblem(clicks.lastError)}) and are lost`);
      }
    },
  };
}
export type Server = Awaited<ReturnType<typeof createServer>>;

/**
 * How long a stopping server keeps trying to write the clicks it answered while the database
 * refuses (a CLI holding the write lock, space being freed): short of the 10 s most
 * supervisors wait before SIGKILL, once requests have drained.
 */
const CLICK_WRITE_GRACE_MS = 5_000;

/** Why the server could not listen, in a sentence that says what to change. */
function listenError(err: NodeJS.ErrnoException, config: Config): Error {
  const where = `${config.host}:${config.port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new OperatorError(`port ${config.port} on ${config.host} is already in use: stop the program using it or choose another --port`);
    case 'EACCES':
      return new OperatorError(`not allowed to listen on ${where} (ports below 1024 need privileges): choose another --port`);
    case 'EADDRNOTAVAIL':
      return new OperatorError(`cannot listen on ${config.host}: it is not an address of this machine; choose another --host`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new OperatorError(`cannot listen on ${config.host}: the name does not resolve; choose another --host`);
    default:
      return new OperatorError(`cannot listen on ${where}: ${err.message}`);
  }
}

/** A promise that rejects after `ms`, for a race against a read that may not come back. */
function rejectAfter(ms: number): Promise<never> {
  return new Promise((_, reject) => setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms).unref());
}
