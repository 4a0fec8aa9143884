/**
 * Contract checks for tests: every /api/v1 response a test receives through the harness is
 * checked against the OpenAPI document (status code documented for that operation, body valid
 * against its schema), so a response that drifts from the contract fails the test that saw it.
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidateFunction } from 'ajv';
import { loadConfig } from '../config.js';
import { buildOpenApiDocument } from '../http/api/openapi/document.js';
import { API_ERROR_CODES, type ApiErrorCode } from '../http/api/openapi/error-codes.js';

// ajv-formats is CommonJS with a default export: under tsx it arrives wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: typeof addFormatsModule }).default ?? addFormatsModule) as typeof addFormatsModule;

type Json = Record<string, any>;
const DOC_ID = 'https://linkqr.invalid/openapi.json';

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  responses: Json;
}

export class ApiContract {
  readonly doc: Json;
  private readonly ajv: Ajv2020;
  private readonly routes: Route[];
  private readonly validators = new Map<string, ValidateFunction>();

  constructor() {
    this.doc = buildOpenApiDocument({ baseUrl: 'http://127.0.0.1', webhookRetrySchedule: loadConfig({}).webhookRetrySchedule });
    this.ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: true });
    addFormats(this.ajv);
    // Destinations may hold non-ASCII characters; the checks that matter run when they are saved.
    this.ajv.addFormat('iri', true);
    this.ajv.addSchema({ $id: DOC_ID, components: this.doc.components });
    this.routes = Object.entries<Json>(this.doc.paths).flatMap(([template, item]) =>
      Object.entries<Json>(item).map(([method, op]) => ({
        method: method.toUpperCase(),
        template,
        pattern: new RegExp(`^${template.replace(/\{\w+\}/g, '[^/]+')}$`),
        responses: op.responses,
      })),
    );
  }

  /** A validator for a component (`Link`) or any schema of the document. */
  validator(schema: Json): ValidateFunction {
    const key = JSON.stringify(schema);
    let v = this.validators.get(key);
    if (!v) {
      const resolved = schema.$ref ? { $ref: `${DOC_ID}${schema.$ref}` } : schema;
      this.validators.set(key, (v = this.ajv.compile(resolved)));
    }
    return v;
  }

  /** The problems of one response; empty when it keeps the contract. */
  check(method: string, url: string, status: number, contentType: string | null, body: unknown): string[] {
    const path = url.replace(/^\/api\/v1/, '').split('?')[0]!;
    // HEAD is GET without the body: the same statuses and headers.
    const head = method === 'HEAD';
    // A path a fixed template names (/links/export) is that template's alone, as the server routes it.
    const fixed = this.routes.filter((r) => !r.template.includes('{') && r.pattern.test(path));
    const route = (fixed.length > 0 ? fixed : this.routes).find((r) => r.method === (head ? 'GET' : method) && r.pattern.test(path));
    const problem = { 'application/problem+json': { schema: { $ref: '#/components/schemas/Problem' } } };
    if (!route) {
      const what = `${method} ${path} → ${status}`;
      // A documented path asked with another method: 405 method_not_allowed, or 204 to OPTIONS.
      if (this.routes.some((r) => r.pattern.test(path))) {
        if (method === 'OPTIONS' && status === 204) return body === undefined || body === '' ? [] : [`${what}: a body on 204`];
        if (status === 405) return this.checkBody(what, status, problem, contentType, body);
      }
      // Not a documented operation: only the answers every path can give.
      if (![401, 403, 404, 429].includes(status)) return [`${method} ${path}: ${status} from an undocumented route`];
      return this.checkBody(what, status, problem, contentType, body);
    }
    const what = `${method} ${route.template} → ${status}`;
    const response = route.responses[String(status)] ?? route.responses.default;
    if (!response) return [`${what}: status not documented (documented: ${Object.keys(route.responses).join(', ')})`];
    if (!response.content || head) return body === undefined || body === '' ? [] : [`${what}: documented without a body, got one`];
    return this.checkBody(what, status, response.content, contentType, body);
  }

  private checkBody(what: string, status: number, content: Json, contentType: string | null, body: unknown): string[] {
    const type = (contentType ?? '').split(';')[0]!.trim();
    const media = content[type];
    if (!media) return [`${what}: content-type ${type || '(none)'} not documented (${Object.keys(content).join(', ')})`];
    if (!type.endsWith('json')) return [];
    const validate = this.validator(media.schema);
    if (validate(body)) return this.checkProblemStatus(what, status, body);
    return (validate.errors ?? []).map((e) => `${what}: ${e.instancePath || '(body)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`);
  }

  /** A problem's code belongs to one status (the catalog on /docs/api): a 404 never says `slug_taken`. */
  private checkProblemStatus(what: string, status: number, body: unknown): string[] {
    const problem = body as { code?: string; status?: number } | undefined;
    if (!problem?.code || !(problem.code in API_ERROR_CODES)) return [];
    const expected = API_ERROR_CODES[problem.code as ApiErrorCode].status;
    if (status === expected && problem.status === status) return [];
    return [`${what}: code ${problem.code} (status ${problem.status} in the body) belongs to status ${expected}`];
  }
}

let shared: ApiContract | undefined;
/** One contract per test process: building it compiles the whole document. */
export const apiContract = () => (shared ??= new ApiContract());
