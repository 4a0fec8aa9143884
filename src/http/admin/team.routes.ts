import type { Request, Response, Router } from 'express';
import type { Role } from '../../db/schema.js';
import { AppError } from '../../lib/errors.js';
import { allows, authorize, ROLES } from '../../policy/policy.js';
import { setFlash } from '../../sessions/sessions.service.js';
import { type Mailer, MailNotSent } from '../../mail/mailer.js';
import { invitationMail } from '../../mail/messages.js';
import { inviteUser, PASSWORD_TOKEN_TTL_MS, passwordLink } from '../../users/password-tokens.js';
import { type MemberResetOutcome, resetMemberPassword, resettableMembers } from '../../users/password-reset.js';
import { addMember, listMembers, removeMember, setMemberRole } from '../../workspaces/members.service.js';
import { adminOf, isHtmx, redirectTo, workspaceOf } from './admin-session.js';
import { refusalFor } from './plan-advice.js';
import { type RenderDeps, renderAdminPage } from './render.js';

export interface TeamDeps extends RenderDeps {
  baseUrl(): string;
  /** Set when mail is configured: invitation and reset links are mailed to the person. */
  mailer: Mailer | undefined;
}

/** Mounted under /admin: routes say `/team`, redirects the full path. */
const ROUTE = '/team';
const TEAM = '/admin/team';
const ROLE_HELP: Record<Role, string> = {
  owner: 'Everything, including settings and the plan',
  admin: 'Members, API keys, webhooks and the audit log',
  member: 'Creates and edits links',
  viewer: 'Reads links and analytics',
};

interface AddForm {
  values: { email: string; role: string };
  errors: Record<string, string>;
  alert?: string;
  /** The alert is a plan's refusal and the user an instance admin: it links to the plans. */
  changePlan?: boolean;
}

/**
 * The "new user" form; `link` is the one-time password link, shown once after creating, with
 * whether it was also mailed (`mailed`), or why the mail failed (`mailError`).
 */
interface InviteForm extends AddForm {
  link?: { url: string; email: string; hours: number; mailed?: boolean; mailError?: string };
}

const str = (v: unknown) => (typeof v === 'string' ? v : '');

/** A plan's refusal above a form (with the plans' link for an instance admin: plan-advice.ts). */
function planAlert(res: Response, detail: string): Pick<AddForm, 'alert' | 'changePlan'> {
  const { text, changePlan } = refusalFor(res, detail);
  return { alert: text, changePlan };
}

/**
 * Only owners touch the owner role: granting it, taking it away, removing an owner. An admin
 * holds members.manage but must not make anyone (themselves included) an owner, which would
 * give them the plan and settings SPEC §2 reserves to owners.
 */
const grantable = (role: Role): readonly Role[] => (role === 'owner' ? ROLES : ROLES.filter((r) => r !== 'owner'));

function requireOwnerFor(actor: { role: Role }, ...roles: Role[]) {
  if (actor.role !== 'owner' && roles.includes('owner')) {
    throw new AppError(403, 'owner_only', 'Forbidden', 'Only an owner can grant, change or remove the owner role.');
  }
}
const isRole = (v: string): v is Role => (ROLES as readonly string[]).includes(v);

/**
 * Team: the members of the workspace with their roles. Admins and owners add people by email,
 * change roles and remove members; everyone else reads the list. Fragments: the add form
 * (#member-add) and the members table (#members), which reloads on `members-changed`.
 */
