import * as z from 'zod';
import { errors } from '../lib/errors.js';
import { httpUrl } from '../links/links.schema.js';
import { cursorParam, limitParam } from '../lib/pagination.js';
import { patchOf } from '../lib/request-schemas.js';
import { canonicalHostname } from './hostnames.js';

export const DOMAIN_ID_PATTERN = /^dom_[0-9A-Za-z]{20}$/;

/** A route's :id as a domain id; anything else is a domain that does not exist (404). */
export function domainIdOf(raw: string | string[] | undefined): string {
  if (typeof raw !== 'string' || !DOMAIN_ID_PATTERN.test(raw)) throw errors.notFound(`Domain ${String(raw)}`);
  return raw;
}

/** A domain name as sent; stored canonical (src/domains/hostnames.ts). */
export const hostnameField = z
  .string()
  .max(253, 'must be at most 253 characters')
  .transform((s, ctx) => {
    const name = canonicalHostname(s);
    if (name === undefined) {
      ctx.addIssue({ code: 'custom', message: 'must be a domain name such as go.example.com (no scheme, port or path; not an IP address)' });
      return z.NEVER;
    }
    return name;
  })
  .meta({ examples: ['go.example.com'] });

const redirects = {
  rootRedirect: httpUrl.nullable().optional().meta({ description: 'Where `/` on this domain sends visitors (302); null: a short page naming the domain' }),
  notFoundRedirect: httpUrl
    .nullable()
    .optional()
    .meta({ description: 'Where unknown slugs on this domain send visitors (302); null: the 404 page' }),
};

/** POST /api/v1/domains. */
export const createDomainBody = z.strictObject({ hostname: hostnameField, ...redirects });
export type CreateDomainInput = z.output<typeof createDomainBody>;

/**
 * PATCH /api/v1/domains/:id. The hostname is not among the fields: links carry it in their
 * short URLs and QR codes already printed; a new name is a new domain.
 */
export const updateDomainBody = patchOf(z.strictObject(redirects));
export type UpdateDomainInput = z.output<typeof updateDomainBody>;

export const listDomainsQuery = z.strictObject({ limit: limitParam, after: cursorParam(DOMAIN_ID_PATTERN).optional() });
export type ListDomainsQuery = z.output<typeof listDomainsQuery>;
