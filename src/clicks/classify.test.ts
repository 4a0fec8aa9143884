import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { classifyAgent, isBotRequest, referrerHost, type AgentClass } from './classify.js';

const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';
const SAFARI_MACOS =
  'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';

const bot = (name: string): AgentClass => ({ device: 'bot', browser: name, os: 'Other' });

/** Real user agents as they arrive at a short link, and what each click counts as. */
const AGENTS: { name: string; ua: string; expected: AgentClass }[] = [
  // Desktop browsers.
  { name: 'Chrome on Windows', ua: CHROME_WINDOWS, expected: { device: 'desktop', browser: 'Chrome', os: 'Windows' } },
  {
    name: 'Chrome on macOS',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    expected: { device: 'desktop', browser: 'Chrome', os: 'macOS' },
  },
  {
    name: 'Chrome on Linux',
    ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    expected: { device: 'desktop', browser: 'Chrome', os: 'Linux' },
  },
  {
    name: 'Chrome on a Chromebook',
    ua: 'Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    expected: { device: 'desktop', browser: 'Chrome', os: 'Chrome OS' },
  },
  {
    name: 'Edge on Windows',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
    expected: { device: 'desktop', browser: 'Microsoft Edge', os: 'Windows' },
  },
  {
    name: 'Edge on macOS',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
    expected: { device: 'desktop', browser: 'Microsoft Edge', os: 'macOS' },
  },
  {
    name: 'Firefox on Windows',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0',
    expected: { device: 'desktop', browser: 'Firefox', os: 'Windows' },
  },
  {
    name: 'Firefox on macOS',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:127.0) Gecko/20100101 Firefox/127.0',
    expected: { device: 'desktop', browser: 'Firefox', os: 'macOS' },
  },
  {
    name: 'Firefox on Ubuntu',
    ua: 'Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0',
    expected: { device: 'desktop', browser: 'Firefox', os: 'Linux' },
  },
  { name: 'Safari on macOS', ua: SAFARI_MACOS, expected: { device: 'desktop', browser: 'Safari', os: 'macOS' } },
  {
    name: 'Opera on Windows',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 OPR/111.0.0.0',
    expected: { device: 'desktop', browser: 'Opera', os: 'Windows' },
  },
  {
    name: 'Vivaldi on Windows',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Vivaldi/6.7.3329.35',
    expected: { device: 'desktop', browser: 'Vivaldi', os: 'Windows' },
  },

  // Phones.
  {
    name: 'Safari on iPhone',
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    expected: { device: 'mobile', browser: 'Safari', os: 'iOS' },
  },
  {
    name: 'Chrome on iPhone',
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
    expected: { device: 'mobile', browser: 'Chrome', os: 'iOS' },
  },
  {
    name: 'Firefox on iPhone',
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) FxiOS/127.0 Mobile/15E148 Safari/605.1.15',
    expected: { device: 'mobile', browser: 'Firefox', os: 'iOS' },
  },
  {
    name: 'Edge on iPhone',
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) EdgiOS/126.0.2592.56 Version/17.0 Mobile/15E148 Safari/604.1',
    expected: { device: 'mobile', browser: 'Microsoft Edge', os: 'iOS' },
  },
  {
    name: 'Chrome on Android (reduced agent)',
    ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
    expected: { device: 'mobile', browser: 'Chrome', os: 'Android' },
  },
  {
    name: 'Chrome on a Pixel',
    ua: 'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
    expected: { device: 'mobile', browser: 'Chrome', os: 'Android' },
  },
  {
    name: 'Firefox on Android',
    ua: 'Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0',
    expected: { device: 'mobile', browser: 'Firefox', os: 'Android' },
  },
  {
    name: 'Edge on Android',
    ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 EdgA/126.0.0.0',
    expected: { device: 'mobile', browser: 'Microsoft Edge', os: 'Android' },
  },
  {
    name: 'Opera on Android',
    ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36 OPR/83.0.0.0',
    expected: { device: 'mobile', browser: 'Opera', os: 'Android' },
  },
  {
    name: 'Samsung Internet on a Galaxy phone',
    ua: 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
    expected: { device: 'mobile', browser: 'Samsung Internet for Android', os: 'Android' },
  },
  {
    name: 'Facebook in-app browser on iPhone',
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.33.116;]',
    expected: { device: 'mobile', browser: 'Safari', os: 'iOS' },
  },
  {
    name: 'Instagram in-app browser on Android',
    ua: 'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 Instagram 300.0.0.29.110 Android',
    expected: { device: 'mobile', browser: 'Chrome', os: 'Android' },
  },

  // Tablets.
  {
    name: 'Safari on iPad (mobile site)',
    ua: 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    expected: { device: 'tablet', browser: 'Safari', os: 'iOS' },
  },
  {
    name: 'Chrome on iPad',
    ua: 'Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1',
    expected: { device: 'tablet', browser: 'Chrome', os: 'iOS' },
  },
  {
    // iPadOS Safari asks for the desktop site by default and then sends the macOS agent byte for byte.
    name: 'Safari on iPad (desktop site) counts as a Mac',
    ua: SAFARI_MACOS,
    expected: { device: 'desktop', browser: 'Safari', os: 'macOS' },
  },
  {
    // Chrome on Android tablets leaves "Mobile" out of the agent.
    name: 'Chrome on an Android tablet (reduced agent)',
    ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36',
    expected: { device: 'tablet', browser: 'Chrome', os: 'Android' },
  },
  {
    name: 'Samsung Internet on a Galaxy Tab',
    ua: 'Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Safari/537.36',
    expected: { device: 'tablet', browser: 'Samsung Internet for Android', os: 'Android' },
  },

  // TVs, consoles and watches are none of desktop, phone or tablet.
  {
    name: 'Samsung smart TV',
    ua: 'Mozilla/5.0 (SMART-TV; LINUX; Tizen 6.0) AppleWebKit/537.36 (KHTML, like Gecko) 76.0.3809.146/6.0 TV Safari/537.36',
    expected: { device: 'other', browser: 'Tizen', os: 'Tizen' },
  },
  {
    name: 'LG webOS TV',
    ua: 'Mozilla/5.0 (Web0S; Linux/SmartTV) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/87.0.4280.88 Safari/537.36 WebAppManager',
    expected: { device: 'other', browser: 'WebOS Browser', os: 'WebOS' },
  },
  {
    name: 'Silk on a Fire TV',
    ua: 'Mozilla/5.0 (Linux; Android 9; AFTMM) AppleWebKit/537.36 (KHTML, like Gecko) Silk/112.5.1 like Chrome/112.0.5615.213 Safari/537.36',
    expected: { device: 'other', browser: 'Amazon Silk', os: 'Android' },
  },
  {
    name: 'Chromecast',
    ua: 'Mozilla/5.0 (X11; Linux armv7l) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/86.0.4240.193 Safari/537.36 CrKey/1.54.250320',
    expected: { device: 'other', browser: 'Chrome', os: 'Linux' },
  },
  {
    name: 'Edge on an Xbox',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; Xbox; Xbox One) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/70.0.3538.102 Safari/537.36 Edge/18.19041',
    expected: { device: 'other', browser: 'Microsoft Edge', os: 'Windows' },
  },
  {
    name: 'PlayStation 5',
    ua: 'Mozilla/5.0 (PlayStation; PlayStation 5/2.26) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.0 Safari/605.1.15',
    expected: { device: 'other', browser: 'Safari', os: 'Other' },
  },
  {
    name: 'Nintendo Switch',
    ua: 'Mozilla/5.0 (Nintendo Switch; WifiWebAuthApplet) AppleWebKit/606.4 (KHTML, like Gecko) NF/6.0.1.15.4 NintendoBrowser/5.1.0.20393',
    expected: { device: 'other', browser: 'Safari', os: 'Other' },
  },
  {
    name: 'Apple Watch',
    ua: 'Mozilla/5.0 (Watch; CPU Watch OS 10_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/10.0 Mobile/15E148 Safari/604.1',
    expected: { device: 'other', browser: 'Safari', os: 'Other' },
  },
  {
    name: 'Samsung Internet on a Galaxy Watch',
    ua: 'Mozilla/5.0 (Linux; Android 11; SAMSUNG SM-R925U) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/3.2 Chrome/111.0.5563.116 Mobile Safari/537.36',
    expected: { device: 'other', browser: 'Samsung Internet for Android', os: 'Android' },
  },

  // Link-preview fetchers of chat and social apps.
  { name: 'Slackbot', ua: 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', expected: bot('Slackbot') },
  { name: 'Slack image proxy', ua: 'Slack-ImgProxy (+https://api.slack.com/robots)', expected: bot('Slackbot') },
  {
    name: 'facebookexternalhit',
    ua: 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
    expected: bot('facebookexternalhit'),
  },
  { name: 'Twitterbot', ua: 'Twitterbot/1.0', expected: bot('Twitterbot') },
  { name: 'Discordbot', ua: 'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)', expected: bot('Discordbot') },
  { name: 'WhatsApp', ua: 'WhatsApp/2.23.20.0', expected: bot('WhatsApp') },
  { name: 'WhatsApp on Android', ua: 'WhatsApp/2.23.20.0 A', expected: bot('WhatsApp') },
  { name: 'TelegramBot (which also names Twitterbot)', ua: 'TelegramBot (like TwitterBot)', expected: bot('TelegramBot') },
  {
    name: 'LinkedInBot',
    ua: 'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
    expected: bot('LinkedInBot'),
  },
  {
    name: 'Skype / Teams preview',
    ua: 'Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5 skype-url-preview@microsoft.com',
    expected: bot('SkypeUriPreview'),
  },
  {
    name: 'Pinterestbot',
    ua: 'Mozilla/5.0 (compatible; Pinterestbot/1.0; +http://www.pinterest.com/bot.html)',
    expected: bot('Pinterestbot'),
  },
  { name: 'redditbot', ua: 'Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)', expected: bot('redditbot') },
  {
    name: 'iMessage link preview (poses as Safari)',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0',
    expected: bot('facebookexternalhit'),
  },

  // Crawlers.
  { name: 'Googlebot', ua: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', expected: bot('Googlebot') },
  {
    name: 'Googlebot smartphone (poses as Chrome on Android)',
    ua: 'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    expected: bot('Googlebot'),
  },
  { name: 'bingbot', ua: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', expected: bot('bingbot') },
  {
    name: 'Applebot (poses as Safari)',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)',
    expected: bot('Applebot'),
  },
  {
    name: 'GPTBot',
    ua: 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)',
    expected: bot('GPTBot'),
  },
  {
    name: 'ClaudeBot',
    ua: 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; ClaudeBot/1.0; +claudebot@anthropic.com)',
    expected: bot('ClaudeBot'),
  },
  { name: 'YandexBot', ua: 'Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)', expected: bot('YandexBot') },
  { name: 'a crawler without a name of its own', ua: 'Mozilla/5.0 (compatible; Google-InspectionTool/1.0;)', expected: bot('Bot') },

  // Headless browsers and scripts.
  {
    name: 'Headless Chrome',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
    expected: bot('HeadlessChrome'),
  },
  {
    name: 'Headless Chrome on Linux (Puppeteer default)',
    ua: 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0.0.0 Safari/537.36',
    expected: bot('HeadlessChrome'),
  },
  { name: 'curl', ua: 'curl/8.4.0', expected: bot('curl') },
  { name: 'Wget', ua: 'Wget/1.21.4', expected: bot('Wget') },
  { name: 'python-requests', ua: 'python-requests/2.31.0', expected: bot('python-requests') },
  { name: 'Go http client', ua: 'Go-http-client/1.1', expected: bot('Go-http-client') },
  { name: 'Go http client over HTTP/2', ua: 'Go-http-client/2.0', expected: bot('Go-http-client') },
  { name: 'Node fetch default agent', ua: 'node', expected: bot('Bot') },

  // Agents bowser does not know: its fallback would name the browser after the agent's own text.
  {
    name: 'an unknown browser',
    ua: 'Mozilla/5.0 (X11; Linux x86_64) NotARealBrowser/1.0 (zzz)',
    expected: { device: 'desktop', browser: 'Other', os: 'Linux' },
  },
];

