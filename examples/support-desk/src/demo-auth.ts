/**
 * DEMO ONLY: an endpoint that signs a JWT for whoever asks. It lets the demo's visitor page
 * and agent console log in without an identity provider. A real deployment issues tokens from
 * its own login and never exposes anything like this.
 */
import { createHmac, randomBytes } from 'node:crypto';

export const DEMO_TENANT = 'demo';

/** The demo's agents (the console's login buttons). */
export const demoAgents: Record<string, { name: string; teams: string[] }> = {
  alice: { name: 'Alice', teams: ['general', 'billing'] },
  bob: { name: 'Bob', teams: ['general'] },
};

const VISITOR_NAMES = ['Ann', 'Ben', 'Chen Wei', 'Dara', 'Eli', 'Fatima', 'Goro', 'Hana'];

export interface DemoIdentity { id: string; role: 'visitor' | 'agent'; name: string; tenant: string }

export class DemoTokens {
  /** Random per process: tokens of an earlier run stop working, and clients fetch new ones. */
  readonly secret = randomBytes(32).toString('hex');

  /** Validates a demo login request and returns the identity to sign. */
  identity(body: unknown): DemoIdentity {
    const b = (typeof body === 'object' && body !== null ? body : {}) as { role?: unknown; id?: unknown };
    if (b.role === 'agent') {
      const id = typeof b.id === 'string' ? b.id : '';
      const agent = demoAgents[id];
      if (!agent) throw new RangeError(`unknown demo agent "${id.slice(0, 40)}" (use ${Object.keys(demoAgents).join(' or ')})`);
      return { id, role: 'agent', name: agent.name, tenant: DEMO_TENANT };
    }
    if (b.role !== undefined && b.role !== 'visitor') throw new RangeError('role must be "visitor" or "agent"');
    // A returning visitor keeps their id (kept in the widget's localStorage) and so their chat.
    const id = typeof b.id === 'string' && /^v-[a-z0-9]{6,32}$/.test(b.id) ? b.id : `v-${randomBytes(6).toString('hex')}`;
    const name = VISITOR_NAMES[parseInt(id.slice(2, 6), 16) % VISITOR_NAMES.length] ?? 'Visitor';
    return { id, role: 'visitor', name, tenant: DEMO_TENANT };
  }

  /** An HS256 JWT (node:crypto is enough for signing; the hub verifies with jose). */
  sign(who: DemoIdentity, ttlS = 12 * 3600): string {
    const now = Math.floor(Date.now() / 1000);
    const b64 = (v: object): string => Buffer.from(JSON.stringify(v)).toString('base64url');
    const head = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub: who.id, tenant: who.tenant, role: who.role, name: who.name, iat: now, exp: now + ttlS })}`;
    return `${head}.${createHmac('sha256', this.secret).update(head).digest('base64url')}`;
  }
}
