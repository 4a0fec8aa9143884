import type { MailMessage } from './mailer.js';

/** The mails LinkQR sends, in plain text. Each carries a one-time link and says how long it works. */

const hoursText = (ms: number) => {
  const hours = Math.round(ms / 3_600_000);
  return hours === 1 ? '1 hour' : `${hours} hours`;
};

/** To someone a workspace admin created an account for (Team → Create a user). */
export function invitationMail(p: { to: string; link: string; workspace: string; role: string; invitedBy: string; validMs: number; server: string }): MailMessage {
  return {
    to: p.to,
    subject: `You have been invited to ${p.workspace} on LinkQR`,
    text: [
      `${p.invitedBy} created a LinkQR account for you (${p.to}) on ${p.server}, as ${p.role} of the workspace "${p.workspace}".`,
      '',
      `Choose your password with this link. It works once, within ${hoursText(p.validMs)}:`,
      '',
      p.link,
      '',
      'If you did not expect this, ignore this message.',
      '',
    ].join('\n'),
  };
}

/** To a user whose password is to be reset (by an admin, or because they asked on the sign-in page). */
export function passwordResetMail(p: { to: string; link: string; validMs: number; server: string }): MailMessage {
  return {
    to: p.to,
    subject: 'Reset your LinkQR password',
    text: [
      `Someone asked to reset the password of ${p.to} on LinkQR at ${p.server}: you, or an admin of your workspace.`,
      '',
      `Choose a new password with this link. It works once, within ${hoursText(p.validMs)}, and signs you out everywhere you are signed in:`,
      '',
      p.link,
      '',
      'If you did not ask for this, ignore this message: your password stays as it is.',
      '',
    ].join('\n'),
  };
}
