import { migrationLabel, type MigrationStatus, pad } from '../db/migrations.js';
import { printRows, say } from './output.js';

// What `linkqr migrate` prints, the same whichever the database: scripts read --status --json
// from both alike.

/** --status: one row per migration, as a table or JSON lines. */
export function printStatus(status: MigrationStatus[], json: boolean) {
  const rows = status.map((s) => ({
    version: pad(s.version),
    name: s.name,
    status: s.appliedAt === null ? 'pending' : 'applied',
    appliedAt: s.appliedAt === null ? null : new Date(s.appliedAt).toISOString(),
  }));
  printRows(rows, json);
}

/** After a run: what it applied, or that there was nothing to do. */
export function sayApplied(applied: { version: number; name: string }[]) {
  say(applied.length === 0 ? 'Database is up to date.' : `Applied ${applied.map(migrationLabel).join(', ')}.`);
}
