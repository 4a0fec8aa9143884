import * as z from 'zod';
import { cursorParam, limitParam } from '../lib/pagination.js';
import { patchOf } from '../lib/request-schemas.js';
import { asLocation, MAX_LOCATION_LENGTH } from './location.js';
import { NOT_RESERVED_SLUG, SLUG_PATTERN } from './slugs.js';
import { targetsField } from './targets.js';

const NOT_A_URL = 'must be an absolute http:// or https:// URL';

/**
 * A destination. The patterns are what JSON Schema can say of it (the OpenAPI document carries
 * them); the rest (a URL the WHATWG URL Standard parses with a host, and its length once
 * percent-encoded as Location sends it) are rules the document lists.
 */
export const httpUrl = z
  .string()
  .max(MAX_LOCATION_LENGTH, { message: `must be at most ${MAX_LOCATION_LENGTH} characters`, abort: true })
  // The URL parser silently drops tabs and newlines; refuse them rather than store them.
  .regex(/^[^\x00-\x1f\x7f]*$/, { message: 'must not contain control characters', abort: true })
  .regex(/^\s*[Hh][Tt][Tt][Pp][Ss]?:[^\x00-\x1f\x7f]*$/, NOT_A_URL)
  // After the rules the document states (which judge the value as sent), before the rest.
  .trim()
  .refine(
    (s) => {
      try {
        return new URL(s).hostname !== '';
      } catch {
        return false;
      }
    },
    // Only once the patterns hold: one message per mistake.
    { message: NOT_A_URL, when: (payload) => payload.issues.length === 0 },
  )
  .refine((s) => asLocation(s).length <= MAX_LOCATION_LENGTH, {
    message: `must be at most ${MAX_LOCATION_LENGTH} characters once percent-encoded, as redirects send it (a space, a quote or a non-ASCII character takes 3 to 12)`,
    when: (payload) => payload.issues.length === 0,
  })
  .meta({
    examples: ['https://example.com/spring-sale'],
    description: `At most ${MAX_LOCATION_LENGTH} characters once percent-encoded, as redirects send it in Location: a space, a quote or a non-ASCII character counts 3 to 12 (9 for most CJK).`,
  });

const slug = z
  .string()
  .regex(NOT_RESERVED_SLUG, 'is reserved by LinkQR; choose another')
  .regex(SLUG_PATTERN, 'must be 1–64 characters of letters, digits, "-" and "_"');

/** At least one character that is not white space. */
const notBlank = /\S/;

const tags = z
  .array(
    z
      .string()
      .regex(notBlank, { message: 'must not be empty', abort: true })
      .max(50, 'must be at most 50 characters')
      // As sent: white space around is trimmed; inside, anything but commas and control characters.
      .regex(/^\s*[^\s\x00-\x1f,][^\x00-\x1f,]*$/, 'must not contain commas or control characters')
      .trim(),
  )
  .max(20, 'at most 20 tags')
  .transform((list) => [...new Set(list)]);

const futureTime = z.iso
  .datetime({ offset: true, message: 'must be an ISO 8601 date-time such as 2030-01-31T12:00:00Z' })
  .transform((s) => Date.parse(s));

/** What a title may not hold: control characters (C0, DEL, C1), line and paragraph separators, direction controls. */
const NOT_IN_TITLES = '\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029\\u202a-\\u202e\\u2066-\\u2069';
/** A title as sent: white space around it (trimmed after), none of those inside. */
const TITLE_AS_SENT = new RegExp(`^\\s*[^${NOT_IN_TITLES}]*\\s*$`);
/** What an import turns into a space in another tool's title (a run of them, one space). */
export const NOT_TITLE_TEXT = new RegExp(`[${NOT_IN_TITLES}]+`, 'g');

