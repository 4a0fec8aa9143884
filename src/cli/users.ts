import { resetPasswordByEmail } from '../users/password-reset.js';
import { passwordLink } from '../users/password-tokens.js';
import { resetTwoFactorByEmail } from '../users/two-factor.js';
import { createUser } from '../users/users.service.js';
import { type CommandContext, operatorContext, serverBaseUrl, stringOption } from './command.js';
import { readStdin, say } from './output.js';
import { withStore } from './with-store.js';

/** --email and --password-stdin are required options (main.ts checks them). */
export async function userCreate(ctx: CommandContext) {
  const password = await readStdin();
  await withStore(ctx, async (store) => {
    const { user, workspace, role } = await createUser(store, operatorContext(), {
      email: stringOption(ctx, 'email')!,
      password,
      role: stringOption(ctx, 'role'),
      workspace: stringOption(ctx, 'workspace'),
    });
    say(
      `Created user ${user.email}${user.is_instance_admin ? ' (instance admin)' : ''}` +
        (workspace ? `, ${role} of workspace "${workspace}".` : '.'),
    );
    process.stdout.write(`${user.id}\n`);
  });
}

/**
 * `linkqr user reset-password --email E`: the way back in for someone who lost their password
 * (an instance's only admin too). Only the link on stdout, so `LINK=$(linkqr user reset-password …)`
 * works; what it is for on stderr.
 */
export async function userResetPassword(ctx: CommandContext) {
  const { config } = ctx;
  await withStore(ctx, async (store) => {
    const issued = await resetPasswordByEmail(store, operatorContext(), stringOption(ctx, 'email')!);
    const hours = Math.round((issued.expiresAt - store.clock.now()) / 3_600_000);
    if (config.baseUrl === undefined) say(`LINKQR_BASE_URL is not set: the link uses the server's own address, ${serverBaseUrl(config)}.`);
    say(`One-time link for ${issued.email} to choose a new password: it works once, within ${hours} hours, and signs them out everywhere when used.`);
    process.stdout.write(`${passwordLink(serverBaseUrl(config), issued.token)}\n`);
  });
}

/**
 * `linkqr user reset-two-factor --email E`: the way back in for someone who lost both their
 * authenticator and their recovery codes (an instance's only admin too).
 */
export async function userResetTwoFactor(ctx: CommandContext) {
  await withStore(ctx, async (store) => {
    const { email, wasOn } = await resetTwoFactorByEmail(store, operatorContext(), stringOption(ctx, 'email')!);
    say(
      wasOn
        ? `Two-factor sign-in is off for ${email}: their password alone signs them in until they set it up again (Account page).`
        : `${email} had no two-factor sign-in: nothing changed.`,
    );
  });
}
