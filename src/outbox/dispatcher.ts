import { RepeatedFailure } from '../lib/repeated-failure.js';
import type { Logger } from 'pino';
import type { Db } from '../db/db.js';
import type { Clock } from '../lib/clock.js';
import type { SecretBox } from '../secrets/secret-box.js';
import { markSecretUnreadable, SigningSecrets } from '../webhooks/endpoint-secrets.js';
import type { AttemptResult } from '../webhooks/sender.js';
import { CircuitBreakers } from './circuit-breaker.js';
import {
  type ClaimedDelivery,
  type ClaimLimits,
  claimDueDeliveries,
  claimDueOfEndpoint,
  disableEndpoint,
  enabledEndpoints,
  recordAttempt,
  releaseAllLeases,
  releaseLease,
  renewLeases,
} from './deliveries.repo.js';
import { AUTO_DISABLE_AFTER_MS, decide } from './retry-policy.js';

export interface DispatcherDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  /** Opens the endpoints' signing secrets. */
  secretBox: SecretBox;
  /** Aborting `signal` ends the attempt at once with the error class 'cancelled'. */
  send(req: { url: string; headers: Record<string, string>; body: string }, signal: AbortSignal): Promise<AttemptResult>;
  /** Standard Webhooks headers for one attempt, signed with every given secret. */
  headers(p: { msgId: string; timestampSeconds: number; body: string; secrets: string[] }): Record<string, string>;
  retrySchedule: readonly number[];
  onAttempt?(outcome: AttemptResult['outcome'], seconds: number): void;
  random?(): number;
}

export interface DispatcherOptions {
  /** Attempts in flight at once, in all. */
  concurrency?: number;
  /** Attempts in flight at once to one endpoint (fewer while its circuit is narrowed). */
  perEndpoint?: number;
  /** Attempts in flight at once to the endpoints of one workspace. */
  perWorkspace?: number;
  /** Attempts in flight at once to endpoints whose circuit is narrowed (they timed out), in all. */
  narrowed?: number;
  /**
   * How long a claim holds a delivery; renewed every third of it while the attempt runs (an
   * attempt may take 15 s). Short, so that a delivery whose instance died is claimed again by
   * another within seconds.
   */
  leaseMs?: number;
  /** How often due retries are looked for when nothing wakes the dispatcher. */
  pollMs?: number;
  /**
   * Endpoints whose last attempt was answered within this are held ahead for (default 100 ms):
   * a slow receiver's held deliveries would wait past HOLD_AHEAD_MS.
   */
  quickAnswerMs?: number;
  /** How long a delivery held ahead may wait for a slot (default 500 ms): see HOLD_AHEAD_MS. */
  holdAheadMs?: number;
}

/**
 * How long a delivery held ahead may wait for a slot; one that waited longer is given back and
 * claimed afresh. It carries the endpoint's URL and secret as its claim read them, so this bounds
 * how long a change made on another instance (a new URL, a rotated secret, a disabled endpoint)
 * can miss it; a change made on this one gives back what is waiting at once (endpointsChanged).
 */
const HOLD_AHEAD_MS = 500;

/** A delivery this process has leased: waiting for a slot, or being sent. */
interface Held {
  d: ClaimedDelivery;
  /** When it was claimed (performance.now()). */
  heldAt: number;
  /** Aborting it gives a waiting delivery back, or cuts its attempt off. */
  controller: AbortController;
  /** The end of the lease this process last wrote for it. */
  leaseUntil: number;
  sending: boolean;
}

/** What an endpoint or a workspace holds, and how many of those are being sent. */
interface Share {
  held: Set<Held>;
  sending: number;
}

/**
 * Delivers the outbox. Claims due deliveries with a lease (deliveries.repo.ts), sends each outside
 * any transaction, and records the outcome (group-committed with other writes). Woken right
 * after commits that add deliveries, and polls for retries that come due.
 *
 * Receivers that never answer hold an attempt for the whole timeout, so what they may hold is
 * bounded three ways: per endpoint (narrowed by its circuit breaker down to one probe), per
 * workspace, and in all. Attempts to an endpoint that is deleted or disabled are cut off.
 */
