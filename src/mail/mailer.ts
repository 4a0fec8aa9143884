/** One plain-text message to one person. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/**
 * Sends mail: invitations and password resets. Built once at start-up (createMailer, smtp.ts) when
 * LINKQR_SMTP_URL is set and passed in `deps`; undefined means this server sends no mail, and
 * whoever would have mailed a link shows it instead.
 */
export interface Mailer {
  /** Resolves once the mail server took the message; rejects with a MailNotSent. */
  send(message: MailMessage): Promise<void>;
}

/** The message did not go out. `message` is safe to show to an admin: no address of the server's account, no password. */
export class MailNotSent extends Error {
  override name = 'MailNotSent';
}
