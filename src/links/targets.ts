import * as z from 'zod';

/** The devices a target can name: what a QR code on a box needs (phones to their app store). */
export const TARGET_DEVICES = ['ios', 'android', 'desktop'] as const;
export type TargetDevice = (typeof TARGET_DEVICES)[number];

/** One rule of a link's `targets`: visitors matching every condition it names go to its `url`. */
export interface Target {
  device?: TargetDevice;
  /** ISO 3166-1 alpha-2, upper case. */
  country?: string;
  url: string;
}

export const MAX_TARGETS = 20;

/**
 * `targets` of the link API. `url` is the links' own destination schema, passed in so this module
 * does not depend on links.schema.ts (which depends on it).
 */
export const targetsField = (url: z.ZodType<string>) =>
  z
    .array(
      z
        .strictObject({
          device: z.enum(TARGET_DEVICES, { message: 'must be "ios", "android" or "desktop"' }).optional(),
          country: z
            .string()
            .regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 country code such as DE')
            .transform((c) => c.toUpperCase())
            .optional()
            .meta({ examples: ['DE'] }),
          url,
        })
        .refine((t) => t.device !== undefined || t.country !== undefined, { message: 'must name a device, a country or both', path: ['device'], when: (p) => p.issues.length === 0 }),
    )
    .max(MAX_TARGETS, `at most ${MAX_TARGETS} targets`)
    .meta({ description: 'Destinations by device and country: the first rule whose conditions all match the visitor wins; a visitor no rule matches goes to `url`.' });

/**
 * The device class targets compare, from the User-Agent: cheap (a link with targets asks on every
 * visit) and deliberately coarse. iPadOS 13+ sends a Mac user agent, so iPads count as desktop.
 */
export function targetDeviceOf(userAgent: string | undefined): TargetDevice {
  if (!userAgent) return 'desktop';
  if (/\b(iPhone|iPad|iPod)\b/.test(userAgent)) return 'ios';
  if (/\bAndroid\b/.test(userAgent)) return 'android';
  return 'desktop';
}

/** The first target the visitor matches, else undefined (the link's own destination). `country` is asked only when a rule names one. */
export function matchTarget(targets: readonly Target[], device: TargetDevice, country: () => string | null): Target | undefined {
  let visitorCountry: string | null | undefined;
  for (const t of targets) {
    if (t.device !== undefined && t.device !== device) continue;
    if (t.country !== undefined && t.country !== (visitorCountry === undefined ? (visitorCountry = country()) : visitorCountry)) continue;
    return t;
  }
  return undefined;
}
