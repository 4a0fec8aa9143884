import { releaseDomainClaim } from '../domains/domain-claims.js';
import { type CommandContext, operatorContext, serverBaseUrl } from './command.js';
import { printRows, say } from './output.js';
import { withStore } from './with-store.js';


/** `linkqr domain release HOSTNAME`: frees a name a workspace added and never proved. */
export async function domainRelease(ctx: CommandContext) {
  await withStore(ctx, async (store) => {
    const released = await releaseDomainClaim(
      {
        db: store.db,
        clock: store.clock,
        // The `link.deleted` payloads carry the short URLs.
        baseUrl: () => serverBaseUrl(ctx.config),
        // A server running beside this command hears it through the database's change feed (on
        // PostgreSQL); its webhook dispatcher finds the new events on its next poll.
        linkChanged: (domain, slug) => store.db.changes.publish({ kind: 'link', domain, slug }),
        outboxChanged: () => {},
      },
      operatorContext(),
      ctx.positionals[0]!,
    );
    if (ctx.options.json) return printRows([released], true);
    const links = released.linksRemoved === 1 ? '1 link' : `${released.linksRemoved} links`;
    say(`Released ${released.hostname} from workspace "${released.workspace}": its unverified domain and ${links} on it are removed; any workspace can add it now.`);
  });
}
