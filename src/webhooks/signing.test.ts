import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { generateWebhookSecret, signatureHeader, webhookHeaders } from './signing.js';

/** The official Standard Webhooks test vector, used by the reference libraries' own tests. */
const VECTOR = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  msgId: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const nowSeconds = () => Math.floor(Date.now() / 1000);
const BODY = JSON.stringify({ type: 'link.clicked', timestamp: '2030-01-01T00:00:00.000Z', data: { slug: 'é-ü-😀', n: 1 } });

describe('webhook signing', () => {
  test('the official test vector reproduces exactly', () => {
    assert.equal(signatureHeader([VECTOR.secret], VECTOR.msgId, VECTOR.timestamp, VECTOR.body), VECTOR.signature);
    // The reference implementation agrees on the same input (its sign() skips the clock check).
    assert.equal(new Webhook(VECTOR.secret).sign(VECTOR.msgId, new Date(VECTOR.timestamp * 1000), VECTOR.body), VECTOR.signature);
  });

  test('generated secrets are whsec_ + base64 of 32 random bytes, all different', () => {
    const secrets = new Set<string>();
    for (let i = 0; i < 100; i++) {
      const secret = generateWebhookSecret();
      assert.match(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assert.equal(Buffer.from(secret.slice('whsec_'.length), 'base64').length, 32);
      secrets.add(secret);
    }
    assert.equal(secrets.size, 100);
  });

  test('the full header set verifies with the standardwebhooks package', () => {
    const secret = generateWebhookSecret();
    const headers = webhookHeaders({ msgId: 'evt_abc', timestampSeconds: nowSeconds(), body: BODY, secrets: [secret], userAgent: 'LinkQR-Webhooks/1.0' });
    assert.deepEqual(Object.keys(headers).sort(), ['content-type', 'user-agent', 'webhook-id', 'webhook-signature', 'webhook-timestamp']);
    assert.equal(headers['content-type'], 'application/json');
    assert.equal(headers['user-agent'], 'LinkQR-Webhooks/1.0');
    assert.equal(headers['webhook-id'], 'evt_abc');
    assert.match(headers['webhook-timestamp']!, /^\d{10}$/);
    assert.match(headers['webhook-signature']!, /^v1,[A-Za-z0-9+/]{43}=$/);
    assert.deepEqual(new Webhook(secret).verify(BODY, headers), JSON.parse(BODY));
  });

  test('during a rotation both secrets sign, and a receiver holding either one verifies', () => {
    const [newSecret, oldSecret, unrelated] = [generateWebhookSecret(), generateWebhookSecret(), generateWebhookSecret()];
    const headers = webhookHeaders({ msgId: 'evt_rot', timestampSeconds: nowSeconds(), body: BODY, secrets: [newSecret, oldSecret], userAgent: 'ua' });
    const parts = headers['webhook-signature']!.split(' ');
    assert.equal(parts.length, 2);
    assert.notEqual(parts[0], parts[1]);
    assert.deepEqual(new Webhook(newSecret).verify(BODY, headers), JSON.parse(BODY));
    assert.deepEqual(new Webhook(oldSecret).verify(BODY, headers), JSON.parse(BODY));
    assert.throws(() => new Webhook(unrelated).verify(BODY, headers), /No matching signature/);
  });

  test('a tampered body, id or timestamp fails verification', () => {
    const secret = generateWebhookSecret();
    const ts = nowSeconds();
    const headers = webhookHeaders({ msgId: 'evt_t', timestampSeconds: ts, body: BODY, secrets: [secret], userAgent: 'ua' });
    const hook = new Webhook(secret);
    const cases: Array<[string, string, Record<string, string>]> = [
      ['one character of the body', BODY.replace('"n":1', '"n":2'), headers],
      ['whitespace added to the body', `${BODY} `, headers],
      ['timestamp moved by one second', BODY, { ...headers, 'webhook-timestamp': String(ts - 1) }],
      ['another message id', BODY, { ...headers, 'webhook-id': 'evt_u' }],
    ];
    for (const [name, body, h] of cases) {
      assert.throws(() => hook.verify(body, h), /No matching signature/, name);
    }
    // A correct signature for a timestamp outside the receiver's tolerance is refused as well.
    const stale = webhookHeaders({ msgId: 'evt_t', timestampSeconds: ts - 3600, body: BODY, secrets: [secret], userAgent: 'ua' });
    assert.throws(() => hook.verify(BODY, stale), /too old/);
  });

  test('secrets that are not whsec_ + base64 are refused instead of signing with a wrong key', () => {
    for (const bad of ['MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'whsec_', 'whsec_not base64!', 'whsec_-_-_']) {
      assert.throws(() => signatureHeader([bad], 'id', 1, '{}'), /whsec_/, bad);
    }
    assert.throws(() => signatureHeader([], 'id', 1, '{}'), /At least one/);
    assert.throws(() => signatureHeader([VECTOR.secret], 'id', 1.5, '{}'), /whole seconds/);
  });
});
