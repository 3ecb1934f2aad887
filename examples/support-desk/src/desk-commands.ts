/**
 * The demo's own hub commands beside the desk's: `demo.profile` (the agent console's visitor
 * panel after a reload) and, when the refund saga is wired, `demo.refund`.
 */
import { KefuError, type Hub, type Desk } from '@kefu/core';
import type { JsonObject } from '@kefu/protocol';

export function registerDemoCommands(hub: Hub, desk: Desk): void {
  hub.command('demo.profile', (ctx) => {
    if (ctx.identity.role !== 'agent') throw new KefuError('KEFU_ERR_FORBIDDEN', 'agents only');
    if (!ctx.conv) throw new KefuError('KEFU_ERR_INVALID_FRAME', 'demo.profile needs "conv"');
    const c = desk.conversation(ctx.conv);
    if (!c || c.tenant !== ctx.identity.tenant) throw new KefuError('KEFU_ERR_CONVERSATION_NOT_FOUND', `no conversation "${ctx.conv}"`);
    const out: JsonObject = { profile: c.profile, intent: c.intent, state: c.state, visitor: c.visitor.name ?? c.visitor.id };
    return out;
  });
}
