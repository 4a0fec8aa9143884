import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isBotRequest } from './classify.js';

const CHROME_WINDOWS =
  'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36';

/** Real user agents as they arrive at a short link, and whether the click is a bot's. */
const CASES: { name: string; method: string; ua: string | undefined; bot: boolean }[] = [
  // People in browsers and in-app browsers.
  { name: 'Chrome on Windows', method: 'GET', ua: CHROME_WINDOWS, bot: false },
  {
    name: 'Chrome on macOS',
    method: 'GET',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/125.0.0.0 Safari/537.36',
    bot: false,
  },
  { name: 'Firefox on Linux', method: 'GET', ua: 'Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0', bot: false },
  { name: 'Firefox on Windows', method: 'GET', ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:126.0) Gecko/20100101 Firefox/126.0', bot: false },
  {
    name: 'Safari on macOS',
    method: 'GET',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15',
    bot: false,
  },
  {
    name: 'Edge on Windows',
    method: 'GET',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0',
    bot: false,
  },
  {
    name: 'Safari on iPhone',
    method: 'GET',
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1',
    bot: false,
  },
  {
    name: 'Chrome on Android',
    method: 'GET',
    ua: 'Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Mobile Safari/537.36',
    bot: false,
  },
  {
    name: 'Samsung Internet',
    method: 'GET',
    ua: 'Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36',
    bot: false,
  },
  {
    name: 'Facebook in-app browser on iPhone',
    method: 'GET',
    ua: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/440.0.0.33.116;]',
    bot: false,
  },
  {
    name: 'Instagram in-app browser on Android',
    method: 'GET',
    ua: 'Mozilla/5.0 (Linux; Android 13; Pixel 7 Build/TQ3A.230805.001; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/116.0.0.0 Mobile Safari/537.36 Instagram 300.0.0.29.110 Android',
    bot: false,
  },

  // Not a person: HEAD requests and requests without a user agent.
  { name: 'HEAD from a real browser agent', method: 'HEAD', ua: CHROME_WINDOWS, bot: true },
  { name: 'GET without a user agent', method: 'GET', ua: undefined, bot: true },
  { name: 'GET with an empty user agent', method: 'GET', ua: '', bot: true },

  // Link-preview fetchers of chat and social apps.
  { name: 'Slackbot', method: 'GET', ua: 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', bot: true },
  { name: 'Slack image proxy', method: 'GET', ua: 'Slack-ImgProxy (+https://api.slack.com/robots)', bot: true },
  { name: 'facebookexternalhit', method: 'GET', ua: 'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)', bot: true },
  { name: 'Twitterbot', method: 'GET', ua: 'Twitterbot/1.0', bot: true },
  { name: 'Discordbot', method: 'GET', ua: 'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)', bot: true },
  { name: 'WhatsApp', method: 'GET', ua: 'WhatsApp/2.23.20.0 A', bot: true },
  { name: 'TelegramBot', method: 'GET', ua: 'TelegramBot (like TwitterBot)', bot: true },
  {
    name: 'LinkedInBot',
    method: 'GET',
    ua: 'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
    bot: true,
  },
  {
    name: 'iMessage link preview (poses as Safari)',
    method: 'GET',
    ua: 'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_11_1) AppleWebKit/601.2.4 (KHTML, like Gecko) Version/9.0.1 Safari/601.2.4 facebookexternalhit/1.1 Facebot Twitterbot/1.0',
    bot: true,
  },

  // Crawlers and scripts.
  { name: 'Googlebot', method: 'GET', ua: 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)', bot: true },
  {
    name: 'Googlebot smartphone',
    method: 'GET',
    ua: 'Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
    bot: true,
  },
  { name: 'bingbot', method: 'GET', ua: 'Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)', bot: true },
  {
    name: 'GPTBot',
    method: 'GET',
    ua: 'Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.0; +https://openai.com/gptbot)',
    bot: true,
  },
  {
    name: 'Headless Chrome',
    method: 'GET',
    ua: 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36',
    bot: true,
  },
  { name: 'curl', method: 'GET', ua: 'curl/8.4.0', bot: true },
  { name: 'python-requests', method: 'GET', ua: 'python-requests/2.31.0', bot: true },
  { name: 'Go http client', method: 'GET', ua: 'Go-http-client/1.1', bot: true },
  { name: 'Node fetch default agent', method: 'GET', ua: 'node', bot: true },
];

describe('isBotRequest', () => {
  for (const c of CASES) {
    test(`${c.name} → ${c.bot ? 'bot' : 'human'}`, () => {
      assert.equal(isBotRequest(c.method, c.ua), c.bot);
    });
  }

  test('a verdict does not depend on what was asked before (the verdict cache keys by agent only)', () => {
    // The same browser agent is a human on GET and a bot on HEAD, in either order.
    assert.equal(isBotRequest('HEAD', CHROME_WINDOWS), true);
    assert.equal(isBotRequest('GET', CHROME_WINDOWS), false);
    assert.equal(isBotRequest('HEAD', CHROME_WINDOWS), true);
  });
});
