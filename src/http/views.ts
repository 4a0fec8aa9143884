import { Eta } from 'eta';
import type { Assets } from '../lib/assets.js';
import type { PublicFiles } from './public-files.js';

/**
 * Eta reading templates through the assets module (so the single executable can embed them).
 * Every template may call `publicUrl('admin.css')`: the file's URL, versioned by its content.
 */
class Views extends Eta {
  constructor(readonly publicUrl: (name: string) => string) {
    // Templates run with the Eta instance as `this`: the header hands them its publicUrl.
    super({ views: 'views', cache: true, autoEscape: true, functionHeader: 'const publicUrl = this.publicUrl;' });
  }
}

export function createViews(assets: Assets, publicFiles: Pick<PublicFiles, 'url'>): Eta {
  const eta = new Views((name) => publicFiles.url(name));
  eta.resolvePath = (template: string) => `views/${template.replace(/^\/+/, '')}${template.endsWith('.eta') ? '' : '.eta'}`;
  eta.readFile = (path: string) => assets.readText(path);
  return eta;
}
