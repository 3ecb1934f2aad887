/**
 * Startup: the live desk rebuilt from the DeskStore (open conversations, agent settings, sticky
 * memory), then each tenant's queue opened and reconciled with it (see waiting-queues.ts). An
 * offer does not survive a restart: the conversation is waiting again, in its place.
 */
import type { Conversations } from './conversations.js';
import type { Presence } from './presence.js';
import type { DeskRuntime } from './runtime.js';

export async function restore(rt: DeskRuntime, conversations: Conversations, presence: Presence): Promise<void> {
  await rt.store.open();
  for (const a of await rt.store.loadAgents()) rt.storedSettings.set(`${a.tenant}\0${a.id}`, a.settings);
  // Pairs beyond maxStickyPerTenant (the cap was lowered) are deleted, oldest first.
  const forget = rt.sticky.load(await rt.store.loadLastAgents());
  if (forget.length > 0) await rt.write(forget);
  const records = await rt.store.loadActive();
  records.sort((a, b) => a.createdAt - b.createdAt);
  const tenants = new Set<string>();
  for (const c of records) {
    if (c.state === 'offered') { c.state = 'waiting'; c.offer = null; }
    rt.convs.set(c.id, c);
    rt.track(c);
    rt.tail = Math.max(rt.tail, c.order);
    if (c.state === 'waiting') tenants.add(c.tenant);
    else if (c.state === 'bot') conversations.profiles.set(c.id, Promise.resolve(c.profile));
    else if (c.state === 'assigned' && c.agentId !== null) {
      const agent = rt.agent(c.tenant, c.agentId);
      agent.active.add(c.id);
      // The agent is offline until their socket comes back; the usual grace period applies.
      presence.startGrace(agent);
    }
  }
  for (const t of tenants) await rt.queues.queue(t);
}
