/**
 * Wires a Desk to a Hub: `desk.*` commands, and the hub events that drive the desk
 * (conversation opened, message stored, agent presence). Command args are validated here, at
 * the wire boundary; the Desk's methods validate roles, tenants and states.
 */
import { KefuError, DeskCommand, type Json, type JsonObject, type Sender } from '@kefu/protocol';
import type { Desk } from './desk.js';
import type { DeskCommandContext, DeskHub, DeskHubEvents } from './hub-types.js';
import type { DeskIdentity } from './types.js';

function identityOf(ctx: DeskCommandContext): DeskIdentity {
  const i = ctx.identity;
  const role = i.role === 'agent' || i.role === 'visitor' ? i.role : 'system';
  return i.name === undefined ? { tenant: i.tenant, id: i.id, role } : { tenant: i.tenant, id: i.id, role, name: i.name };
}

function needConv(ctx: DeskCommandContext): string {
  if (typeof ctx.conv !== 'string') throw new KefuError('KEFU_ERR_INVALID_FRAME', 'this desk command needs "conv"');
  return ctx.conv;
}

function str(args: JsonObject, key: string, required: boolean, max = 128): string | undefined {
  const v: Json | undefined = args[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > max) {
    throw new KefuError('KEFU_ERR_INVALID_FRAME', `args.${key} must be a string of 1-${max} characters`);
  }
  return v;
}

function only(args: JsonObject, keys: string[]): void {
  for (const k of Object.keys(args)) {
    if (!keys.includes(k)) throw new KefuError('KEFU_ERR_INVALID_FRAME', `unknown field "args.${k.slice(0, 32)}"`);
  }
}

/** Registers the commands and listeners; returns a function that removes the listeners. */
export function bindHub(desk: Desk, hub: DeskHub): () => void {
  const onError = (err: unknown) => desk.emit('error', err);

  hub.command(DeskCommand.human, async (ctx, args) => {
    only(args, []);
    return desk.requestHuman(identityOf(ctx), needConv(ctx));
  });
  hub.command(DeskCommand.accept, async (ctx, args) => {
    only(args, ['offerId']);
    return desk.accept(identityOf(ctx), str(args, 'offerId', true)!);
  });
  hub.command(DeskCommand.decline, async (ctx, args) => {
    only(args, ['offerId', 'reason']);
    str(args, 'reason', false, 200);
    return desk.decline(identityOf(ctx), str(args, 'offerId', true)!);
  });
  hub.command(DeskCommand.transfer, async (ctx, args) => {
    only(args, ['agent', 'team', 'note']);
    const target: { agent?: string; team?: string; note?: string } = {};
    const agent = str(args, 'agent', false);
    const team = str(args, 'team', false);
    const note = str(args, 'note', false, 500);
    if (agent !== undefined) target.agent = agent;
    if (team !== undefined) target.team = team;
    if (note !== undefined) target.note = note;
    return desk.transfer(identityOf(ctx), needConv(ctx), target);
  });
  hub.command(DeskCommand.close, async (ctx, args) => {
    only(args, ['reason']);
    return desk.closeConversation(identityOf(ctx), needConv(ctx), str(args, 'reason', false, 200));
  });
  hub.command(DeskCommand.rate, async (ctx, args) => {
    only(args, ['score', 'comment']);
    const score = args.score;
    if (typeof score !== 'number') throw new KefuError('KEFU_ERR_INVALID_FRAME', 'args.score must be a number');
    const comment = args.comment;
    if (comment !== undefined && typeof comment !== 'string') throw new KefuError('KEFU_ERR_INVALID_FRAME', 'args.comment must be a string');
    return desk.rate(identityOf(ctx), needConv(ctx), score, comment);
  });
  hub.command(DeskCommand.canned, async (ctx, args) => {
    only(args, []);
    return desk.canned(identityOf(ctx));
  });
  hub.command(DeskCommand.queue, async (ctx, args) => {
    only(args, ['limit']);
    const limit = args.limit;
    if (limit !== undefined && typeof limit !== 'number') throw new KefuError('KEFU_ERR_INVALID_FRAME', 'args.limit must be a number');
    return desk.queueSnapshot(identityOf(ctx), limit);
  });
  hub.command(DeskCommand.status, async (ctx, args) => {
    only(args, ['status']);
    const status = args.status;
    if (status !== undefined && status !== 'online' && status !== 'away') throw new KefuError('KEFU_ERR_INVALID_FRAME', 'args.status must be "online" or "away"');
    const identity = identityOf(ctx);
    if (status !== undefined) desk.setAgentStatus(identity, status);
    return desk.agentStatus(identity);
  });

  const onConversation: DeskHubEvents['conversation'] = (c) => {
    if (c.visitor.role !== 'visitor') return;
    desk.startConversation({ id: c.id, tenant: c.tenant, visitor: c.visitor }).catch(onError);
  };
  const onMessage: DeskHubEvents['message'] = (m) => {
    desk.message(m.conv, m.from, m.body, m.ts).catch(onError);
  };
  const onPresence: DeskHubEvents['presence'] = ({ tenant, user, status }) => {
    if (user.role !== 'agent') return;
    if (status === 'offline') { desk.agentOffline(tenant, user.id); return; }
    const identity: DeskIdentity = user.name === undefined ? { tenant, id: user.id, role: 'agent' } : { tenant, id: user.id, role: 'agent', name: user.name };
    const known = desk.agentStatus(identity).status;
    if (status === 'online' && known === 'offline') desk.agentOnline(identity).catch(onError);
    else if (known !== 'offline') desk.setAgentStatus(identity, status);
  };
  // A visitor back after a reconnect or a reload resumes without any queue movement: tell them
  // their place at once (to the user: the new socket has not joined the room yet).
  const onConnection: DeskHubEvents['connection'] = ({ identity }) => {
    if (identity.role === 'visitor') desk.visitorConnected(identity);
  };
  hub.on('conversation', onConversation);
  hub.on('message', onMessage);
  hub.on('presence', onPresence);
  hub.on('connection', onConnection);
  return () => {
    hub.off('conversation', onConversation);
    hub.off('message', onMessage);
    hub.off('presence', onPresence);
    hub.off('connection', onConnection);
  };
}

export type { Sender };
