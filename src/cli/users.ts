import { createUser } from '../users/users.service.js';
import { type CommandContext, operatorContext, stringOption } from './command.js';
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
