import assert from 'node:assert/strict';
import { http, type HttpResult } from './harness.js';

/**
 * One admin-UI client for route tests: keeps cookies like a browser, remembers the CSRF token
 * of the last page, and posts forms as a plain browser or as htmx (`hx-request: true` plus the
 * X-CSRF-Token header the layout makes htmx send).
 */
export class AdminClient {
  readonly cookies = new Map<string, string>();
  /** Set-Cookie lines of the last response. */
  setCookies: string[] = [];
  csrf: string | undefined;

  /** `defaultHeaders` go with every request (e.g. X-Forwarded-Proto from a proxy). */
  constructor(
    private readonly base: string,
    private readonly defaultHeaders: Record<string, string> = {},
  ) {}

  async request(method: string, path: string, opts: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<HttpResult> {
    const headers: Record<string, string> = { ...this.defaultHeaders, ...opts.headers };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let rawBody: string | undefined;
    if (opts.form) {
      rawBody = new URLSearchParams(opts.form).toString();
      headers['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await http(this.base, method, path, { rawBody, headers });
    this.setCookies = res.headers.getSetCookie();
    for (const line of this.setCookies) {
      const [pair = ''] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq);
      const value = pair.slice(eq + 1);
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    const csrf = /name="_csrf" value="([^"]+)"/.exec(res.text)?.[1];
    if (csrf) this.csrf = csrf;
    return res;
  }

  get = (path: string, headers?: Record<string, string>) => this.request('GET', path, { headers });

  /** A plain form post with the page's CSRF field (unless the form says otherwise). */
  post = (path: string, form: Record<string, string>, headers?: Record<string, string>) =>
    this.request('POST', path, { form: { _csrf: this.csrf ?? '', ...form }, headers });

  /** What htmx sends: no _csrf field, the token in X-CSRF-Token. */
  htmx = (path: string, form: Record<string, string>) =>
    this.request('POST', path, { form, headers: { 'hx-request': 'true', 'x-csrf-token': this.csrf ?? '' } });

  /** Signs in through the login form and opens `page`, so `csrf` holds the session's token. */
  async signIn(email: string, password: string, page = '/admin/links'): Promise<this> {
    assert.equal((await this.get('/admin/login')).status, 200);
    const res = await this.request('POST', '/admin/login', { form: { email, password, _csrf: this.csrf! } });
    assert.equal(res.status, 303, res.text);
    assert.equal((await this.get(page)).status, 200);
    return this;
  }
}

/** The text of an element with this id (tags stripped, whitespace collapsed); undefined if absent. */
export function textOf(html: string, id: string): string | undefined {
  const start = html.search(new RegExp(`<(\\w+)[^>]*\\bid="${id}"`));
  if (start < 0) return undefined;
  const tag = /^<(\w+)/.exec(html.slice(start))![1]!;
  // Good enough for our templates: the element ends at the first closing tag that balances it.
  let depth = 0;
  const re = new RegExp(`<(/?)${tag}\\b[^>]*>`, 'g');
  re.lastIndex = start;
  for (let m = re.exec(html); m; m = re.exec(html)) {
    depth += m[1] ? -1 : 1;
    if (depth === 0) return squash(html.slice(start, m.index + m[0].length));
  }
  return squash(html.slice(start));
}

const squash = (html: string) =>
  html
    .replace(/<[^>]+>/g, ' ')
    .replace(/&amp;/g, '&')
    .replace(/&#39;/g, "'")
    .replace(/&quot;/g, '"')
    .replace(/\s+/g, ' ')
    .trim();

/** The message beside a field (partials/field.eta): `<p class="error" id="NAME-error">`. */
export const fieldError = (html: string, name: string) => new RegExp(`<p class="error" id="${name}-error">([^<]*)</p>`).exec(html)?.[1];
