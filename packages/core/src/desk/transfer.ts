/** Transfer by the assigned agent: directly to another agent, or to a team via the queue head. */
import { DeskEvent, KefuError } from '@kefu/protocol';
import { requeueAtHead } from './requeue.js';
import type { TransferTarget } from './events.js';
import type { Positions } from './positions.js';
import type { DeskRuntime } from './runtime.js';
import type { DeskIdentity, DeskState } from './types.js';

export type TransferResult = { conv: string; state: DeskState; agent: string | null; team: string | null };

export async function transfer(rt: DeskRuntime, positions: Positions, identity: DeskIdentity, convId: string, target: TransferTarget): Promise<TransferResult> {
  rt.assertOpen();
  const from = rt.requireAgent(identity);
  const conv = rt.tenantConv(identity, convId);
  if (conv.state !== 'assigned') throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', `cannot transfer a conversation in state ${conv.state}`);
  if (conv.agentId !== identity.id) throw new KefuError('KEFU_ERR_FORBIDDEN', 'only the assigned agent may transfer the conversation');
  const hasAgent = typeof target.agent === 'string';
  const hasTeam = typeof target.team === 'string';
  if (hasAgent === hasTeam) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'transfer needs exactly one of agent or team');
  const note = typeof target.note === 'string' ? target.note.slice(0, 500) : null;
  if (hasAgent) {
    const to = rt.agents.get(conv.tenant, target.agent!);
    if (!to) throw new KefuError('KEFU_ERR_DESK_AGENT_NOT_FOUND', `no agent "${target.agent}" in this tenant`);
    if (to === from) throw new KefuError('KEFU_ERR_INVALID_ARGUMENT', 'cannot transfer a conversation to its own agent');
    if (to.status !== 'online') throw new KefuError('KEFU_ERR_DESK_AGENT_OFFLINE', `agent "${to.id}" is ${to.status}`);
    if (to.load >= to.capacity) throw new KefuError('KEFU_ERR_DESK_AGENT_AT_CAPACITY', `agent "${to.id}" has no free capacity`);
    from.active.delete(conv.id);
    to.active.add(conv.id);
    to.lastAssignedAt = Date.now();
    conv.agentId = to.id;
    conv.assignedAt = Date.now();
    await rt.save([conv], rt.rememberAgent(conv, to.id));
    await rt.out.callAsync(() => rt.o.hub?.addMember(conv.id, to.sender()));
    const payload = { conv: conv.id, from: from.sender(), agent: to.sender(), team: null, note };
    rt.out.toConversation(conv.id, DeskEvent.transferred, payload);
    rt.out.toUser(conv.tenant, from.id, DeskEvent.transferred, payload);
    rt.out.call(() => rt.o.hub?.removeMember(conv.id, from.id, 'transferred'));
    rt.out.toConversation(conv.id, DeskEvent.assigned, { conv: conv.id, agent: to.sender() });
    rt.events.emit('transferred', conv, from.id, { agent: to.id, team: null });
    rt.markDirty(conv.tenant);
    return { conv: conv.id, state: conv.state, agent: to.id, team: null };
  }
  const team = target.team!;
  if (!rt.agents.hasTeam(conv.tenant, team)) throw new KefuError('KEFU_ERR_DESK_TEAM_NOT_FOUND', `no team "${team}" in this tenant`);
  await rt.queues.queue(conv.tenant);
  if (rt.queues.reserved(conv.tenant) >= rt.o.maxWaiting) throw new KefuError('KEFU_ERR_DESK_QUEUE_FULL', 'the waiting queue is full');
  if (conv.state !== 'assigned' || conv.agentId !== from.id) throw new KefuError('KEFU_ERR_DESK_INVALID_STATE', 'the conversation changed during the transfer');
  from.active.delete(conv.id);
  const queued = requeueAtHead(rt, conv, 'transfer');
  conv.team = team;
  // The sender of the transfer should not get it straight back.
  conv.declined = [{ agentId: from.id, at: Date.now() }];
  await Promise.all([rt.save([conv]), queued]);
  const payload = { conv: conv.id, from: from.sender(), agent: null, team, note };
  rt.out.toConversation(conv.id, DeskEvent.transferred, payload);
  rt.out.call(() => rt.o.hub?.removeMember(conv.id, from.id, 'transferred'));
  rt.events.emit('state', conv, 'assigned', 'waiting');
  rt.events.emit('transferred', conv, from.id, { agent: null, team });
  rt.events.emit('requeued', conv, 'transfer');
  await positions.send(conv);
  rt.markDirty(conv.tenant);
  return { conv: conv.id, state: conv.state, agent: null, team };
}