export class Dispatcher {
  /** Deliveries held, by id; and by endpoint and by workspace. */
  private readonly held = new Map<string, Held>();
  private readonly byEndpoint = new Map<string, Share>();
  private readonly byWorkspace = new Map<string, Share>();
  /** Held deliveries waiting for a slot, oldest due first. */
  private waiting: Held[] = [];
  /** Endpoints whose last attempt was answered within quickAnswerMs: held ahead for. */
  private readonly quick = new Set<string>();
  /** Attempts being sent, in all. */
  private sending = 0;
  private renewing = false;
  /** Attempts, and the releases of deliveries given back: what stop() waits for. */
  private readonly running = new Set<Promise<void>>();
  private scheduled = false;
  /** What the next claim is for: anything due (wake()), or topping up these endpoints only. */
  private claimAll = false;
  private readonly topUps = new Set<string>();
  /** A claim is running; `again`: something woke the dispatcher meanwhile, so claim once more after it. */
  private pumping: Promise<void> | undefined;
  private again = false;
  private started = false;
  private stopped = true;
  private timer: NodeJS.Timeout | undefined;
  private renewTimer: NodeJS.Timeout | undefined;
  private readonly concurrency: number;
  private readonly perEndpoint: number;
  private readonly perWorkspace: number;
  private readonly narrowed: number;
  private readonly leaseMs: number;
  private readonly pollMs: number;
  private readonly quickAnswerMs: number;
  private readonly holdAheadMs: number;
  private readonly breakers: CircuitBreakers;
  private readonly signingSecrets: SigningSecrets;
  // Both run several times a second: while the database is out of reach, logged once, then a minute apart.
  private readonly claimFailures: RepeatedFailure;
  private readonly endpointCheckFailures: RepeatedFailure;