describe('classifyAgent', () => {
  for (const c of AGENTS) {
    test(`${c.name} → ${c.expected.device}, ${c.expected.browser}, ${c.expected.os}`, () => {
      assert.deepEqual(classifyAgent(c.ua), c.expected);
    });
  }

  test('no user agent is an unknown device, browser and OS', () => {
    const unknown = { device: 'other', browser: 'Other', os: 'Other' };
    assert.deepEqual(classifyAgent(undefined), unknown);
    assert.deepEqual(classifyAgent(''), unknown);
  });

  test('only the first 512 characters count, so padding cannot smuggle anything past them', () => {
    const padded = CHROME_WINDOWS + ' '.repeat(600) + 'Googlebot/2.1 ' + 'x'.repeat(100_000);
    assert.deepEqual(classifyAgent(padded), { device: 'desktop', browser: 'Chrome', os: 'Windows' });
    assert.equal(isBotRequest('GET', padded), false);
  });

  test('a bot token within the first 512 characters still makes a bot', () => {
    const padded = CHROME_WINDOWS + ' Googlebot/2.1 ' + 'x'.repeat(100_000);
    assert.deepEqual(classifyAgent(padded), bot('Googlebot'));
  });

  test('a repeated agent gets the same class', () => {
    assert.deepEqual(classifyAgent(CHROME_WINDOWS), classifyAgent(CHROME_WINDOWS));
  });
});

