import type { Action } from '../../policy/policy.js';

export type Section = 'links' | 'analytics' | 'api' | 'team' | 'settings' | 'audit' | 'instance';

export interface NavItem {
  section: Section;
  label: string;
  href: string;
  icon: string;
  /** Shown only to roles the policy allows this (the page refuses the others anyway). */
  action?: Action;
  instanceAdminOnly?: boolean;
}

/** The sidebar, top to bottom (SPEC §6). */
export const NAV: readonly NavItem[] = [
  { section: 'links', label: 'Links', href: '/admin/links', icon: 'link' },
  { section: 'analytics', label: 'Analytics', href: '/admin/analytics', icon: 'chart' },
  { section: 'api', label: 'API & Webhooks', href: '/admin/api', icon: 'code', action: 'webhooks.read' },
  { section: 'team', label: 'Team', href: '/admin/team', icon: 'users' },
  { section: 'settings', label: 'Settings', href: '/admin/settings', icon: 'sliders' },
  { section: 'audit', label: 'Audit log', href: '/admin/audit', icon: 'list', action: 'audit.read' },
  { section: 'instance', label: 'Instance', href: '/admin/instance', icon: 'server', instanceAdminOnly: true },
];

/** Where the admin UI starts. */
export const HOME = '/admin/links';

const BASE = 'http://linkqr.invalid';

/**
 * A `next` (after sign-in, after switching workspace) as a path inside the admin UI, or HOME.
 * Anything else (another origin, `//host`, `/\host`, `javascript:`, the login page itself) is
 * refused: an open redirect would lend our address to phishing links.
 */
export function safeAdminPath(next: unknown): string {
  if (typeof next !== 'string' || next.length > 2048 || !next.startsWith('/admin') || /[\\\x00-\x1f]/.test(next)) return HOME;
  let url: URL;
  try {
    url = new URL(next, BASE);
  } catch {
    return HOME;
  }
  if (url.origin !== BASE || !(url.pathname === '/admin' || url.pathname.startsWith('/admin/'))) return HOME;
  if (url.pathname === '/admin/login') return HOME;
  return url.pathname + url.search;
}
