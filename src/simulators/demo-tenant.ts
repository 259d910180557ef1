// The demo's Auth0 tenant: a small live tenant (src/simulators/auth0-tenant.ts), most of which
// existed before the demo's stream starts, with changes made before it and while it listens.
// Seeded, so the tenant ends the same every run, whatever the timing.
import { Auth0Tenant } from './auth0-tenant.js';

/** Changes made before the stream starts (they are in the stream's history), and while it listens. */
export const DEMO_CHANGES = { before: 60, during: 40 };

/** The tenant as it stands when the demo starts its stream. */
export function demoTenant(): Auth0Tenant {
  const tenant = new Auth0Tenant({ seed: 7, token: 'demo-token', exportDelayMs: 100 });
  tenant.populate({ users: 48, organizations: 3, membersPerOrganization: 16, groups: 3, membersPerGroup: 10 });
  for (let i = 0; i < DEMO_CHANGES.before; i++) tenant.change();
  return tenant;
}
