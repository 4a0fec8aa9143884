import type { Eta } from 'eta';
import { baseHostname } from '../links/link-presenter.js';
import express, { type Request } from 'express';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import type { KeyDeps } from '../keys/keys.service.js';
import type { LinkDeps } from '../links/links.service.js';
import type { DomainDeps } from '../domains/domains.service.js';
import type { ImportDeps } from '../imports/imports.service.js';
import type { DomainDirectory } from '../domains/domain-directory.js';
import type { AnalyticsDeps } from '../analytics/stats.service.js';
import type { QrDeps } from '../qr/qr.service.js';
import type { InstanceSettingsStore } from '../settings/instance-settings.js';
import type { WebhookDeps } from '../webhooks/webhooks.service.js';
import type { Metrics } from '../metrics/metrics.js';
import type { Mailer } from '../mail/mailer.js';
import type { BackgroundWork } from '../lib/background.js';
import { errors } from '../lib/errors.js';
import { canonicalHostname } from '../domains/hostnames.js';
import { allowedMethods, type KnownPath, routesOf } from './allowed-methods.js';
import { bindAdmin } from './admin/admin.router.js';
import { adminSecurityHeaders } from './middleware/html-security.js';
import { bindSetupPages } from './admin/setup.routes.js';
import { bindDocs } from './docs/docs.routes.js';
import { bindApi } from './api/router.js';
import { compress } from './middleware/compress.js';
import { errorHandler } from './middleware/errors.js';
import { requestLog } from './middleware/request-log.js';
import { bindPublicFiles, type PublicFiles } from './public-files.js';
import { REDIRECT_ROUTE } from './redirect.js';
import type { StatusPages } from './status-pages.js';

export interface ExpressDeps extends KeyDeps, LinkDeps, DomainDeps, ImportDeps, QrDeps, AnalyticsDeps, WebhookDeps {
  instanceSettings: InstanceSettingsStore;
  config: Config;
  log: Logger;
  publicFiles: PublicFiles;
  pages: StatusPages;
  clientIp(req: Request): string;
  metrics: Metrics;
  views: Eta;
  /** Sends invitations and password resets; undefined when LINKQR_SMTP_URL is not set. */
  mailer: Mailer | undefined;
  /** What a request starts without waiting for (a reset mail), waited for at shutdown. */
  background: BackgroundWork;
  /** The added domains, by host: what `/` and unknown paths do on each. */
  domains: Pick<DomainDirectory, 'ofHost' | 'has'>;
  /** The redirect cache ("clear caches" in Settings; the key verification cache is in KeyDeps). */
  redirects: { clear(): void };
  /** Why the server should get no traffic now (storage unavailable, migrations not current, …), or undefined. */
  notReady(): Promise<string | undefined>;
}

/** A domain's own redirect: never cached, as the redirect path answers. */
function redirectVisitor(res: express.Response, location: string) {
  res.set('cache-control', 'private, max-age=0').redirect(302, location);
}

/**
 * `GET /.well-known/linkqr/tls-allowed?domain=H` (SPEC §8): 200 when this server serves H (the
 * base URL's host or an added domain), else 404. Caddy's on-demand TLS asks it before getting a
 * certificate, so a name pointed at the server by someone else gets none. From memory: the proxy
 * may ask at every new name, and the answer must not cost a query.
 */
function bindTlsAllowed(app: express.Express, deps: ExpressDeps) {
  app.get('/.well-known/linkqr/tls-allowed', (req, res) => {
    const raw = req.query.domain;
    const asked = typeof raw === 'string' ? canonicalHostname(raw) ?? raw.trim().toLowerCase() : undefined;
    const ours = asked !== undefined && (asked === baseHostname(deps.baseUrl()) || deps.domains.has(asked));
    res.status(ours ? 200 : 404).type('text/plain').send(ours ? 'served here\n' : 'not served here\n');
  });
}

/** Everything but the redirect fast path: health, API, static files, setup and admin pages. */
export function createExpressApp(deps: ExpressDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  // API responses change with every write; weak ETags would only cost a hash per response.
  app.set('etag', false);
  app.set('trust proxy', deps.config.trustProxy);
  // The app's own route table (mounted routers included), read once every route is bound: the
  // methods each path answers (405) and the pattern each request is counted under in the metrics.
  let table: KnownPath[] | undefined;
  const knownPaths = () => (table ??= [...routesOf(app.router), REDIRECT_ROUTE]);
  app.use(requestLog(deps.log.child({ component: 'http' }), deps.clientIp, deps.metrics, knownPaths));
  app.use(compress());

  // The API answers wrong methods itself, after its browser-origin check (bindApi).
  app.use('/api/v1', bindApi(deps, deps.clientIp));
  app.use('/api', () => {
    throw errors.routeNotFound();
  });
  // Every other path the app routes, and /<slug> (whose GET and HEAD the fast path takes).
  app.use(allowedMethods(knownPaths));

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', async (_req, res) => {
    const reason = await deps.notReady();
    if (reason) res.status(503).json({ status: 'not_ready', reason });
    else res.json({ status: 'ready' });
  });
  app.get('/metrics', async (_req, res) => {
    res.type(deps.metrics.registry.contentType).send(await deps.metrics.registry.metrics());
  });
  bindPublicFiles(app, deps.publicFiles);
  bindDocs(app, deps);
  bindSetupPages(app, deps);
  bindAdmin(app, deps);
  // What a visitor who types the bare address finds: what this server is, and the way in; on an
  // added domain, its own choice (a redirect), or a page that names the domain and nothing else.
  const home = deps.views.render('pages/home', {});
  app.get('/', adminSecurityHeaders, (req, res) => {
    const domain = deps.domains.ofHost(req.headers.host);
    if (domain?.rootRedirect) return redirectVisitor(res, domain.rootRedirect);
    res.type('html').send(domain ? deps.views.render('pages/home', { domain: domain.hostname }) : home);
  });
  bindTlsAllowed(app, deps);

  app.use((req, res) => {
    // Any other path on an added domain goes where its unknown slugs go (a mistyped link is one).
    const notFoundRedirect = deps.domains.ofHost(req.headers.host)?.notFoundRedirect;
    if (notFoundRedirect && (req.method === 'GET' || req.method === 'HEAD')) return redirectVisitor(res, notFoundRedirect);
    throw errors.notFound('Page');
  });
  app.use(errorHandler(deps.log.child({ component: 'http' }), deps.pages));
  return app;
}
