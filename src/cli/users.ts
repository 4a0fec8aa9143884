import { errors } from '../lib/errors.js';
import { createUser } from '../users/users.service.js';
import { type Command, operatorContext, stringOption } from './command.js';
import { readStdin, say } from './output.js';
import { withStore } from './with-store.js';

export const userCreateCommand: Command = {
  name: ['user', 'create'],
  summary: 'create a user; with --workspace, create W if missing and add the user with --role (default owner)',
  options: {
    email: { type: 'string', usage: '--email E', description: 'the login email (required)' },
    'password-stdin': { type: 'boolean', usage: '--password-stdin', description: 'read the password from standard input (required)' },
    role: { type: 'string', usage: '--role R', description: 'owner, admin, member or viewer' },
    workspace: { type: 'string', usage: '--workspace W', description: 'workspace name' },
  },
  async run(ctx) {
    const email = stringOption(ctx, 'email');
    if (!email) throw errors.usage('--email is required');
    if (!ctx.options['password-stdin']) throw errors.usage('--password-stdin is required (passwords are never taken as arguments)');
    const password = await readStdin();
    await withStore(ctx, async (store) => {
      const { user, workspace, role } = await createUser(store, operatorContext(), {
        email,
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
  },
};