/** POST /api/v1/links. Unknown fields are refused so typos (expires_at) do not pass silently. */
export const createLinkBody = z.strictObject({
  url: httpUrl,
  slug: slug.optional(),
  title: z
    .string()
    .max(200, 'must be at most 200 characters')
    // One line of plain text: shown in the admin's lists, in exports and in spreadsheets opened
    // from them, where a direction override would reorder what surrounds it. As sent (the
    // document states the rule, without the u flag JSON Schema validators may lack): white space
    // around it may hold anything it trims away.
    .regex(TITLE_AS_SENT, 'must not contain control characters (line breaks, tabs, NUL, direction overrides)')
    .trim()
    .refine((s) => !/\p{Cs}/u.test(s), 'must be valid Unicode (it holds half of a surrogate pair)')
    .nullable()
    .optional(),
  tags: tags.optional(),
  expiresAt: futureTime.nullable().optional(),
  expiredUrl: httpUrl.nullable().optional(),
  maxClicks: z.number().int('must be an integer').min(1, 'must be at least 1').max(Number.MAX_SAFE_INTEGER).nullable().optional(),
  redirectCode: z
    .union([z.literal(301), z.literal(302), z.literal(307), z.literal(308)], { message: 'must be 301, 302, 307 or 308' })
    .optional(),
  forwardQuery: z.boolean({ message: 'must be true or false' }).optional(),
  domain: z
    .string()
    .max(253, 'must be at most 253 characters')
    .trim()
    .optional()
    .meta({ description: "A domain of the workspace (GET /api/v1/domains) or this server's own host name (the default)", examples: ['go.example.com'] }),
  targets: targetsField(httpUrl).nullable().optional(),
  password: z
    .string()
    .min(8, 'must be at least 8 characters')
    .max(128, 'must be at most 128 characters')
    .nullable()
    .optional()
    .meta({ writeOnly: true, description: 'Visitors type it on a small page before being redirected; null removes it. Never returned: links show `passwordProtected`.' }),
});
export type CreateLinkInput = z.output<typeof createLinkBody>;

/** PATCH /api/v1/links/:id: any subset of the create fields, plus status. */
export const updateLinkBody = patchOf(createLinkBody.extend({ status: z.enum(['active', 'disabled'], { message: 'must be "active" or "disabled"' }) }));
export type UpdateLinkInput = z.output<typeof updateLinkBody>;

export const LINK_ID_PATTERN = /^lnk_[0-9A-Za-z]{20}$/;

/** GET /api/v1/links query. Unknown parameters are refused (a misspelt filter must not list everything). */
export const listLinksQuery = z.strictObject({
  limit: limitParam,
  after: cursorParam(LINK_ID_PATTERN).optional(),
  q: z.string().max(200, 'must be at most 200 characters').trim().optional().meta({ description: 'Search slugs, URLs and titles' }),
  tag: z.string().regex(notBlank, 'must not be empty').max(50).trim().optional().meta({ description: 'Only links with this tag' }),
  status: z.enum(['active', 'disabled'], { message: 'must be "active" or "disabled"' }).optional(),
});
export type ListLinksQuery = z.output<typeof listLinksQuery>;

/** GET /api/v1/links/export: the list's filters, every page. */
export const exportLinksQuery = listLinksQuery.omit({ limit: true, after: true });

/**
 * What the admin's Links table shows a link as (link-presenter.ts linkState): disabled; else expired
 * (expiresAt passed), else at its limit (human clicks ≥ maxClicks), else active. The API's `status`
 * stays the stored field, which SPEC §2 has active or disabled.
 */
export const LINK_STATES = ['active', 'disabled', 'expired', 'limit_reached'] as const;
export type LinkState = (typeof LINK_STATES)[number];

/** The admin's Links list and its export: the API's filters, with `status` as the table shows it. */
export const adminListLinksQuery = listLinksQuery.extend({
  status: z.enum(LINK_STATES, { message: 'must be "active", "disabled", "expired" or "limit_reached"' }).optional(),
});
export const adminExportLinksQuery = adminListLinksQuery.omit({ limit: true, after: true });