  constructor(
    private readonly deps: DispatcherDeps,
    options: DispatcherOptions = {},
  ) {
    this.concurrency = options.concurrency ?? 64;
    this.perEndpoint = options.perEndpoint ?? 8;
    // A quarter of the pool, two endpoints' worth: a workspace whose receivers all hang leaves
    // three quarters of it to the others, and it takes four such workspaces at once to fill it
    // until their first attempts time out (15 s). A workspace's healthy receivers still get 16
    // attempts at a time: at the 5-50 ms a receiver takes to answer, 300 to 3,000 deliveries a
    // second, more than one workspace's changes make.
    this.perWorkspace = options.perWorkspace ?? 16;
    // Once an endpoint has timed out its circuit is narrowed, and all narrowed endpoints, of every
    // workspace, share a quarter of the pool: however many workspaces have receivers that hang,
    // three quarters stay for those that answer.
    this.narrowed = options.narrowed ?? Math.max(1, Math.floor(this.concurrency / 4));
    this.leaseMs = options.leaseMs ?? 6_000;
    this.pollMs = options.pollMs ?? 1_000;
    this.quickAnswerMs = options.quickAnswerMs ?? 100;
    this.holdAheadMs = options.holdAheadMs ?? HOLD_AHEAD_MS;
    this.breakers = new CircuitBreakers(this.perEndpoint);
    this.signingSecrets = new SigningSecrets(deps.secretBox);
    this.claimFailures = new RepeatedFailure(deps.log, 'claiming webhook deliveries');
    this.endpointCheckFailures = new RepeatedFailure(deps.log, 'checking webhook endpoints');
  }

  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    // On SQLite one server process has the database: leases left at start are from a process that
    // died. Released before the first claim: after it, this would release this process's own
    // leases too, and their deliveries would be sent twice. On PostgreSQL other instances' leases
    // are live: a dead instance's expire (leaseMs, renewed while an attempt runs) and are claimed
    // again then.
    if (this.deps.db.dialect === 'sqlite') {
      const released = await releaseAllLeases(this.deps.db);
      if (released > 0) this.deps.log.warn({ deliveries: released }, 'resuming deliveries left in flight by a previous process');
    }
    // Stopped while the leases were being released.
    if (!this.started) return;
    this.stopped = false;
    clearInterval(this.renewTimer);
    this.timer = setInterval(() => {
      // Also catches endpoints disabled without endpointsChanged() (a 410, 5 days of failures).
      void this.cutOffRemovedEndpoints();
      this.wake();
    }, this.pollMs).unref();
    this.renewTimer = setInterval(() => void this.renewLeases(), this.leaseMs / 3).unref();
    this.wake();
  }

  /**
   * Endpoints were deleted or disabled: their attempts in flight are cut off at once (no outcome
   * is recorded, the delivery is due again as it was), so a receiver that hangs stops holding
   * slots as soon as its endpoint is gone rather than when its attempts time out. `pointedElsewhere`:
   * endpoints given a new URL, whose attempts to the old receiver are cut off the same way and
   * whose circuit starts afresh (the old receiver's timeouts say nothing of the new one).
   */
  endpointsChanged(pointedElsewhere: readonly string[] = []): void {
    for (const id of pointedElsewhere) this.cutOff(id);
    // What waits was read before the change: claimed again, it is read afresh.
    for (const h of this.waiting) h.controller.abort();
    // Handles its own failure (logged).
    void this.cutOffRemovedEndpoints();
    this.wake();
  }

  /** Look for due deliveries soon (after the current commit). Cheap to call often. */
  wake(): void {
    this.claimAll = true;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    // One claim at a time: a claim counts the room left by the attempts in flight, and those it
    // starts are counted only once it has returned. A wake during a claim may be for deliveries
    // committed after it read the due ones, so it claims once more afterwards.
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      if (this.pumping) this.again = true;
      else void this.pump();
    });
  }

  /** Stops claiming; gives back the deliveries waiting for a slot; waits up to `graceMs` for attempts in flight. The rest stays due. */
  async stop(graceMs = 15_000): Promise<void> {
    this.stopped = true;
    this.started = false;
    clearInterval(this.timer);
    // Leases are still renewed for the attempts waited for below.
    // A claim under way holds what it leased: wait for it, so that those are given back too.
    await this.pumping;
    for (const h of this.waiting) h.controller.abort();
    if (this.running.size > 0) {
      let timeout: NodeJS.Timeout | undefined;
      await Promise.race([Promise.allSettled([...this.running]), new Promise((r) => (timeout = setTimeout(r, graceMs)))]);
      clearTimeout(timeout);
    }
    clearInterval(this.renewTimer);
  }

  /**
   * Keeps the leases of the attempts in flight: one that would lapse before the next renewal
   * could be done is cut off first (whatever the database is doing: a renewal may hang while
   * PostgreSQL cannot be reached), then the others are extended, and one whose lease another
   * instance took meanwhile is cut off too. So one attempt at a time is in flight per delivery.
   */
  private async renewLeases(): Promise<void> {
    const now = this.deps.clock.now();
    for (const lease of this.held.values()) if (lease.leaseUntil - now <= this.leaseMs / 3) lease.controller.abort();
    if (this.held.size === 0 || this.renewing) return;
    this.renewing = true;
    const leaseUntil = now + this.leaseMs;
    // By the lease each holds now: after the first renewal, nearly all hold the same.
    const byHeld = new Map<number, string[]>();
    for (const [id, lease] of this.held) {
      if (lease.controller.signal.aborted) continue;
      const ids = byHeld.get(lease.leaseUntil);
      if (ids) ids.push(id);
      else byHeld.set(lease.leaseUntil, [id]);
    }
    try {
      for (const [heldUntil, ids] of byHeld) {
        const renewed = await this.deps.db.write((t) => renewLeases(t, ids, heldUntil, leaseUntil));
        for (const id of ids) {
          const lease = this.held.get(id);
          if (!lease) continue;
          if (renewed.has(id)) lease.leaseUntil = leaseUntil;
          else if (lease.leaseUntil === heldUntil) {
            this.deps.log.warn({ delivery: id }, 'webhook delivery lease lost to another instance: attempt cut off');
            lease.controller.abort();
          }
        }
      }
    } catch (err) {
      this.deps.log.error({ err, deliveries: this.held.size }, 'renewing webhook delivery leases failed');
    } finally {
      this.renewing = false;
    }
  }

  get attemptsInFlight(): number {
    return this.sending;
  }

  /** Attempts being sent to one endpoint, or to the endpoints of one workspace (deliveries held and waiting are not counted). */
  attemptsInFlightTo(endpointId: string): number {
    return this.byEndpoint.get(endpointId)?.sending ?? 0;
  }

  attemptsInFlightOf(workspaceId: string): number {
    return this.byWorkspace.get(workspaceId)?.sending ?? 0;
  }

  /** Claims what there is room for and starts the attempts. Never rejects. */
  private pump(): Promise<void> {
    const pumping = this.claimAndStart().finally(() => {
      this.pumping = undefined;
      if (this.again) {
        this.again = false;
        this.schedule();
      }
    });
    this.pumping = pumping;
    return pumping;
  }

  /**
   * Claims what may be sent now; and, for an endpoint that answers quickly (aheadFor), up to
   * twice that (16 held while 8 are sent, within twice the workspace's and the pool's bounds), so
   * that under a backlog a finished attempt's slot goes at once to a delivery already held. Such
   * an endpoint is topped up from its own due deliveries once half of what it held ahead is
   * sent: reading a window of every endpoint's due deliveries once per attempt to take one was
   * most of a delivery's cost (profiled). Anything else due is claimed on a wake (a commit, the
   * poll, a slot nobody held could take). Other endpoints hold nothing ahead: a slow receiver's
   * deliveries would wait past holdAheadMs, and stay free for whoever can send them.
   */
  private async claimAndStart(): Promise<void> {
    if (this.stopped) return;
    // Gives back what waited too long, and starts what has a slot, whatever is claimed below.
    this.startWaiting();
    const all = this.claimAll;
    const topUps = new Set(this.topUps);
    this.claimAll = false;
    this.topUps.clear();
    const now = this.deps.clock.now();
    const leaseUntil = now + this.leaseMs;
    const claimed: ClaimedDelivery[] = [];
    // Whether the database answered a claim this time (with no room, none is asked).
    let queried = false;
    try {
      // What may be sent now. What quick endpoints hold ahead waits for their own slots (at most
      // 8 each are sent), so it takes no room from the others here.
      const room = this.concurrency - this.sending;
      if (all && room > 0) {
        const due = await claimDueDeliveries(this.deps.db, {
          now,
          leaseUntil,
          limit: room,
          perEndpoint: this.perEndpoint,
          perWorkspace: this.perWorkspace,
          ...this.roomLeft(),
        });
        queried = true;
        // A full claim suggests more is due: look again once these are under way.
        if (due.length === room) this.wake();
        for (const d of due) this.hold(d, leaseUntil);
        claimed.push(...due);
        // A quick endpoint this process sends to gets its deliveries ahead now, not only once an attempt ends.
        for (const id of this.byEndpoint.keys()) if (this.wantsTopUp(id)) topUps.add(id);
      } else if (all) {
        // No room: asked for again once a finished attempt makes some.
        this.claimAll = true;
      }
      for (const endpointId of topUps) {
        // Held at once, so that the next endpoint's room counts them (they may share a workspace).
        const limit = this.topUpRoom(endpointId);
        if (limit <= 0) continue;
        const topUp = await claimDueOfEndpoint(this.deps.db, { now, leaseUntil, endpointId, limit });
        queried = true;
        for (const d of topUp) this.hold(d, leaseUntil);
        claimed.push(...topUp);
      }
      if (queried) this.claimFailures.succeeded();
    } catch (err) {
      this.claimFailures.failed(err);
    }
    // Due order across claims (stable: a claim's own come in due order).
    if (claimed.length > 0) this.waiting.sort((a, b) => a.d.next_attempt_at - b.d.next_attempt_at);
    this.startWaiting();
  }

  /** What an endpoint that holds deliveries may take more: within its claim-ahead bound and its workspace's. */
  private topUpRoom(endpointId: string): number {
    const endpoint = this.byEndpoint.get(endpointId);
    if (!endpoint || !this.aheadFor(endpointId)) return 0;
    const workspace = this.byWorkspace.get(endpoint.held.values().next().value!.d.workspace_id)!;
    return Math.min(2 * this.perEndpoint - endpoint.held.size, 2 * this.perWorkspace - workspace.held.size, 2 * this.concurrency - this.held.size);
  }

  /** A quick endpoint with half of what it may hold ahead, or less, waiting for a slot. */
  private wantsTopUp(endpointId: string): boolean {
    if (!this.aheadFor(endpointId)) return false;
    // What it holds is sent or waiting.
    const share = this.byEndpoint.get(endpointId);
    return (share ? share.held.size - share.sending : 0) <= this.perEndpoint / 2;
  }

  /** Held ahead for: answered quickly last time, and not narrowed. */
  private aheadFor(endpointId: string): boolean {
    return this.quick.has(endpointId) && this.breakers.slots(endpointId) === this.perEndpoint;
  }

  /**
   * Room of the endpoints that hold some (what they hold, sent or waiting) or are narrowed, of the
   * workspaces (what they send), and of the narrowed endpoints together.
   */
  private roomLeft(): Pick<ClaimLimits, 'endpointRoom' | 'workspaceRoom' | 'narrowed'> {
    const endpointRoom: Record<string, number> = {};
    const narrowed = new Set<string>();
    let narrowedHeld = 0;
    for (const [id, slots] of this.breakers.narrowedEndpoints()) {
      endpointRoom[id] = slots;
      narrowed.add(id);
      narrowedHeld += this.byEndpoint.get(id)?.held.size ?? 0;
    }
    for (const [id, share] of this.byEndpoint) endpointRoom[id] = this.breakers.slots(id) - share.held.size;
    const workspaceRoom: Record<string, number> = {};
    for (const [id, share] of this.byWorkspace) workspaceRoom[id] = this.perWorkspace - share.sending;
    return { endpointRoom, workspaceRoom, narrowed: { endpoints: narrowed, room: this.narrowed - narrowedHeld } };
  }

  /** Never rejects. */
  private async cutOffRemovedEndpoints(): Promise<void> {
    const watched = [...new Set([...this.byEndpoint.keys(), ...this.quick, ...[...this.breakers.narrowedEndpoints()].map(([id]) => id)])];
    if (watched.length === 0) return;
    let enabled: Set<string>;
    try {
      enabled = await enabledEndpoints(this.deps.db, watched);
      this.endpointCheckFailures.succeeded();
    } catch (err) {
      this.endpointCheckFailures.failed(err);
      return;
    }
    for (const id of watched) if (!enabled.has(id)) this.cutOff(id);
  }

  private cutOff(endpointId: string): void {
    this.breakers.forget(endpointId);
    this.quick.delete(endpointId);
    for (const h of this.byEndpoint.get(endpointId)?.held ?? []) h.controller.abort();
  }

  private hold(d: ClaimedDelivery, leaseUntil: number): void {
    // Claimed again after this process's lease on it lapsed (a stalled event loop): the old
    // hold stops (its lease is no longer this one), the new one takes over.
    this.held.get(d.id)?.controller.abort();
    const h: Held = { d, heldAt: performance.now(), controller: new AbortController(), leaseUntil, sending: false };
    this.held.set(d.id, h);
    share(this.byEndpoint, d.endpoint_id).held.add(h);
    share(this.byWorkspace, d.workspace_id).held.add(h);
    this.waiting.push(h);
    // Aborted while waiting (stop, endpoint removed, lease lapsing or lost): given back. While
    // being sent, the attempt sees the abort itself.
    h.controller.signal.addEventListener('abort', () => {
      if (h.sending) return;
      this.waiting = this.waiting.filter((w) => w !== h);
      this.drop(h);
      const release = this.deps.db
        .write(async (t) => void (await releaseLease(t, d.id, h.leaseUntil)))
        .catch((err: unknown) => this.deps.log.error({ err, delivery: d.id }, 'giving back a webhook delivery failed; its lease lapses'));
      this.running.add(release);
      void release.finally(() => this.running.delete(release));
    });
  }

  private drop(h: Held): void {
    if (this.held.get(h.d.id) === h) this.held.delete(h.d.id);
    unshare(this.byEndpoint, h.d.endpoint_id, h);
    unshare(this.byWorkspace, h.d.workspace_id, h);
  }

  /** Starts the waiting deliveries there are slots for, oldest due first; returns how many. */
  private startWaiting(): number {
    if (this.stopped) return 0;
    let narrowedSending = 0;
    for (const [id] of this.breakers.narrowedEndpoints()) narrowedSending += this.byEndpoint.get(id)?.sending ?? 0;
    const still: Held[] = [];
    const starting: Held[] = [];
    const stale: Held[] = [];
    const staleBefore = performance.now() - this.holdAheadMs;
    for (const h of this.waiting) {
      if (h.heldAt < staleBefore) {
        stale.push(h);
        continue;
      }
      const slots = this.breakers.slots(h.d.endpoint_id);
      const isNarrowed = slots < this.perEndpoint;
      const fits =
        this.sending < this.concurrency &&
        this.byEndpoint.get(h.d.endpoint_id)!.sending < slots &&
        this.byWorkspace.get(h.d.workspace_id)!.sending < this.perWorkspace &&
        (!isNarrowed || narrowedSending < this.narrowed);
      if (!fits) {
        still.push(h);
        continue;
      }
      if (isNarrowed) narrowedSending++;
      h.sending = true;
      this.byEndpoint.get(h.d.endpoint_id)!.sending++;
      this.byWorkspace.get(h.d.workspace_id)!.sending++;
      this.sending++;
      starting.push(h);
    }
    // Started once the counts and the waiting list are settled: an attempt that ends at once starts the next itself.
    this.waiting = still;
    for (const h of stale) h.controller.abort();
    for (const h of starting) {
      const attempt = this.attempt(h).catch((err: unknown) => this.deps.log.error({ err, delivery: h.d.id }, 'webhook attempt failed'));
      this.running.add(attempt);
      void attempt.finally(() => this.running.delete(attempt));
    }
    return starting.length;
  }

  /** Sends a held delivery, counted as sending by startWaiting. */
  private async attempt(h: Held): Promise<void> {
    const { d, controller } = h;
    let result: AttemptResult | undefined;
    try {
      const startedAt = this.deps.clock.now();
      const secrets = this.signingSecrets.of(d.endpoint_id, d, startedAt);
      if (!secrets) return await this.holdForRotation(h, startedAt);
      const headers = this.deps.headers({ msgId: d.event_id, timestampSeconds: Math.floor(startedAt / 1000), body: d.payload, secrets });
      result = await this.deps.send({ url: d.url, headers, body: d.payload }, controller.signal);
      const log = { delivery: d.id, event: d.event_id, endpoint: d.endpoint_id, attempt: d.attempts + 1, ms: result.durationMs };
      if (result.errorClass === 'cancelled') {
        await this.deps.db.write((t) => releaseLease(t, d.id, h.leaseUntil));
        this.deps.log.info(log, 'webhook attempt cut off: the endpoint was deleted or disabled, or its lease could not be renewed');
        return;
      }
      this.deps.onAttempt?.(result.outcome, result.durationMs / 1000);
      if (result.durationMs <= this.quickAnswerMs) this.quick.add(d.endpoint_id);
      else this.quick.delete(d.endpoint_id);
      // The slot is given back once the outcome is written, not when the receiver answers:
      // measured, freeing it at the answer made the drain slower (4,524-4,684 against
      // 5,169-5,233 deliveries/s, 2 pairs), the outcomes then committing in smaller groups.
      await this.record(d, startedAt, result);
      this.deps.log.info({ ...log, outcome: result.outcome, status: result.statusCode, error: result.errorClass }, 'webhook attempt');
    } finally {
      // The circuit and the counts change together, so no claim sees a closed circuit with the
      // probe that closed it still counted in flight, or the reverse.
      if (result) this.noteCircuit(d.endpoint_id, result);
      this.byEndpoint.get(d.endpoint_id)!.sending--;
      this.byWorkspace.get(d.workspace_id)!.sending--;
      this.sending--;
      this.drop(h);
      const started = this.startWaiting();
      // A slot nobody held could take, or a claim waiting for room: anything due may have it. An
      // endpoint that answers quickly is topped up once half of what it held ahead is sent: its
      // backlog is claimed in chunks.
      if (started === 0 || this.claimAll || !this.byEndpoint.has(d.endpoint_id)) this.wake();
      if (this.wantsTopUp(d.endpoint_id)) {
        this.topUps.add(d.endpoint_id);
        this.schedule();
      }
    }
  }

  /**
   * The at-rest key cannot open the endpoint's secret. Start-up marks such endpoints, so this is
   * a secret written since under another key (a server sharing the database with another
   * LINKQR_SECRET) or an altered row. Sending unsigned or wrongly signed is pointless and failing
   * the delivery would lose it after the retries: it waits, with the endpoint's others, for a rotation.
   */
  private async holdForRotation(h: Held, at: number): Promise<void> {
    const { d } = h;
    await this.deps.db.write(async (t) => {
      await markSecretUnreadable(t, d.endpoint_id, at);
      await releaseLease(t, d.id, h.leaseUntil);
    });
    this.deps.log.error(
      { endpoint: d.endpoint_id, delivery: d.id },
      "this instance's at-rest key cannot open the endpoint's signing secret: its deliveries wait until the secret is rotated",
    );
  }

  private noteCircuit(endpointId: string, result: AttemptResult): void {
    const before = this.breakers.slots(endpointId);
    const change = this.breakers.record(endpointId, result);
    // A narrowed endpoint holds nothing ahead (aheadFor).
    if (this.breakers.slots(endpointId) < before) for (const h of this.waiting) if (h.d.endpoint_id === endpointId) h.controller.abort();
    if (change === 'opened') {
      this.deps.log.warn({ endpoint: endpointId, error: result.errorClass }, 'webhook endpoint does not answer: one attempt at a time until one succeeds');
    } else if (change === 'closed') {
      this.deps.log.info({ endpoint: endpointId }, 'webhook endpoint answers again: full concurrency');
    }
  }

  /**
   * The outcome, written with what it says of the endpoint (recordAttempt); then, if it calls for
   * it, the endpoint disabled. Two writes: should the process stop between them, the next attempt
   * to the endpoint (a 410 again, or a failure still past 5 days) disables it.
   */
  private async record(d: ClaimedDelivery, at: number, result: AttemptResult): Promise<void> {
    const attempts = d.attempts + 1;
    const decision = decide(result.outcome, attempts, this.deps.retrySchedule, at, result.retryAfterMs, this.deps.random);
    const note = result.outcome === 'success' ? 'succeeded' : result.outcome === 'gone' ? 'none' : 'failed';
    const recorded = await recordAttempt(
      this.deps.db,
      {
        deliveryId: d.id,
        endpointId: d.endpoint_id,
        at,
        durationMs: result.durationMs,
        outcome: result.outcome,
        statusCode: result.statusCode,
        errorClass: result.errorClass,
        errorDetail: result.errorDetail,
        responseExcerpt: result.responseExcerpt,
        attempts,
        status: decision.delivery === 'retry' ? 'pending' : decision.delivery,
        nextAttemptAt: decision.delivery === 'retry' ? decision.at : null,
      },
      note,
    );
    if (!recorded) return;
    const failingSince = recorded.failingSince;
    const reason =
      result.outcome === 'gone'
        ? `The receiver answered 410 Gone on ${new Date(at).toISOString()}; enable the endpoint again once it exists.`
        : failingSince !== null && at - failingSince >= AUTO_DISABLE_AFTER_MS
          ? `No successful delivery since ${new Date(failingSince).toISOString()} (5 days of failures); fix the receiver, then enable the endpoint again.`
          : undefined;
    if (!reason) return;
    await this.deps.db.write((t) => disableEndpoint(t, d.endpoint_id, reason, at));
    // Its other deliveries, held or in flight, stay pending until it is enabled again.
    this.cutOff(d.endpoint_id);
  }
}

function share(shares: Map<string, Share>, id: string): Share {
  let s = shares.get(id);
  if (!s) shares.set(id, (s = { held: new Set(), sending: 0 }));
  return s;
}

function unshare(shares: Map<string, Share>, id: string, h: Held): void {
  const s = shares.get(id)!;
  s.held.delete(h);
  if (s.held.size === 0) shares.delete(id);
}
