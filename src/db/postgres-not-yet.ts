import { OperatorError } from '../lib/errors.js';

// PostgreSQL support comes in steps (issue 14). In this version `linkqr migrate` prepares a
// PostgreSQL database; the data layer (repositories, the server, the other commands) is still
// SQLite only. A command that needs it refuses, saying so, rather than quietly using the SQLite
// file in the data dir while the operator believes the data goes to PostgreSQL.

const NEXT = 'the server, the API, the other commands and the copy between SQLite and PostgreSQL come next';

/** The refusal of a command that needs the data layer while LINKQR_DATABASE_URL is set; exit code 2. */
export function notOnPostgresYet(command?: string[]): OperatorError {
  const what =
    command === undefined ? 'this command on PostgreSQL' : command[0] === 'serve' ? 'serving from PostgreSQL' : `\`linkqr ${command.join(' ')}\` on PostgreSQL`;
  return new OperatorError(
    `${what} is not available in this version yet: \`linkqr migrate\` prepares a PostgreSQL database; ${NEXT} (unset LINKQR_DATABASE_URL and --database-url to use SQLite in the data dir)`,
    { exitCode: 2 },
  );
}
