// A seeded Auth0 event stream of every event family, with the upstream's own faults in it
// (redeliveries, late events, cut-off frames, invalid UTF-8, frames over the client's limit) and the
// rows it must leave, worked out here. The crash test, the fault harness and the soak all play it.
import { eventEntry, heartbeatEntry, malformedEntry, offsetAt, type CloudEvent, type Pace } from '../src/simulators/auth0-simulator.js';
import type { Handler, ScriptStep } from '../src/simulators/sse-server.js';

/** A 20 MB frame: over the limit the fault harness sets (FAULTS_MAX_FRAME_BYTES), so a dead letter, not a failure. */
export const OVERSIZE_FRAME_BYTES = 20_000_000;

/** A position of the stream: the steps that carry its frame (one step, so nothing is ever wedged inside). */
export interface Auth0ScriptEntry {
  offset: string;
  step: ScriptStep;
}

export interface Auth0ScriptOptions {
  frames: number;
  /** Frames over OVERSIZE_FRAME_BYTES in the stream. */
  oversizeFrames?: number;
  /** Seeded (see seededRandom), so that a failing run can be replayed. */
  random: () => number;
}

export interface Auth0Script {
  entries: Auth0ScriptEntry[];
  /** Event ids in order of first arrival: the `events` rows, in `seq` order. */
  eventIds: string[];
  /** Position of each event's first arrival. */
  firstArrival: Map<string, number>;
  /** Positions whose frame must become a dead letter (cut-off JSON, oversize). */
  deadLetterPositions: number[];
  /** Events whose payload carried invalid UTF-8: stored with U+FFFD in its place. */
  invalidUtf8Ids: string[];
  /** How many frames of each upstream fault the script holds. */
  counts: { duplicate: number; outOfOrder: number; invalidUtf8: number; oversize: number; malformed: number };
  /** Projections, last writer by (event time, arrival): users' emails and present org memberships. */
  expectedEmails: Map<string, string>;
  expectedMembers: Set<string>;
}

const BAD_UTF8 = Buffer.from([0xff, 0xfe, 0xc3, 0x28]);

export function randomAuth0Script({ frames, oversizeFrames = 0, random }: Auth0ScriptOptions): Auth0Script {
  const pick = (n: number) => Math.floor(random() * n);
  const start = Date.parse('2026-04-01T00:00:00Z');
  const entries: Auth0ScriptEntry[] = [];
  const sent: CloudEvent[] = [];
  const firstArrival = new Map<string, number>();
  const deadLetterPositions: number[] = [];
  const invalidUtf8Ids: string[] = [];
  const counts = { duplicate: 0, outOfOrder: 0, invalidUtf8: 0, oversize: 0, malformed: 0 };
  const createdUsers = new Set<number>();
  const createdGroups = new Set<number>();
  const userWrites = new Map<string, { time: string; position: number; email: string }>();
  const memberWrites = new Map<string, { time: string; position: number; present: boolean }>();
  const newer = (a: { time: string; position: number } | undefined, time: string, position: number) =>
    !a || time > a.time || (time === a.time && position > a.position);
  // Spread the oversize frames over the stream, away from its ends.
  const oversizeAt = new Set(Array.from({ length: oversizeFrames }, (_, i) => Math.floor((frames * (i + 1)) / (oversizeFrames + 1))));

  for (let position = 0; position < frames; position++) {
    const offset = offsetAt(position);
    const roll = random();
    if (oversizeAt.has(position)) {
      entries.push({ offset, step: { raw: oversizeFrame(offset) } });
      deadLetterPositions.push(position);
      counts.oversize++;
      continue;
    }
    if (roll < 0.04) {
      entries.push(heartbeatEntry(offset));
      continue;
    }
    if (roll < 0.09 && sent.length > 0) {
      // Redelivered: the same event under a new offset, as Auth0's at-least-once delivery does.
      entries.push(eventEntry(sent[pick(sent.length)], offset));
      counts.duplicate++;
      continue;
    }
    if (roll < 0.095) {
      entries.push(malformedEntry('user.updated', offset));
      deadLetterPositions.push(position);
      counts.malformed++;
      continue;
    }
    // One second per frame; one event in ten is up to ten minutes older than its neighbours.
    const late = random() < 0.1 ? (1 + pick(600)) * 1000 : 0;
    if (late > 0) counts.outOfOrder++;
    const time = new Date(start + position * 1000 - late).toISOString();
    const event = { id: `evt_${position.toString(36)}_${pick(1e6).toString(36)}`, time, ...randomChange(roll, time, position) };
    sent.push(event);
    firstArrival.set(event.id, position);

    const object = event.data.object;
    if (event.type.startsWith('user.')) {
      const userId = object.user_id as string;
      if (newer(userWrites.get(userId), time, position)) userWrites.set(userId, { time, position, email: object.email as string });
    } else if (event.type === 'organization.member.added' || event.type === 'organization.member.deleted') {
      const key = `${(object.organization as { id: string }).id} ${(object.user as { user_id: string }).user_id}`;
      if (newer(memberWrites.get(key), time, position)) memberWrites.set(key, { time, position, present: event.type.endsWith('added') });
    }
    if (event.type.startsWith('user.') && roll > 0.41) {
      // Invalid UTF-8 inside the user's name: decoded as U+FFFD, the event is still stored.
      entries.push({ offset, step: { raw: withInvalidUtf8(event, offset) } });
      invalidUtf8Ids.push(event.id);
      counts.invalidUtf8++;
    } else {
      entries.push(eventEntry(event, offset));
    }
  }

  /** Every event family the normalizer knows (users most), and a type it does not. */
  function randomChange(roll: number, time: string, position: number): { type: string; data: { object: Record<string, unknown> } } {
    const user = pick(60);
    const org = { id: `org_${pick(4)}` };
    const role = { id: `rol_${pick(3)}`, name: `role ${pick(3)}` };
    const group = pick(5);
    if (roll < 0.45) {
      const type = createdUsers.has(user) ? 'user.updated' : 'user.created';
      createdUsers.add(user);
      return { type, data: { object: { user_id: `auth0|u${user}`, email: `u${user}.${position}@example.com`, name: `User ${user}`,
        created_at: '2026-03-01T00:00:00Z', updated_at: time, logins_count: position } } };
    }
    if (roll < 0.6) {
      const type = random() < 0.6 ? 'organization.member.added' : 'organization.member.deleted';
      return { type, data: { object: { organization: org, user: { user_id: `auth0|u${user}` } } } };
    }
    if (roll < 0.7) {
      const type = random() < 0.6 ? 'organization.member.role.assigned' : 'organization.member.role.deleted';
      return { type, data: { object: { organization: org, user: { user_id: `auth0|u${user}` }, role } } };
    }
    if (roll < 0.78) {
      const type = random() < 0.6 ? 'group.member.added' : 'group.member.deleted';
      return { type, data: { object: { group: { id: `grp_${group}` }, member: { member_type: 'user', id: `auth0|u${user}` } } } };
    }
    if (roll < 0.84) {
      const type = random() < 0.2 ? 'organization.created' : 'organization.updated';
      return { type, data: { object: { ...org, name: org.id, display_name: `Org ${position}` } } };
    }
    if (roll < 0.9) {
      const type = !createdGroups.has(group) ? 'group.created' : random() < 0.15 ? 'group.deleted' : 'group.updated';
      createdGroups.add(group);
      return { type, data: { object: { id: `grp_${group}`, name: `Group ${position}`, type: 'tenant', created_at: '2026-03-01T00:00:00Z' } } };
    }
    if (roll < 0.94) {
      const type = random() < 0.6 ? 'group.role.assigned' : 'group.role.deleted';
      return { type, data: { object: { group: { id: `grp_${group}` }, role } } };
    }
    if (roll < 0.97) {
      const type = random() < 0.6 ? 'organization.group.role.assigned' : 'organization.group.role.deleted';
      return { type, data: { object: { organization: org, group: { id: `grp_${group}` }, role } } };
    }
    if (roll < 0.99) {
      const type = ['organization.connection.added', 'organization.connection.updated', 'organization.connection.removed'][pick(3)];
      return { type, data: { object: { organization: org, connection: { id: `con_${pick(3)}` }, show_as_button: random() < 0.5 } } };
    }
    return { type: 'connection.updated', data: { object: { id: `con_${pick(3)}`, name: 'db' } } };
  }

  return {
    entries,
    eventIds: [...firstArrival.keys()],
    firstArrival,
    deadLetterPositions,
    invalidUtf8Ids,
    counts,
    expectedEmails: new Map([...userWrites].map(([userId, write]) => [userId, write.email])),
    expectedMembers: new Set([...memberWrites].filter(([, write]) => write.present).map(([key]) => key)),
  };
}