describe('isBotRequest', () => {
  for (const c of AGENTS) {
    const isBot = c.expected.device === 'bot';
    test(`GET from ${c.name} → ${isBot ? 'bot' : 'human'}`, () => {
      assert.equal(isBotRequest('GET', c.ua), isBot);
    });
  }

  test('HEAD is a bot even from a browser agent', () => {
    assert.equal(isBotRequest('HEAD', CHROME_WINDOWS), true);
  });

  test('no user agent, or an empty one, is a bot (browsers always send one)', () => {
    assert.equal(isBotRequest('GET', undefined), true);
    assert.equal(isBotRequest('GET', ''), true);
  });

  test('a verdict does not depend on what was asked before (the cache keys by agent only)', () => {
    // The same browser agent is a human on GET and a bot on HEAD, in either order.
    assert.equal(isBotRequest('HEAD', CHROME_WINDOWS), true);
    assert.equal(isBotRequest('GET', CHROME_WINDOWS), false);
    assert.equal(isBotRequest('HEAD', CHROME_WINDOWS), true);
  });
});

describe('referrerHost', () => {
  const CASES: { name: string; referer: string | undefined; host: string | null }[] = [
    { name: 'https page', referer: 'https://news.ycombinator.com/item?id=40000000', host: 'news.ycombinator.com' },
    { name: 'http page', referer: 'http://example.org/blog/post', host: 'example.org' },
    { name: 'leading www. dropped', referer: 'https://www.google.com/', host: 'google.com' },
    { name: 'only a leading www. is dropped', referer: 'https://docs.www.example.com/', host: 'docs.www.example.com' },
    { name: 'with a port', referer: 'https://example.com:8443/path', host: 'example.com' },
    { name: 'upper case', referer: 'HTTPS://WWW.Example.COM/Path', host: 'example.com' },
    { name: 'credentials dropped', referer: 'https://user:secret@t.co/abc', host: 't.co' },
    { name: 'trailing dot of a fully qualified name', referer: 'https://example.com./', host: 'example.com' },
    { name: 'international name in its ASCII form', referer: 'https://bücher.example/', host: 'xn--bcher-kva.example' },
    { name: 'IPv4 address', referer: 'http://192.168.1.10:8080/', host: '192.168.1.10' },
    { name: 'IPv6 address', referer: 'http://[2001:db8::1]/', host: '[2001:db8::1]' },
    { name: 'long path, short host', referer: `https://example.com/${'p'.repeat(5_000)}`, host: 'example.com' },
    { name: 'Android app referrer', referer: 'android-app://com.google.android.gm/', host: null },
    { name: 'ftp', referer: 'ftp://example.com/file', host: null },
    { name: 'about:blank', referer: 'about:blank', host: null },
    { name: 'garbage', referer: 'not a url', host: null },
    { name: 'scheme without a host', referer: 'https://', host: null },
    { name: 'nothing but www.', referer: 'https://www./', host: null },
    { name: 'empty', referer: '', host: null },
    { name: 'missing', referer: undefined, host: null },
    { name: 'host longer than DNS allows', referer: `https://${'a.'.repeat(130)}com/`, host: null },
  ];
  for (const c of CASES) {
    test(`${c.name} → ${c.host}`, () => {
      assert.equal(referrerHost(c.referer), c.host);
    });
  }

  test('a host of 253 characters, the most DNS allows, is kept; one more is not', () => {
    const host = `${'a'.repeat(62)}.${'b'.repeat(62)}.${'c'.repeat(62)}.${'d'.repeat(60)}.com`;
    assert.equal(host.length, 253);
    assert.equal(referrerHost(`https://${host}/`), host);
    assert.equal(referrerHost(`https://d${host}/`), null);
  });
});
