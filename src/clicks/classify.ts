import { isbot } from 'isbot';
import { LRUCache } from 'lru-cache';

// The same few user agents repeat; remember verdicts instead of running the pattern each time.
const verdicts = new LRUCache<string, boolean>({ max: 5_000 });

/**
 * A click is a bot click when it is a HEAD request, has no user agent (browsers always send
 * one), or the agent is a known crawler or link-preview fetcher (isbot's maintained list
 * covers Slackbot, facebookexternalhit, Twitterbot, Discordbot, WhatsApp, TelegramBot, curl…).
 */
export function isBotRequest(method: string, userAgent: string | undefined): boolean {
  if (method === 'HEAD' || !userAgent) return true;
  let verdict = verdicts.get(userAgent);
  if (verdict === undefined) {
    verdict = isbot(userAgent);
    verdicts.set(userAgent, verdict);
  }
  return verdict;
}
