// A small but realistic Auth0 tenant as a stream of Events API events: users sign up and change,
// organizations gain members and roles, groups get members, some people leave. Deterministic.
import type { CloudEvent } from './auth0-simulator.js';
import { seededRandom } from './sanity-simulator.js';

const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Radia', 'Leslie', 'Margaret', 'Niklaus'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Perlman', 'Lamport'];
const ORGS = [
  { id: 'org_acme', name: 'acme', display_name: 'Acme Inc.' },
  { id: 'org_globex', name: 'globex', display_name: 'Globex Corporation' },
  { id: 'org_initech', name: 'initech', display_name: 'Initech' },
];
const ROLES = [
  { id: 'rol_admin', name: 'admin' },
  { id: 'rol_editor', name: 'editor' },
  { id: 'rol_viewer', name: 'viewer' },
];
const GROUPS = [
  { id: 'grp_eng', name: 'Engineering' },
  { id: 'grp_support', name: 'Support' },
  { id: 'grp_sales', name: 'Sales' },
];

/** The tenant's events in the order Auth0 would send them, one minute apart from `start`. */
export function demoTenantEvents(userCount = 48, seed = 7, start = '2026-03-02T09:00:00.000Z'): CloudEvent[] {
  const random = seededRandom(seed);
  const pick = <T>(items: readonly T[]) => items[Math.floor(random() * items.length)];
  const events: CloudEvent[] = [];
  let minute = 0;
  /** The time the next event gets. */
  const now = () => new Date(Date.parse(start) + minute * 60_000).toISOString();
  const emit = (type: string, object: Record<string, unknown>) => {
    events.push({ specversion: '1.0', id: `evt_demo_${String(events.length).padStart(5, '0')}`, type, time: now(), source: 'urn:auth0:demo.eu.auth0.com', data: { object } });
    minute++;
  };

  for (const org of ORGS) emit('organization.created', { ...org, metadata: { plan: pick(['free', 'pro', 'enterprise']) } });
  for (const group of GROUPS) emit('group.created', { ...group, type: 'tenant', created_at: now() });
  for (const group of GROUPS) emit('group.role.assigned', { group: { id: group.id }, role: pick(ROLES) });

  const users = Array.from({ length: userCount }, (_, i) => {
    const given = FIRST_NAMES[i % FIRST_NAMES.length];
    const family = LAST_NAMES[(i * 7) % LAST_NAMES.length];
    return { user_id: `auth0|demo${String(i).padStart(3, '0')}`, given_name: given, family_name: family, org: ORGS[i % ORGS.length] };
  });
  for (const user of users) {
    emit('user.created', { ...userObject(user, 0), created_at: now(), updated_at: now() });
    emit('organization.member.added', { organization: { id: user.org.id, name: user.org.name }, user: { user_id: user.user_id } });
    emit('organization.member.role.assigned', { organization: { id: user.org.id }, user: { user_id: user.user_id }, role: pick(ROLES) });
    if (random() < 0.6) emit('group.member.added', { group: { id: pick(GROUPS).id, type: 'tenant' }, member: { member_type: 'user', id: user.user_id } });
  }
  for (const user of users) {
    if (random() < 0.5) emit('user.updated', { ...userObject(user, 1 + Math.floor(random() * 20)), updated_at: now() });
  }
  for (const user of users.filter(() => random() < 0.1)) {
    emit('organization.member.deleted', { organization: { id: user.org.id }, user: { user_id: user.user_id } });
    emit('user.deleted', { ...userObject(user, 0), deleted_at: now() });
  }
  emit('organization.updated', { ...ORGS[0], display_name: 'Acme Corporation', metadata: { plan: 'enterprise' } });
  return events;
}

function userObject(user: { user_id: string; given_name: string; family_name: string }, logins: number): Record<string, unknown> {
  const handle = `${user.given_name}.${user.family_name}`.toLowerCase();
  return {
    user_id: user.user_id,
    email: `${handle}@example.com`,
    email_verified: logins > 0,
    name: `${user.given_name} ${user.family_name}`,
    given_name: user.given_name,
    family_name: user.family_name,
    nickname: handle,
    logins_count: logins,
    identities: [{ provider: 'auth0', user_id: user.user_id.slice('auth0|'.length), connection: 'Username-Password-Authentication' }],
  };
}
