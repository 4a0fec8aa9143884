import type { Queries } from '../db/db.js';
import { caseless } from '../db/dialect-sql.js';

/** A row of the sessions table (migrations/sqlite/0004_sessions.sql). Times are epoch milliseconds. */
export interface SessionRow {
  /** Hex SHA-256 of the cookie token. */
  id: string;
  user_id: string;
  workspace_id: string | null;
  csrf_token: string;
  flash: string | null;
  created_at: number;
  last_seen_at: number;
  expires_at: number;
  ip: string | null;
  user_agent: string | null;
}

export const insertSession = (db: Queries, row: SessionRow) =>
  db.exec(
    `insert into sessions (id, user_id, workspace_id, csrf_token, flash, created_at, last_seen_at, expires_at, ip, user_agent)
     values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    row.id,
    row.user_id,
    row.workspace_id,
    row.csrf_token,
    row.flash,
    row.created_at,
    row.last_seen_at,
    row.expires_at,
    row.ip,
    row.user_agent,
  );

export const findSession = (db: Queries, id: string) => db.row<SessionRow>('select * from sessions where id = ?', id);

export const touchSession = (db: Queries, id: string, at: number) => db.exec('update sessions set last_seen_at = ? where id = ?', at, id);

export const setSessionWorkspace = (db: Queries, id: string, workspaceId: string | null) =>
  db.exec('update sessions set workspace_id = ? where id = ?', workspaceId, id);

export const setSessionFlash = (db: Queries, id: string, flash: string | null) => db.exec('update sessions set flash = ? where id = ?', flash, id);

export const deleteSession = async (db: Queries, id: string) => (await db.exec('delete from sessions where id = ?', id)).changes;

/** Sessions past their absolute expiry, or idle since `idleBefore`. */
export const deleteExpiredSessions = async (db: Queries, now: number, idleBefore: number) =>
  (await db.exec('delete from sessions where expires_at <= ? or last_seen_at <= ?', now, idleBefore)).changes;

export interface MembershipView {
  workspaceId: string;
  name: string;
  role: 'owner' | 'admin' | 'member' | 'viewer';
  /** When the user joined it (epoch ms). */
  joinedAt: number;
}

/** The workspaces a user belongs to, by name. */
export const membershipsOf = (db: Queries, userId: string) =>
  db.rows<MembershipView>(
    `select w.id as "workspaceId", w.name as name, m.role as role, m.created_at as "joinedAt"
     from memberships m join workspaces w on w.id = m.workspace_id
     where m.user_id = ? order by ${caseless(db.dialect, 'w.name')}`,
    userId,
  );

export interface SessionUser {
  id: string;
  email: string;
  is_instance_admin: number;
}

export const findSessionUser = (db: Queries, userId: string) =>
  db.row<SessionUser>('select id, email, is_instance_admin from users where id = ?', userId);
