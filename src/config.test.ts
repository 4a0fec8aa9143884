import assert from 'node:assert/strict';
import { resolve } from 'node:path';
import { describe, test } from 'node:test';
import { type Config, ConfigError, loadConfig, SETTINGS } from './config.js';

const SECOND = 1_000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;

/** Runs loadConfig expecting it to fail, and returns the ConfigError. */
function configError(env: NodeJS.ProcessEnv, flags: Record<string, string | undefined> = {}): ConfigError {
  try {
    loadConfig(env, flags);
  } catch (e) {
    assert.ok(e instanceof ConfigError, `expected a ConfigError, got ${String(e)}`);
    return e;
  }
  assert.fail(`loadConfig accepted ${JSON.stringify({ env, flags })}`);
}

describe('configuration (SPEC §1)', () => {
  test('with nothing set, every setting has its documented default', () => {
    const config = loadConfig({});
    assert.deepEqual(config, {
      host: '127.0.0.1',
      port: 8080,
      baseUrl: undefined,
      dataDir: resolve(process.cwd(), 'data'),
      databaseUrl: undefined,
      logLevel: 'info',
      logFormat: undefined,
      trustProxy: false,
      webhookAllowedCidrs: [],
      backupCron: '0 3 * * *',
      backupKeep: 7,
      webhookRetrySchedule: [5 * SECOND, 5 * MINUTE, 30 * MINUTE, 2 * HOUR, 5 * HOUR, 10 * HOUR, 14 * HOUR, 20 * HOUR, 24 * HOUR],
      secret: undefined,
      addonDir: undefined,
      apiRateLimit: 1200,
      smtpUrl: undefined,
      mailFrom: undefined,
    } satisfies Config);
  });

  test('the loaded config is frozen (parsed once at boot, never changed later)', () => {
    const config = loadConfig({});
    assert.ok(Object.isFrozen(config));
    assert.throws(() => {
      (config as Config).port = 1;
    }, TypeError);
  });

  test('unrelated environment variables are ignored', () => {
    assert.deepEqual(loadConfig({ PORT: '1', HOST: '0.0.0.0', LINKQR_UNKNOWN: 'x' }), loadConfig({}));
  });

  // One row per setting: its env var and flag, a value for each, and what they parse to.
  const SECRET = 'k'.repeat(40);
  const perSetting: {
    key: keyof Config;
    env: string;
    flag: string;
    envValue: string;
    envParsed: unknown;
    flagValue: string;
    flagParsed: unknown;
    /** What the setting needs beside it to be accepted. */
    alongside?: NodeJS.ProcessEnv;
  }[] = [
    { key: 'host', env: 'LINKQR_HOST', flag: 'host', envValue: '0.0.0.0', envParsed: '0.0.0.0', flagValue: '::1', flagParsed: '::1' },
    { key: 'port', env: 'LINKQR_PORT', flag: 'port', envValue: '9000', envParsed: 9000, flagValue: '0', flagParsed: 0 },
    {
      key: 'baseUrl', env: 'LINKQR_BASE_URL', flag: 'base-url',
      envValue: 'https://go.example.com/', envParsed: 'https://go.example.com',
      flagValue: 'http://links.internal:8080/s/', flagParsed: 'http://links.internal:8080/s',
    },
    { key: 'dataDir', env: 'LINKQR_DATA_DIR', flag: 'data-dir', envValue: '/var/lib/linkqr', envParsed: '/var/lib/linkqr', flagValue: 'rel/dir', flagParsed: resolve('rel/dir') },
    {
      key: 'databaseUrl', env: 'LINKQR_DATABASE_URL', flag: 'database-url',
      envValue: 'postgres://linkqr:pw@db.internal:5432/linkqr', envParsed: 'postgres://linkqr:pw@db.internal:5432/linkqr',
      flagValue: 'postgresql://db.internal/linkqr?sslmode=require', flagParsed: 'postgresql://db.internal/linkqr?sslmode=require',
    },
    { key: 'logLevel', env: 'LINKQR_LOG_LEVEL', flag: 'log-level', envValue: 'debug', envParsed: 'debug', flagValue: 'silent', flagParsed: 'silent' },
    { key: 'logFormat', env: 'LINKQR_LOG_FORMAT', flag: 'log-format', envValue: 'json', envParsed: 'json', flagValue: 'pretty', flagParsed: 'pretty' },
    { key: 'trustProxy', env: 'LINKQR_TRUST_PROXY', flag: 'trust-proxy', envValue: 'on', envParsed: true, flagValue: '2', flagParsed: 2 },
    {
      key: 'webhookAllowedCidrs', env: 'LINKQR_WEBHOOK_ALLOWED_CIDRS', flag: 'webhook-allowed-cidrs',
      envValue: '10.0.0.0/8, 192.168.1.0/24', envParsed: ['10.0.0.0/8', '192.168.1.0/24'],
      flagValue: 'fd00::/8', flagParsed: ['fd00::/8'],
    },
    { key: 'backupCron', env: 'LINKQR_BACKUP_CRON', flag: 'backup-cron', envValue: '*/15 * * * *', envParsed: '*/15 * * * *', flagValue: '30 1 * * 0', flagParsed: '30 1 * * 0' },
    { key: 'backupKeep', env: 'LINKQR_BACKUP_KEEP', flag: 'backup-keep', envValue: '30', envParsed: 30, flagValue: '1', flagParsed: 1 },
    {
      key: 'webhookRetrySchedule', env: 'LINKQR_WEBHOOK_RETRY_SCHEDULE', flag: 'webhook-retry-schedule',
      envValue: '100ms, 1s,2m', envParsed: [100, SECOND, 2 * MINUTE],
      flagValue: '1h,1d', flagParsed: [HOUR, 24 * HOUR],
    },
    { key: 'addonDir', env: 'LINKQR_ADDON_DIR', flag: 'addon-dir', envValue: '/var/cache/linkqr', envParsed: '/var/cache/linkqr', flagValue: 'rel/addons', flagParsed: resolve('rel/addons') },
    { key: 'apiRateLimit', env: 'LINKQR_API_RATE_LIMIT', flag: 'api-rate-limit', envValue: '600', envParsed: 600, flagValue: '0', flagParsed: 0 },
    { key: 'secret', env: 'LINKQR_SECRET', flag: 'secret', envValue: SECRET, envParsed: SECRET, flagValue: 'f'.repeat(32), flagParsed: 'f'.repeat(32) },
    {
      key: 'smtpUrl', env: 'LINKQR_SMTP_URL', flag: 'smtp-url',
      envValue: 'smtp://linkqr:pw@mail.internal:587', envParsed: 'smtp://linkqr:pw@mail.internal:587',
      flagValue: 'smtps://mail.example.com', flagParsed: 'smtps://mail.example.com',
      alongside: { LINKQR_MAIL_FROM: 'linkqr@example.com' },
    },
    {
      key: 'mailFrom', env: 'LINKQR_MAIL_FROM', flag: 'mail-from',
      envValue: 'linkqr@example.com', envParsed: 'linkqr@example.com',
      flagValue: ' LinkQR <no-reply@go.example.com> ', flagParsed: 'LinkQR <no-reply@go.example.com>',
    },
  ];

  test('the table below covers every setting the code knows', () => {
    assert.deepEqual(
      perSetting.map((s) => [s.key, s.env, s.flag]).sort(),
      SETTINGS.map((s) => [s.key, s.env, s.flag]).sort(),
    );
  });

  for (const s of perSetting) {
    test(`${s.env} is read and parsed`, () => {
      assert.deepEqual(loadConfig({ ...s.alongside, [s.env]: s.envValue })[s.key], s.envParsed);
    });
    test(`--${s.flag} wins over ${s.env}`, () => {
      assert.deepEqual(loadConfig({ ...s.alongside, [s.env]: s.envValue }, { [s.flag]: s.flagValue })[s.key], s.flagParsed);
    });
  }

  test('a flag left undefined falls back to the environment, then to the default', () => {
    assert.equal(loadConfig({ LINKQR_PORT: '9001' }, { port: undefined }).port, 9001);
    assert.equal(loadConfig({}, { port: undefined }).port, 8080);
  });

  test('a good flag overrides a bad environment value without complaint', () => {
    const config = loadConfig({ LINKQR_PORT: 'abc', LINKQR_LOG_LEVEL: 'loud' }, { port: '8081', 'log-level': 'warn' });
    assert.equal(config.port, 8081);
    assert.equal(config.logLevel, 'warn');
  });

  test('a bad flag is reported under its flag name', () => {
    const err = configError({ LINKQR_PORT: '9000' }, { port: '70000' });
    assert.equal(err.problems.length, 1);
    assert.match(err.problems[0]!, /^--port="70000": /);
  });

  describe('LINKQR_BASE_URL', () => {
    const accepted: [string, string][] = [
      ['https://go.example.com', 'https://go.example.com'],
      ['https://go.example.com/', 'https://go.example.com'],
      ['https://go.example.com///', 'https://go.example.com'],
      ['https://GO.Example.com/', 'https://go.example.com'],
      ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
      ['https://example.com/go/', 'https://example.com/go'],
    ];
    for (const [raw, expected] of accepted) {
      test(`${raw} → ${expected} (no trailing slash)`, () => {
        assert.equal(loadConfig({ LINKQR_BASE_URL: raw }).baseUrl, expected);
      });
    }
    test('empty means "the address the server binds to"', () => {
      assert.equal(loadConfig({ LINKQR_BASE_URL: '' }).baseUrl, undefined);
    });

    const refused: [string, RegExp][] = [
      ['https://go.example.com/?utm=x', /query/],
      ['https://go.example.com/#top', /fragment/],
      ['https://user:pw@go.example.com', /credentials/],
      ['https://user@go.example.com', /credentials/],
      ['go.example.com', /absolute URL/],
      ['/relative', /absolute URL/],
      ['ftp://go.example.com', /http/],
      ['javascript:alert(1)', /http/],
    ];
    for (const [raw, message] of refused) {
      test(`${raw} is refused`, () => {
        const err = configError({ LINKQR_BASE_URL: raw });
        assert.equal(err.problems.length, 1);
        assert.match(err.problems[0]!, /^LINKQR_BASE_URL=/);
        assert.match(err.problems[0]!, message);
      });
    }

    // `new URL('https://:pw@host').username` is '' — only the password is set.
    test('a password without a user name is refused too', () => {
      const err = configError({ LINKQR_BASE_URL: 'https://:hunter2@go.example.com' });
      assert.match(err.problems[0]!, /credentials/);
    });

    // An empty query or fragment leaves url.search/url.hash empty but stays in url.href,
    // so short URLs would become "https://go.example.com/?/abc".
    for (const raw of ['https://go.example.com/?', 'https://go.example.com/#']) {
      test(`${raw} (empty query or fragment) is refused`, () => {
        const err = configError({ LINKQR_BASE_URL: raw });
        assert.match(err.problems[0]!, /query|fragment/);
      });
    }
  });

  describe('LINKQR_TRUST_PROXY', () => {
    const forms: [string, Config['trustProxy']][] = [
      ['off', false],
      ['false', false],
      ['no', false],
      ['0', false],
      ['on', true],
      ['ON', true],
      ['true', true],
      ['yes', true],
      ['1', 1],
      ['3', 3],
      ['loopback', ['loopback']],
      ['loopback, linklocal, uniquelocal', ['loopback', 'linklocal', 'uniquelocal']],
      ['10.0.0.1', ['10.0.0.1']],
      ['10.0.0.0/8,172.16.0.0/12', ['10.0.0.0/8', '172.16.0.0/12']],
      ['loopback, 192.168.0.0/16, ::1', ['loopback', '192.168.0.0/16', '::1']],
    ];
    for (const [raw, expected] of forms) {
      test(`"${raw}" → ${JSON.stringify(expected)}`, () => {
        assert.deepEqual(loadConfig({ LINKQR_TRUST_PROXY: raw }).trustProxy, expected);
      });
    }
    for (const raw of ['banana', '-1', '10.0.0.0/33', 'loopback,nonsense', '1.2.3']) {
      test(`"${raw}" is refused`, () => {
        const err = configError({ LINKQR_TRUST_PROXY: raw });
        assert.match(err.problems[0]!, /^LINKQR_TRUST_PROXY=/);
      });
    }
  });

  const badValues: [string, string][] = [
    ['LINKQR_HOST', 'my host'],
    ['LINKQR_HOST', ' '],
    ['LINKQR_PORT', 'abc'],
    ['LINKQR_PORT', '65536'],
    ['LINKQR_PORT', '-1'],
    ['LINKQR_PORT', '80.5'],
    ['LINKQR_PORT', '1e3'],
    ['LINKQR_DATA_DIR', ' '],
    ['LINKQR_LOG_LEVEL', 'loud'],
    ['LINKQR_LOG_LEVEL', 'INFO '],
    ['LINKQR_LOG_FORMAT', 'text'],
    ['LINKQR_LOG_FORMAT', 'JSON'],
    ['LINKQR_WEBHOOK_ALLOWED_CIDRS', '10.0.0.0/8,intranet'],
    ['LINKQR_WEBHOOK_ALLOWED_CIDRS', '300.1.1.1/32'],
    ['LINKQR_BACKUP_CRON', 'every night'],
    ['LINKQR_BACKUP_CRON', '61 3 * * *'],
    ['LINKQR_BACKUP_CRON', '0 3 * *'],
    ['LINKQR_BACKUP_KEEP', '0'],
    ['LINKQR_BACKUP_KEEP', '1001'],
    ['LINKQR_BACKUP_KEEP', 'seven'],
    ['LINKQR_WEBHOOK_RETRY_SCHEDULE', '5s,5x'],
    ['LINKQR_WEBHOOK_RETRY_SCHEDULE', '5'],
    ['LINKQR_WEBHOOK_RETRY_SCHEDULE', ''],
    // Past any date: the deliveries' next attempt could not be shown (it answered 500).
    ['LINKQR_WEBHOOK_RETRY_SCHEDULE', '5s,999999999d'],
    ['LINKQR_WEBHOOK_RETRY_SCHEDULE', '36501d'],
    ['LINKQR_WEBHOOK_RETRY_SCHEDULE', Array.from({ length: 21 }, () => '1s').join(',')],
    ['LINKQR_API_RATE_LIMIT', ''],
    ['LINKQR_API_RATE_LIMIT', '-1'],
    ['LINKQR_API_RATE_LIMIT', '100.5'],
    ['LINKQR_API_RATE_LIMIT', '1e3'],
    ['LINKQR_API_RATE_LIMIT', 'unlimited'],
    ['LINKQR_API_RATE_LIMIT', '1000000001'],
    ['LINKQR_SECRET', 'too-short'],
  ];
  for (const [env, raw] of badValues) {
    test(`${env}=${JSON.stringify(raw.length > 40 ? `${raw.slice(0, 20)}…` : raw)} is refused, naming the setting`, () => {
      const err = configError({ [env]: raw });
      assert.equal(err.problems.length, 1);
      assert.ok(err.problems[0]!.startsWith(`${env}=`), err.problems[0]);
    });
  }

  test('LINKQR_LOG_FORMAT: unset means "decide by the terminal"; a bad value names the two choices', () => {
    assert.equal(loadConfig({ LINKQR_LOG_FORMAT: '' }).logFormat, undefined);
    assert.equal(configError({ LINKQR_LOG_FORMAT: 'text' }).problems[0], 'LINKQR_LOG_FORMAT="text": must be pretty or json');
  });

  test('LINKQR_API_RATE_LIMIT: 0 means unlimited, and a bad value says so', () => {
    assert.equal(loadConfig({ LINKQR_API_RATE_LIMIT: '0' }).apiRateLimit, 0);
    assert.equal(loadConfig({ LINKQR_API_RATE_LIMIT: '1000000000' }).apiRateLimit, 1_000_000_000);
    const err = configError({ LINKQR_API_RATE_LIMIT: '20/s' });
    assert.match(err.problems[0]!, /^LINKQR_API_RATE_LIMIT="20\/s": must be a whole number of requests per minute per API key, from 0 \(unlimited\)/);
  });

  test('a bad retry schedule names the bad entry instead of claiming there are too many', () => {
    const err = configError({ LINKQR_WEBHOOK_RETRY_SCHEDULE: '1s,,2s' });
    assert.doesNotMatch(err.problems[0]!, /too many/);
  });

  test('several bad values at once: one ConfigError naming every bad setting, never the secret', () => {
    const secret = 'hunter2-hunter2'; // too short to be accepted
    const env = {
      LINKQR_PORT: 'abc',
      LINKQR_LOG_LEVEL: 'loud',
      LINKQR_BASE_URL: 'go.example.com',
      LINKQR_TRUST_PROXY: 'banana',
      LINKQR_WEBHOOK_ALLOWED_CIDRS: 'intranet',
      LINKQR_BACKUP_CRON: 'nightly',
      LINKQR_BACKUP_KEEP: '0',
      LINKQR_WEBHOOK_RETRY_SCHEDULE: 'soon',
      LINKQR_SECRET: secret,
      LINKQR_HOST: 'ok.example.com', // a good one among the bad
    };
    const err = configError(env, { 'data-dir': ' ' });
    const named = err.problems.map((p) => /^([^=]+)=/.exec(p)?.[1]).sort();
    assert.deepEqual(named, [
      '--data-dir',
      'LINKQR_BACKUP_CRON',
      'LINKQR_BACKUP_KEEP',
      'LINKQR_BASE_URL',
      'LINKQR_LOG_LEVEL',
      'LINKQR_PORT',
      'LINKQR_SECRET',
      'LINKQR_TRUST_PROXY',
      'LINKQR_WEBHOOK_ALLOWED_CIDRS',
      'LINKQR_WEBHOOK_RETRY_SCHEDULE',
    ]);
    // The message lists them all too (that is what the CLI prints).
    for (const p of err.problems) assert.ok(err.message.includes(p));
    // The other values are quoted back to help; the secret never is.
    assert.ok(err.message.includes('"abc"'));
    assert.ok(!err.message.includes(secret), 'the secret value leaked into the message');
    assert.ok(!err.problems.some((p) => p.includes(secret)), 'the secret value leaked into problems');
    assert.ok(!err.stack?.includes(secret), 'the secret value leaked into the stack');
  });

  test('a bad --secret flag is not echoed either', () => {
    const secret = 'flag-secret-xyz';
    const err = configError({}, { secret });
    assert.equal(err.problems.length, 1);
    assert.match(err.problems[0]!, /^--secret=/);
    assert.ok(!err.message.includes(secret));
  });

  describe('LINKQR_DATABASE_URL', () => {
    test('unset or empty: SQLite in the data dir', () => {
      assert.equal(loadConfig({ LINKQR_DATABASE_URL: '' }).databaseUrl, undefined);
    });

    for (const raw of ['mysql://linkqr:pw@db/linkqr', 'sqlite:///var/lib/linkqr/linkqr.db', 'db.internal:5432/linkqr', '/var/lib/linkqr/linkqr.db', 'postgres//db/linkqr']) {
      test(`${raw} is refused with one sentence that names the setting and an example`, () => {
        const err = configError({ LINKQR_DATABASE_URL: raw });
        assert.equal(err.problems.length, 1);
        assert.match(err.problems[0]!, /^LINKQR_DATABASE_URL=".*": must be a PostgreSQL URL such as postgres:\/\/linkqr:PASSWORD@db\.example\.com:5432\/linkqr \(postgres:\/\/ or postgresql:\/\/\), or unset for SQLite in the data dir$/);
      });
    }

    test('a refused URL is quoted without its password', () => {
      const err = configError({}, { 'database-url': 'mysql://linkqr:s3cret-pw@db.internal/linkqr?password=other-pw' });
      assert.match(err.problems[0]!, /^--database-url="mysql:\/\/linkqr:\*\*\*@db\.internal\/linkqr\?password=\*\*\*": /);
      assert.ok(!err.message.includes('s3cret-pw') && !err.message.includes('other-pw'));
    });

    test('a value that is not a URL at all is not quoted (it may hold a password)', () => {
      const err = configError({ LINKQR_DATABASE_URL: 'host=db user=linkqr password=s3cret-pw' });
      assert.ok(!err.message.includes('s3cret-pw'));
      assert.match(err.problems[0]!, /^LINKQR_DATABASE_URL="\(hidden: not a URL\)": must be a PostgreSQL URL/);
    });
  });
  describe('LINKQR_SMTP_URL and LINKQR_MAIL_FROM', () => {
    const FROM = { LINKQR_MAIL_FROM: 'LinkQR <linkqr@example.com>' };

    for (const raw of ['http://mail.example.com', 'mail.example.com:587', 'smtp:/nohost', 'mailto:linkqr@example.com']) {
      test(`${raw} is refused with a sentence that names the setting and an example`, () => {
        const err = configError({ ...FROM, LINKQR_SMTP_URL: raw });
        assert.equal(err.problems.length, 1);
        assert.match(err.problems[0]!, /^LINKQR_SMTP_URL=".*": must be an SMTP URL such as smtp:\/\/linkqr:PASSWORD@mail\.example\.com:587 \(smtp:\/\/ or smtps:\/\/\), or unset for no mail$/);
      });
    }

    test('a refused URL is quoted without its password', () => {
      const err = configError(FROM, { 'smtp-url': 'smtpx://linkqr:s3cret-pw@mail.internal:587' });
      assert.match(err.problems[0]!, /^--smtp-url="smtpx:\/\/linkqr:\*\*\*@mail\.internal:587": /);
      assert.ok(!err.message.includes('s3cret-pw'));
    });

    test('a mail server without a sender is refused, naming both settings', () => {
      const err = configError({ LINKQR_SMTP_URL: 'smtp://linkqr:s3cret-pw@mail.internal:587' });
      assert.deepEqual(err.problems, [
        'LINKQR_SMTP_URL (--smtp-url) is set without LINKQR_MAIL_FROM (--mail-from): set the address mail is sent from, e.g. "LinkQR <linkqr@example.com>"',
      ]);
      assert.ok(!err.message.includes('s3cret-pw'));
    });

    for (const raw of ['linkqr', 'LinkQR <linkqr>', 'a@b.c\r\nBcc: victim@example.com', 'LinkQR <a@b.c', '<>']) {
      test(`LINKQR_MAIL_FROM=${JSON.stringify(raw)} is refused (and not also reported as missing)`, () => {
        const err = configError({ LINKQR_SMTP_URL: 'smtp://mail.internal', LINKQR_MAIL_FROM: raw });
        assert.equal(err.problems.length, 1, err.message);
        assert.match(err.problems[0]!, /^LINKQR_MAIL_FROM=".*": must be a mail address such as linkqr@example\.com or "LinkQR <linkqr@example\.com>"$/);
      });
    }

    test('a sender alone is accepted: mail stays off until a server is set', () => {
      const config = loadConfig(FROM);
      assert.equal(config.smtpUrl, undefined);
      assert.equal(config.mailFrom, 'LinkQR <linkqr@example.com>');
    });
  });
});
