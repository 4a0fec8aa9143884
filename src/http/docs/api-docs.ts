import { API_ERROR_CODES } from '../api/openapi/error-codes.js';
import type { BeyondSchemaRule } from '../api/openapi/rules.js';

type Json = Record<string, any>;

/** What /docs/api shows, read from the OpenAPI document itself so the page cannot drift from it. */
export function apiDocsView(doc: Json) {
  const schemas: Record<string, Json> = doc.components.schemas;
  const operations = Object.entries<Json>(doc.paths).flatMap(([path, item]) =>
    Object.entries<Json>(item).map(([method, op]) => ({
      anchor: op.operationId as string,
      method: method.toUpperCase(),
      path: `/api/v1${path}`,
      tag: op.tags[0] as string,
      summary: op.summary as string,
      description: op.description as string,
      scope: op['x-scope'] as string | null | undefined,
      parameters: (op.parameters ?? []).map((p: Json) => ({
        name: p.name as string,
        in: p.in as string,
        required: Boolean(p.required),
        type: typeOf(p.schema),
        notes: [p.description, ...constraintsOf(p.schema)].filter(Boolean).join(' · '),
      })),
      body: op.requestBody && requestBodyOf(op.requestBody),
      responses: Object.entries<Json>(op.responses).map(([status, r]) => ({
        status,
        ok: status.startsWith('2') || status.startsWith('3'),
        description: r.description as string,
        schema: schemaOf(r.content),
        codes: status.startsWith('4') || status.startsWith('5') ? codesIn(r.description) : [],
        example: example(r.content?.['application/json']?.example),
      })),
    })),
  );
  const tags = (doc.tags as Json[]).map((t) => ({ name: t.name as string, description: t.description as string, operations: operations.filter((o) => o.tag === t.name) }));
  return {
    title: doc.info.title as string,
    version: doc.info.version as string,
    // The first paragraph; the rules section after it is rendered from x-rules.
    intro: (doc.info.description as string).split('\n\n')[0]!,
    rules: doc.info['x-rules'] as BeyondSchemaRule[],
    server: doc.servers[0].url as string,
    tags,
    errorCodes: Object.entries(API_ERROR_CODES).map(([code, c]) => ({ code, status: c.status, meaning: c.meaning })),
    webhooks: Object.entries<Json>(doc.webhooks).map(([type, item]) => ({
      type,
      description: item.post.description as string,
      headers: (item.post.parameters as Json[]).map((h) => ({ name: h.name as string, description: h.description as string })),
      schema: refName(item.post.requestBody.content['application/json'].schema),
      example: example(item.post.requestBody.content['application/json'].example),
    })),
    schemas: Object.entries(schemas).map(([name, s]) => ({ name, description: s.description as string | undefined, fields: fieldsOf(s), type: fieldsOf(s).length === 0 ? typeOf(s) : '' })),
  };
}

/** A request body: JSON of a named schema, or an image (a QR logo) described in words. */
function requestBodyOf(body: Json) {
  const json: Json | undefined = body.content['application/json'];
  return {
    mediaTypes: Object.keys(body.content).join(' or '),
    description: body.description as string | undefined,
    schema: refName(json?.schema),
    required: body.required as boolean,
    example: example(json?.example),
  };
}

const refName = (schema: Json | undefined) => (schema?.$ref ? String(schema.$ref).split('/').pop()! : undefined);
const example = (value: unknown) => (value === undefined ? undefined : JSON.stringify(value, null, 2));
const codesIn = (description: string) => [...description.matchAll(/`([a-z_]+)`:/g)].map((m) => m[1]!);

function schemaOf(content: Json | undefined): string | undefined {
  if (!content) return undefined;
  return Object.entries<Json>(content)
    .map(([type, media]) => (refName(media.schema) ? `${refName(media.schema)}` : type))
    .join(' or ');
}

/** A short type name: Link, string, "active" | "disabled", Link[], integer | null … */
export function typeOf(schema: Json | undefined): string {
  if (!schema) return 'any';
  if (schema.$ref) return refName(schema)!;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return (schema.enum as unknown[]).map((v) => JSON.stringify(v)).join(' | ');
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return [...new Set((union as Json[]).map(typeOf))].join(' | ');
  if (Array.isArray(schema.type)) return (schema.type as string[]).map((t) => typeOf({ ...schema, type: t })).join(' | ');
  if (schema.type === 'array') return `${typeOf(schema.items)}[]`;
  if (schema.type === 'object' && schema.additionalProperties && typeof schema.additionalProperties === 'object') return `map of ${typeOf(schema.additionalProperties)}`;
  if (schema.format) return `${schema.type} (${schema.format})`;
  return schema.type ?? 'any';
}

function constraintsOf(schema: Json | undefined): string[] {
  if (!schema) return [];
  const out: string[] = [];
  const s = schema.anyOf ? (schema.anyOf as Json[]).find((x) => x.type !== 'null') ?? schema : schema;
  if (s.minLength !== undefined || s.maxLength !== undefined) out.push(`${s.minLength ?? 0}–${s.maxLength ?? '∞'} characters`);
  if (s.minimum !== undefined || s.maximum !== undefined) out.push(`${s.minimum ?? '−∞'} to ${s.maximum !== undefined && s.maximum > 1e12 ? '∞' : (s.maximum ?? '∞')}`);
  if (s.maxItems !== undefined) out.push(`at most ${s.maxItems} items`);
  if (s.pattern && String(s.pattern).length < 60) out.push(`pattern ${s.pattern}`);
  if (s.default !== undefined) out.push(`default ${JSON.stringify(s.default)}`);
  return out;
}

function fieldsOf(schema: Json): { name: string; type: string; required: boolean; notes: string }[] {
  const object = schema.type === 'object' ? schema : (schema.allOf as Json[] | undefined)?.find((s) => s.type === 'object');
  if (!object?.properties) return [];
  const required = new Set<string>(object.required ?? []);
  return Object.entries<Json>(object.properties).map(([name, s]) => ({
    name,
    type: typeOf(s),
    required: required.has(name),
    notes: [s.description, ...constraintsOf(s)].filter(Boolean).join(' · '),
  }));
}

/** `code` spans and nothing else: the document's descriptions use backticks for names. */
export function inlineCode(text: string | undefined): string {
  if (!text) return '';
  const escaped = text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
  return escaped.replace(/`([^`]+)`/g, '<code>$1</code>');
}
