/**
 * How long a rotated-out secret keeps working when nobody says: an API key's old secret (the
 * admin UI's preselected choice, `linkqr key rotate` without --grace) and a webhook endpoint's old
 * signing secret (the admin UI, POST /api/v1/webhooks/:id/rotate-secret without `graceSeconds`,
 * whose default SPEC puts at 86400). A day lets whatever holds the old one pick up the new one;
 * stopping it at once is a choice away in each.
 */
export const DEFAULT_ROTATION_GRACE_MS = 86_400_000;
