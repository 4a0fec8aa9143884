import { Eta } from 'eta';
import type { Assets } from '../lib/assets.js';

/** Eta reading templates through the assets module (so the single executable can embed them). */
export function createViews(assets: Assets): Eta {
  const eta = new Eta({ views: 'views', cache: true, autoEscape: true });
  eta.resolvePath = (template: string) => `views/${template.replace(/^\/+/, '')}${template.endsWith('.eta') ? '' : '.eta'}`;
  eta.readFile = (path: string) => assets.readText(path);
  return eta;
}
