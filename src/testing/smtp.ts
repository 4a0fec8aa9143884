import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

/** A message as the mail server received it: envelope, headers, and the decoded plain-text body. */
export interface ReceivedMail {
  from: string;
  to: string[];
  headers: Record<string, string>;
  subject: string;
  text: string;
}

export interface TestSmtpServer {
  /** smtp://USER:PASSWORD@127.0.0.1:PORT: what LINKQR_SMTP_URL is set to. */
  url: string;
  user: string;
  password: string;
  /** Every message received, in order. */
  messages: ReceivedMail[];
  /** Recipients refused with 550 (for tests of what a mail failure does). */
  refused: Set<string>;
  close(): Promise<void>;
}

/**
 * A real SMTP server in the test's process, on 127.0.0.1 (or `host`) and a free port, that keeps what it
 * receives. Without TLS (STARTTLS disabled), with a user name and password the client must give.
 */
export async function startSmtpServer(host = '127.0.0.1'): Promise<TestSmtpServer> {
  const user = 'linkqr';
  const password = `smtp-pw-${Math.random().toString(36).slice(2)}`;
  const messages: ReceivedMail[] = [];
  const refused = new Set<string>();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === user && auth.password === password) return callback(null, { user });
      callback(new Error('Invalid username or password'));
    },
    onRcptTo(address, _session, callback) {
      if (refused.has(address.address)) return callback(Object.assign(new Error(`<${address.address}>: mailbox unavailable`), { responseCode: 550 }));
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        messages.push(parseMessage(raw, session.envelope.mailFrom ? session.envelope.mailFrom.address : '', session.envelope.rcptTo.map((r) => r.address)));
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const { port } = server.server.address() as AddressInfo;
  return {
    url: `smtp://${user}:${password}@127.0.0.1:${port}`,
    user,
    password,
    messages,
    refused,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Headers (unfolded, names lower-case) and the body, quoted-printable decoded when it says so. */
function parseMessage(raw: string, from: string, to: string[]): ReceivedMail {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  let body = raw.slice(split + 4);
  const headers: Record<string, string> = {};
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  if (/quoted-printable/i.test(headers['content-transfer-encoding'] ?? '')) {
    body = Buffer.from(
      body.replace(/=\r?\n/g, '').replace(/=([0-9A-F]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16))),
      'latin1',
    ).toString('utf8');
  }
  return { from, to, headers, subject: headers.subject ?? '', text: body.replace(/\r\n/g, '\n') };
}

/** The one-time set-password link in a message, as a path (`/admin/set-password?token=…`) and as sent. */
export function passwordLinkIn(mail: ReceivedMail): { url: string; path: string; token: string } {
  const url = /https?:\/\/\S+\/admin\/set-password\?token=[A-Za-z0-9_-]+/.exec(mail.text)?.[0];
  if (!url) throw new Error(`no password link in the message:\n${mail.text}`);
  const parsed = new URL(url);
  return { url, path: parsed.pathname + parsed.search, token: parsed.searchParams.get('token')! };
}
