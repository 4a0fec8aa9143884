import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { test } from 'node:test';
import { loadAtRestKeys } from '../secrets/at-rest-key.js';
import { SecretBox } from '../secrets/secret-box.js';
import { tempDataDir } from '../testing/harness.js';
import { sealEndpointSecret, SigningSecrets } from './endpoint-secrets.js';

test('SigningSecrets: the secrets in clear, the previous one only in its grace period, each in its own place only, however many endpoints', (ctx) => {
  const dataDir = tempDataDir();
  ctx.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const box = new SecretBox(loadAtRestKeys({ secret: undefined, dataDir }));
  const secrets = new SigningSecrets(box, 4);
  const row = (id: string, n: number, previousUntil: number | null = null) => ({
    secret: sealEndpointSecret(box, id, 'secret', `whsec_${id}_${n}`),
    previous_secret: previousUntil === null ? null : sealEndpointSecret(box, id, 'previous_secret', `whsec_${id}_${n - 1}`),
    previous_secret_expires_at: previousUntil,
  });
  const a = row('whk_a', 2, 1_000);
  assert.deepEqual(secrets.of('whk_a', a, 999), ['whsec_whk_a_2', 'whsec_whk_a_1']);
  assert.deepEqual(secrets.of('whk_a', a, 1_000), ['whsec_whk_a_2'], 'the grace period is over');
  // Opened before for whk_a: another endpoint's row holding the same sealed value is not opened by it.
  assert.equal(secrets.of('whk_b', a, 0), undefined);
  // More endpoints than it keeps (4), twice over, the first again: each still opens to its own secret.
  const rows = Array.from({ length: 10 }, (_, i) => [`whk_${i}`, row(`whk_${i}`, 1)] as const);
  for (let round = 0; round < 2; round++) for (const [id, r] of rows) assert.deepEqual(secrets.of(id, r, 0), [`whsec_${id}_1`]);
  // A rotated secret is a new sealed value: the new secret, never the one kept for the old value.
  const rotated = row('whk_a', 3, 5_000);
  assert.deepEqual(secrets.of('whk_a', rotated, 0), ['whsec_whk_a_3', 'whsec_whk_a_2']);
});