export function bindTeamPages(router: Router, deps: TeamDeps) {
  router.get(ROUTE, (req, res) => page(req, res));

  router.get(`${ROUTE}/members`, async (req, res) => {
    const { workspace } = workspaceOf(res);
    res.type('html').send(deps.views.render('partials/admin/team/members', await membersData(res, workspace.workspaceId)));
  });

  router.post(ROUTE, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'members.manage');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const form: AddForm = { values: { email: str(body.email).trim(), role: str(body.role) || 'member' }, errors: {} };
    if (!/^[^@\s]+@[^@\s]+$/.test(form.values.email)) form.errors.email = 'Enter the email address of someone who has a LinkQR account.';
    if (!isRole(form.values.role)) form.errors.role = `Choose one of ${ROLES.join(', ')}.`;
    if (Object.keys(form.errors).length === 0) {
      try {
        requireOwnerFor(actor, form.values.role as Role);
        const added = await addMember(deps, res.locals.change!, workspace.workspaceId, form.values.email, form.values.role as Role);
        const text = `${added.email} joined ${workspace.name} as ${added.role}.`;
        if (!isHtmx(req)) {
          await setFlash(deps, adminOf(res).session, { kind: 'ok', text });
          return redirectTo(req, res, TEAM);
        }
        res.setHeader('hx-trigger', 'members-changed');
        return renderAddForm(res, { values: { email: '', role: 'member' }, errors: {}, alert: undefined }, 200, text);
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.status === 404) form.errors.email = 'Nobody with this email has an account here: create one below.';
        else if (err.code === 'member_exists') form.errors.email = err.detail;
        else if (err.status === 403 && err.code === 'plan_limit_reached') Object.assign(form, planAlert(res, err.detail));
        else throw err;
      }
    }
    if (isHtmx(req)) return renderAddForm(res, form, 422);
    await page(req, res, { form, status: 422 });
  });

  router.post(`${ROUTE}/invite`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'members.manage');
    const body = (req.body ?? {}) as Record<string, unknown>;
    // The field is named invite-email: its id must differ from the add form's #email on the same page.
    const form: InviteForm = { values: { email: str(body['invite-email']).trim(), role: str(body.role) || 'member' }, errors: {} };
    if (!/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(form.values.email) || form.values.email.length > 254) form.errors.email = 'Enter the email address of the new user.';
    if (!isRole(form.values.role)) form.errors.role = `Choose one of ${ROLES.join(', ')}.`;
    if (Object.keys(form.errors).length === 0) {
      try {
        requireOwnerFor(actor, form.values.role as Role);
        const invited = await inviteUser(deps, res.locals.change!, workspace.workspaceId, form.values.email, form.values.role as Role);
        const link: NonNullable<InviteForm['link']> = { url: passwordLink(deps.baseUrl(), invited.token), email: invited.email, hours: PASSWORD_TOKEN_TTL_MS / 3_600_000 };
        if (deps.mailer) Object.assign(link, await mailInvitation(deps.mailer, link, { workspace: workspace.name, role: invited.role, invitedBy: adminOf(res).user.email, server: deps.baseUrl() }));
        // The link is shown once, here: never in a flash or a redirect.
        res.setHeader('cache-control', 'no-store');
        if (isHtmx(req)) {
          res.setHeader('hx-trigger', 'members-changed');
          // The add form may still say nobody has this email: now somebody has, and is a member already.
          return renderInviteForm(res, { values: { email: '', role: 'member' }, errors: {}, link }, 200, { values: { email: '', role: 'member' }, errors: {} });
        }
        return await page(req, res, { invite: { values: { email: '', role: 'member' }, errors: {}, link } });
      } catch (err) {
        if (!(err instanceof AppError)) throw err;
        if (err.code === 'user_exists') form.errors.email = 'This person already has an account: add them by email instead.';
        else if (err.status === 400) form.errors.email = 'Enter the email address of the new user.';
        else if (err.code === 'plan_limit_reached') Object.assign(form, planAlert(res, err.detail));
        else throw err;
      }
    }
    if (isHtmx(req)) return renderInviteForm(res, form, 422);
    await page(req, res, { invite: form, status: 422 });
  });

  router.post(`${ROUTE}/:userId/reset-password`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    const member = await memberOf(res, workspace.workspaceId, req.params.userId as string);
    let reset: MemberResetOutcome;
    try {
      reset = await resetMemberPassword(deps, { ...res.locals.change!, actor }, workspace.workspaceId, member);
    } catch (err) {
      if (err instanceof AppError && err.code === 'reset_not_allowed') return refuse(req, res, err.detail, 403);
      throw err;
    }
    // A link may be on the page: shown once, here, never in a flash or a redirect.
    res.setHeader('cache-control', 'no-store');
    if (!isHtmx(req)) return await page(req, res, { reset });
    res.type('html').send(deps.views.render('partials/admin/team/members', { ...(await membersData(res, workspace.workspaceId)), reset }));
  });

  router.post(`${ROUTE}/:userId/role`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'members.manage');
    const member = await memberOf(res, workspace.workspaceId, req.params.userId as string);
    const role = str((req.body ?? {}).role);
    if (!isRole(role)) return refuse(req, res, `Choose one of ${ROLES.join(', ')}.`, 422);
    requireOwnerFor(actor, member.role, role);
    try {
      await setMemberRole(deps, res.locals.change!, workspace.workspaceId, member.email, role);
    } catch (err) {
      if (err instanceof AppError && err.code === 'last_owner') return refuse(req, res, err.detail, 409);
      throw err;
    }
    await done(req, res, `${member.email} is now ${role}.`);
  });

  router.post(`${ROUTE}/:userId/remove`, async (req, res) => {
    const { workspace, actor } = workspaceOf(res);
    authorize(actor, 'members.manage');
    const member = await memberOf(res, workspace.workspaceId, req.params.userId as string);
    requireOwnerFor(actor, member.role);
    try {
      await removeMember(deps, res.locals.change!, workspace.workspaceId, member.email);
    } catch (err) {
      if (err instanceof AppError && err.code === 'last_owner') return refuse(req, res, err.detail, 409);
      throw err;
    }
    // Removing yourself: the workspace is gone from your list, the pages go elsewhere.
    if (member.userId === adminOf(res).user.id) {
      await setFlash(deps, adminOf(res).session, { kind: 'ok', text: `You left ${workspace.name}.` });
      return redirectTo(req, res, '/admin');
    }
    await done(req, res, `${member.email} was removed from ${workspace.name}.`);
  });

  /** A member of this workspace, by user id; anyone else (another workspace's) is not found. */
  async function memberOf(_res: Response, workspaceId: string, userId: string) {
    const member = (await listMembers(deps.db, workspaceId)).find((m) => m.userId === userId);
    if (!member) throw new AppError(404, 'not_found', 'Not found', 'Member was not found.');
    return member;
  }

  /** After a change: htmx gets the members table again; a plain form, the page with a flash. */
  async function done(req: Request, res: Response, text: string) {
    const { workspace } = workspaceOf(res);
    if (!isHtmx(req)) {
      await setFlash(deps, adminOf(res).session, { kind: 'ok', text });
      return redirectTo(req, res, TEAM);
    }
    res.type('html').send(deps.views.render('partials/admin/team/members', { ...(await membersData(res, workspace.workspaceId)), notice: text }));
  }

  /**
   * A change the rules refuse (the last owner): the table with the reason above it. htmx swaps
   * only 400/422 answers, so a fragment says 422; a plain form gets the page with the real status.
   */
  async function refuse(req: Request, res: Response, message: string, status: number) {
    const { workspace } = workspaceOf(res);
    if (isHtmx(req)) {
      return res.status(422).type('html').send(deps.views.render('partials/admin/team/members', { ...(await membersData(res, workspace.workspaceId)), alert: message }));
    }
    await page(req, res, { alert: message, status });
  }

  async function membersData(res: Response, workspaceId: string) {
    const { actor, user } = workspaceOf(res);
    const members = await listMembers(deps.db, workspaceId);
    const owners = members.filter((m) => m.role === 'owner').length;
    const resettable = await resettableMembers(deps.db, actor, workspaceId, !deps.mailer);
    return {
      members: members.map((m) => ({ ...m, self: m.userId === user.id, soleOwner: m.role === 'owner' && owners === 1, resettable: resettable.has(m.userId) })),
      canManage: allows(actor, 'members.manage'),
      /** Owners and instance admins reset passwords (resettableMembers says whose). */
      canReset: resettable.size > 0,
      mailOn: deps.mailer !== undefined,
      /** Admins manage everyone but owners, and grant any role but owner. */
      canTouchOwners: actor.role === 'owner',
      roles: grantable(actor.role),
      roleHelp: ROLE_HELP,
      csrf: adminOf(res).session.csrf_token,
    };
  }

  function renderAddForm(res: Response, form: AddForm, status: number, notice?: string) {
    res.status(status).type('html').send(deps.views.render('partials/admin/team/add-form', addFormData(res, form, notice)));
  }

  function addFormData(res: Response, form: AddForm | InviteForm, notice?: string) {
    const { actor } = workspaceOf(res);
    return { ...form, notice, roles: grantable(actor.role), roleHelp: ROLE_HELP, csrf: adminOf(res).session.csrf_token };
  }

  /** The invite form; with `addForm`, the add form too, swapped out of band. */
  function renderInviteForm(res: Response, form: InviteForm, status: number, addForm?: AddForm) {
    const oob = addForm ? deps.views.render('partials/admin/team/add-form', { ...addFormData(res, addForm), oob: true }) : '';
    res.status(status).type('html').send(deps.views.render('partials/admin/team/invite-form', addFormData(res, form)) + oob);
  }

  async function page(req: Request, res: Response, opts: { form?: AddForm; invite?: InviteForm; reset?: MemberResetOutcome; alert?: string; status?: number } = {}) {
    const { workspace } = workspaceOf(res);
    const members = await membersData(res, workspace.workspaceId);
    await renderAdminPage(deps, req, res, 'pages/admin/team', {
      title: 'Team',
      section: 'team',
      status: opts.status,
      workspaceName: workspace.name,
      members: { ...members, alert: opts.alert, reset: opts.reset },
      add: members.canManage ? addFormData(res, opts.form ?? { values: { email: '', role: 'member' }, errors: {} }) : undefined,
      invite: members.canManage ? addFormData(res, opts.invite ?? { values: { email: '', role: 'member' }, errors: {} }) : undefined,
    });
  }
}

/**
 * Mails an invitation link; the page shows the link either way, so a failure (already logged by
 * the mailer) only changes what the page says.
 */
async function mailInvitation(mailer: Mailer, link: { url: string; email: string; hours: number }, about: { workspace: string; role: string; invitedBy: string; server: string }) {
  try {
    await mailer.send(invitationMail({ to: link.email, link: link.url, validMs: link.hours * 3_600_000, ...about }));
    return { mailed: true };
  } catch (err) {
    if (!(err instanceof MailNotSent)) throw err;
    return { mailed: false, mailError: err.message };
  }
}
