import type { Db } from '../db/db.js';

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

export const insertSession = (db: Db, row: SessionRow) =>
  db
    .stmt(
      `insert into sessions (id, user_id, workspace_id, csrf_token, flash, created_at, last_seen_at, expires_at, ip, user_agent)
       values (@id, @user_id, @workspace_id, @csrf_token, @flash, @created_at, @last_seen_at, @expires_at, @ip, @user_agent)`,
    )
    .run(row);

export const findSession = (db: Db, id: string) => db.stmt('select * from sessions where id = ?').get(id) as SessionRow | undefined;

export const touchSession = (db: Db, id: string, at: number) => db.stmt('update sessions set last_seen_at = ? where id = ?').run(at, id);

export const setSessionWorkspace = (db: Db, id: string, workspaceId: string | null) =>
  db.stmt('update sessions set workspace_id = ? where id = ?').run(workspaceId, id);

export const setSessionFlash = (db: Db, id: string, flash: string | null) => db.stmt('update sessions set flash = ? where id = ?').run(flash, id);

export const deleteSession = (db: Db, id: string) => db.stmt('delete from sessions where id = ?').run(id).changes;

/** Sessions past their absolute expiry, or idle since `idleBefore`. */
export const deleteExpiredSessions = (db: Db, now: number, idleBefore: number) =>
  db.stmt('delete from sessions where expires_at <= ? or last_seen_at <= ?').run(now, idleBefore).changes;

export interface MembershipView {
  workspaceId: string;
  name: string;
  role: 'owner' | 'admin' | 'member' | 'viewer';
}

/** The workspaces a user belongs to, by name. */
export const membershipsOf = (db: Db, userId: string) =>
  db
    .stmt(
      `select w.id as workspaceId, w.name as name, m.role as role
       from memberships m join workspaces w on w.id = m.workspace_id
       where m.user_id = ? order by w.name collate nocase`,
    )
    .all(userId) as MembershipView[];

export interface SessionUser {
  id: string;
  email: string;
  is_instance_admin: number;
}

export const findSessionUser = (db: Db, userId: string) =>
  db.stmt('select id, email, is_instance_admin from users where id = ?').get(userId) as SessionUser | undefined;