function withInvalidUtf8(event: CloudEvent & { data: { object: Record<string, unknown> } }, offset: string): Buffer {
  const marked = { ...event, data: { object: { ...event.data.object, name: '@@BAD@@' } } };
  const [before, after] = JSON.stringify({ offset, event: marked }).split('@@BAD@@');
  return Buffer.concat([Buffer.from(`event: ${event.type}\nid: ${offset}\ndata: ${before}`), BAD_UTF8, Buffer.from(`${after}\n\n`)]);
}

let oversizeBody: Buffer | undefined;
function oversizeFrame(offset: string): Buffer {
  // One shared body; each frame only adds its head.
  oversizeBody ??= Buffer.concat([Buffer.from('data: {"offset":"'), Buffer.alloc(OVERSIZE_FRAME_BYTES, 'x'), Buffer.from('"}\n\n')]);
  return Buffer.concat([Buffer.from(`event: user.updated\nid: ${offset}\n`), oversizeBody]);
}

/**
 * Serves the entries after the request's `from` cursor, then keep-alives until the connection
 * closes; `pace()` is read per connection, so a run can lift the pacing for its last catch-up.
 */
export function serveAuth0Script(entries: Auth0ScriptEntry[], pace: () => Pace | undefined): Handler {
  const positions = new Map(entries.map((entry, i) => [entry.offset, i]));
  return (request) => {
    const from = request.query.get('from');
    const position = from === null ? -1 : positions.get(from);
    if (position === undefined) return { status: 400, body: JSON.stringify({ message: `invalid cursor ${from}` }) };
    return { status: 200, headers: { 'content-type': 'text/event-stream' }, steps: scriptSteps(entries, position + 1, pace()) };
  };
}

function* scriptSteps(entries: Auth0ScriptEntry[], first: number, pace: Pace | undefined): Generator<ScriptStep> {
  yield { comment: 'connected' };
  for (let i = first; i < entries.length; i++) {
    yield entries[i].step;
    if (pace && (i - first + 1) % pace.framesPerTick === 0) yield { sleep: pace.tickMs };
  }
  for (;;) {
    yield { comment: ' heartbeat' };
    yield { sleep: 200 };
  }
}
