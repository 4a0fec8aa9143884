import Bowser from 'bowser';
import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';

export type Device = 'desktop' | 'mobile' | 'tablet' | 'bot' | 'other';

/**
 * What kind of client made a click. Every field comes from a fixed vocabulary (never from the
 * agent's own text), because the values become GROUP BY keys in the rollup tables.
 */
export type AgentClass = { readonly device: Device; readonly browser: string; readonly os: string };

const OTHER = 'Other';
const UNKNOWN_AGENT: AgentClass = Object.freeze({ device: 'other', browser: OTHER, os: OTHER });

// Real agents are a few hundred characters; the click recorder stores the first 512 too, so the
// stored agent reclassifies to the same verdict, and a padded 16 KB header costs no more than a real one.
const AGENT_CHARS_CONSIDERED = 512;

// The same few agents repeat; remember verdicts and classes instead of parsing each time.
const botVerdicts = new LRUCache<string, boolean>({ max: 5_000 });
const classes = new LRUCache<string, AgentClass>({ max: 5_000 });

/**
 * A click is a bot click when it is a HEAD request, has no user agent (browsers always send
 * one), or the agent is a known crawler or link-preview fetcher. isbot's maintained list covers
 * every preview fetcher we care about (Slackbot, facebookexternalhit, Twitterbot, Discordbot,
 * WhatsApp, TelegramBot, LinkedInBot, SkypeUriPreview, Pinterestbot, redditbot, Applebot) and
 * scripts (curl, Wget, python-requests, Go-http-client, HeadlessChrome), so it needs no extra
 * pattern of ours; the tests pin each one.
 */
export function isBotRequest(method: string, userAgent: string | undefined): boolean {
  if (method === 'HEAD' || !userAgent) return true;
  // On the redirect path: isbot alone (about 2 µs on a miss), not the full classification (about
  // 10 µs with bowser), which the click batch does later. Both decide "bot" with the same isbot call.
  const agent = userAgent.slice(0, AGENT_CHARS_CONSIDERED);
  let verdict = botVerdicts.get(agent);
  if (verdict === undefined) botVerdicts.set(agent, (verdict = isbot(agent)));
  return verdict;
}

/**
 * The device, browser and OS behind a user agent, as short names ("Chrome", "Samsung Internet
 * for Android", "iOS", "Chrome OS"…; "Other" when unknown). Bots get device 'bot' and their own
 * name as the browser. TVs, consoles and watches are 'other'.
 *
 * iPadOS Safari asks for desktop sites by default and then sends exactly the macOS Safari agent,
 * so those iPads count as macOS desktops: nothing in the request tells them apart.
 */
export function classifyAgent(userAgent: string | undefined): AgentClass {
  if (!userAgent) return UNKNOWN_AGENT;
  const agent = userAgent.slice(0, AGENT_CHARS_CONSIDERED);
  let found = classes.get(agent);
  if (found === undefined) {
    found = Object.freeze(isbot(agent) ? classifyBot(agent) : classifyBrowser(agent));
    classes.set(agent, found);
  }
  return found;
}

// Checked in order, first match wins: an agent naming two bots is named for the first listed
// (Telegram's "TelegramBot (like TwitterBot)"; iMessage previews claim facebookexternalhit and Twitterbot).
const BOT_NAMES: readonly (readonly [name: string, pattern: RegExp])[] = [
  ['Googlebot', /Googlebot/i],
  ['bingbot', /bingbot/i],
  ['Applebot', /Applebot/i],
  ['Slackbot', /Slackbot|Slack-ImgProxy/i],
  ['facebookexternalhit', /facebookexternalhit/i],
  ['TelegramBot', /TelegramBot/i],
  ['Twitterbot', /Twitterbot/i],
  ['Discordbot', /Discordbot/i],
  ['WhatsApp', /WhatsApp/i],
  ['LinkedInBot', /LinkedInBot/i],
  ['SkypeUriPreview', /SkypeUriPreview/i],
  ['Pinterestbot', /Pinterestbot/i],
  ['redditbot', /redditbot/i],
  ['GPTBot', /GPTBot/i],
  ['ClaudeBot', /ClaudeBot/i],
  ['YandexBot', /YandexBot/i],
  ['HeadlessChrome', /HeadlessChrome/i],
  ['curl', /\bcurl\//i],
  ['Wget', /\bWget\//i],
  ['python-requests', /python-requests/i],
  ['Go-http-client', /Go-http-client/i],
];

function classifyBot(agent: string): AgentClass {
  const known = BOT_NAMES.find(([, pattern]) => pattern.test(agent));
  return { device: 'bot', browser: known ? known[0] : 'Bot', os: OTHER };
}

// bowser files smart TVs under 'tv' and finds no platform in PlayStation or Switch agents, but it
// takes these for desktops, tablets or phones (an Xbox sends a Windows Edge agent, a Fire TV a Silk
// one, a Galaxy Watch a Samsung Internet one). Case-sensitive: the tokens are spelled exactly so,
// and "aft…" begins many words. Chromecast: CrKey; Fire TV: AFT<model>; Apple Watch: "(Watch; CPU
// Watch OS…"; Galaxy Watch: SM-R<model>.
const TV_CONSOLE_OR_WATCH = /\b(?:CrKey|AFT[A-Z]+|Xbox)\b|\(Watch;|\bSM-R\d/;

// bowser falls back to the agent's first product token ("Mozilla", "WhatsApp", anything a client
// makes up) when it knows no browser: only names from its own list are kept.
const KNOWN_BROWSERS = new Set(Object.values(Bowser.BROWSER_MAP));
const KNOWN_OSES = new Set(Object.values(Bowser.OS_MAP));

function classifyBrowser(agent: string): AgentClass {
  const parsed = Bowser.parse(agent);
  return {
    device: TV_CONSOLE_OR_WATCH.test(agent) ? 'other' : deviceOf(parsed.platform.type),
    browser: known(KNOWN_BROWSERS, parsed.browser.name),
    os: known(KNOWN_OSES, parsed.os.name),
  };
}

function deviceOf(platformType: string | undefined): Device {
  // bowser's own 'bot' platform is ignored: isbot alone decides what is a bot, so that
  // isBotRequest and classifyAgent never disagree.
  return platformType === 'desktop' || platformType === 'mobile' || platformType === 'tablet' ? platformType : 'other';
}

function known(names: ReadonlySet<string>, name: string | undefined): string {
  return name !== undefined && names.has(name) ? name : OTHER;
}

const MAX_HOSTNAME_LENGTH = 253;

/**
 * The site a click came from: the lower-cased hostname of an http(s) referrer, without a leading
 * "www." (www.example.com and example.com are one site to whoever reads the stats). Null when
 * there is no referrer, it does not parse, or it is not a web page (android-app://…, about:…).
 */
export function referrerHost(referer: string | undefined): string | null {
  if (!referer) return null;
  let url: URL;
  try {
    url = new URL(referer);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  // WHATWG URL already lower-cases and punycodes http(s) hostnames, and drops port and credentials.
  const host = url.hostname.replace(/^www\./, '').replace(/\.$/, '');
  return host && host.length <= MAX_HOSTNAME_LENGTH ? host : null;
}
