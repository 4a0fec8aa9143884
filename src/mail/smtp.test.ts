import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { startSmtpServer, type TestSmtpServer } from '../testing/smtp.js';
import { MailNotSent } from './mailer.js';
import { createMailer } from './smtp.js';

// A mail server that offers no STARTTLS: a relay on this machine may be spoken to in plain SMTP;
// any other address must not be (a network in the way could strip the offer and read the login).
describe('the SMTP mailer and TLS', () => {
  let smtp: TestSmtpServer;
  const log = pino({ level: 'silent' });
  const message = { to: 'ann@example.com', subject: 'Choose a password', text: 'https://links.example.com/admin/set-password?token=x' };

  before(async () => {
    smtp = await startSmtpServer('0.0.0.0');
  });
  after(() => smtp.close());

  test('to 127.0.0.1 (this machine) the message goes out without TLS', async () => {
    const mailer = createMailer({ smtpUrl: smtp.url, mailFrom: 'LinkQR <linkqr@example.com>' }, log)!;
    await mailer.send(message);
    assert.equal(smtp.messages.length, 1);
  });

  test('to another address (127.0.0.2 stands in for one) a server without STARTTLS is refused, and nothing is sent', async () => {
    const mailer = createMailer({ smtpUrl: smtp.url.replace('@127.0.0.1:', '@127.0.0.2:'), mailFrom: 'LinkQR <linkqr@example.com>' }, log)!;
    const before = smtp.messages.length;
    await assert.rejects(mailer.send(message), (err: unknown) => err instanceof MailNotSent && /secure connection|STARTTLS/i.test(err.message));
    assert.equal(smtp.messages.length, before);
  });
});
