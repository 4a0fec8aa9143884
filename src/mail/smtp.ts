import { createTransport } from 'nodemailer';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { type Mailer, MailNotSent } from './mailer.js';

/**
 * Bounds on one conversation with the mail server: an admin waits on it (the Team page mails
 * while the request is open), so a server that never answers must not hold them for minutes
 * (nodemailer's defaults are 2 minutes to connect and 10 of silence).
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 };

/**
 * The SMTP mailer of the configuration, or undefined when no mail server is set. One connection
 * per message (no pool): this server sends a few mails a day, and an idle pool would hold a
 * connection the mail server eventually drops.
 */
export function createMailer(config: Pick<Config, 'smtpUrl' | 'mailFrom'>, log: Logger): Mailer | undefined {
  const { smtpUrl, mailFrom } = config;
  if (!smtpUrl || !mailFrom) return undefined;
  const url = URL.parse(smtpUrl);
  // smtp:// to another machine must upgrade with STARTTLS: taken "when offered", a network in the
  // way could strip the offer and read the login and every reset link. A relay on this machine
  // (localhost, 127.0.0.1, ::1) may speak plain SMTP.
  const requireTLS = url?.protocol === 'smtp:' && !['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  const transport = createTransport({ url: smtpUrl, requireTLS, ...TIMEOUTS, logger: false, debug: false }, { from: mailFrom });
  const mailLog = log.child({ component: 'mail' });
  // Where, never who: the user name and password of the URL stay out of the log.
  mailLog.info({ mailServer: `${url?.protocol}//${url?.host}` }, 'invitations and password resets are sent by mail');
  // A failure's text comes from the network and from nodemailer: the URL's password must not ride along.
  const password = url?.password ?? '';
  const secrets = password === '' ? [] : [password, safeDecode(password)];
  const scrub = (text: string) => secrets.reduce((t, s) => t.split(s).join('***'), text);

  return {
    async send(message) {
      try {
        await transport.sendMail({ to: message.to, subject: message.subject, text: message.text });
        mailLog.info({ subject: message.subject }, 'mail sent');
      } catch (err) {
        const failure = err as NodeJS.ErrnoException & { responseCode?: number; response?: string };
        const reason = scrub(describeFailure(failure));
        // Never the error object itself: nodemailer hangs the connection's settings on some.
        mailLog.warn({ code: failure.code, responseCode: failure.responseCode, reason, subject: message.subject }, 'mail not sent');
        throw new MailNotSent(reason);
      }
    },
  };
}

/** Why a message did not go out, in words an admin can pass on to whoever runs the mail server. */
function describeFailure(err: NodeJS.ErrnoException & { responseCode?: number; response?: string }): string {
  switch (err.code) {
    case 'ECONNECTION':
    case 'ECONNREFUSED':
    case 'ETIMEDOUT':
    case 'EDNS':
    case 'ESOCKET':
      return `the mail server could not be reached (${firstLine(err.message)})`;
    case 'EAUTH':
      return 'the mail server refused the user name or password of LINKQR_SMTP_URL';
    case 'ETLS':
      return `the secure connection to the mail server failed (${firstLine(err.message)})`;
    case 'EENVELOPE':
    case 'EMESSAGE':
      return `the mail server refused the message (${firstLine(err.response ?? err.message)})`;
    default:
      return `the mail server did not take the message (${firstLine(err.message)})`;
  }
}

const firstLine = (text: string) => text.split('\n')[0]!.slice(0, 200);

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
