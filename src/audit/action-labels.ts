/**
 * What the audit log's actions read as for people (the Audit log page, its action filter).
 * An action missing here shows as its id (`link.create`): adding an audited change never
 * needs this file, it only reads better with a line here.
 */
const ACTION_LABELS: Readonly<Record<string, string>> = {
  'link.create': 'Link created',
  'link.update': 'Link edited',
  'link.delete': 'Link deleted',
  'links.import': 'Links imported',
  'qr_logo.set': 'QR logo set',
  'qr_logo.remove': 'QR logo removed',
  'key.create': 'API key created',
  'key.rotate': 'API key rotated',
  'key.disable': 'API key disabled',
  'key.enable': 'API key enabled',
  'key.revoke': 'API key revoked',
  'key.set_networks': 'API key networks changed',
  'webhook.create': 'Webhook added',
  'webhook.update': 'Webhook edited',
  'webhook.rotate_secret': 'Webhook secret rotated',
  'webhook.delete': 'Webhook deleted',
  'domain.create': 'Domain added',
  'domain.update': 'Domain edited',
  'domain.verify': 'Domain verified',
  'domain.delete': 'Domain removed',
  'domain.release': 'Unverified domain released',
  'member.add': 'Member added',
  'member.role': 'Member role changed',
  'member.remove': 'Member removed',
  'user.invite': 'User invited',
  'user.password_reset_issued': 'Password reset link issued',
  'user.password_set': 'Password set',
  'user.2fa_enable': 'Two-factor sign-in turned on',
  'user.2fa_disable': 'Two-factor sign-in turned off',
  'user.2fa_recovery_used': 'Signed in with a recovery code',
  'user.2fa_recovery_codes': 'Recovery codes renewed',
  'workspace.create': 'Workspace created',
  'workspace.rename': 'Workspace renamed',
  'workspace.set_plan': 'Plan changed',
  'plan.create': 'Plan created',
  'plan.update': 'Plan edited',
  'settings.clear_caches': 'Caches cleared',
  'instance.settings': 'Instance settings changed',
};

/** The action for people, or its id when it has no label yet. */
export const actionLabel = (action: string): string => ACTION_LABELS[action] ?? action;
