/**
 * Test helpers: real @kefu/client connections to a running demo desk (demo tokens over HTTP),
 * and a chat handed to Alice, as the widget and the console would do it.
 */
import WebSocket from 'ws';
import { KefuClient, deskCommand, onDeskEvent, type KefuClientOptions, type MessageFrame } from '@kefu/client';
import type { SupportDesk } from '../src/app.js';

/** The demo visitor whose mock profile has a refundable order. */
export const REFUND_VISITOR = 'v-e2e0001';
export const WAIT_MS = 30_000;

export async function connectAs(desk: SupportDesk, who: { role: 'agent' | 'visitor'; id: string }): Promise<KefuClient> {
  const res = await fetch(`${desk.url}/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(who) });
  const { token } = (await res.json()) as { token: string };
  const c = new KefuClient({ url: desk.url.replace('http', 'ws') + '/kefu', token, WebSocket: WebSocket as unknown as KefuClientOptions['WebSocket'] });
  await c.connect();
  return c;
}

/** Resolves once `check()` is truthy, polling; rejects with `what` after `ms`. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, ms = WAIT_MS): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The texts a client has seen from the refunds sender in `conv`, in seq order, deduplicated. */
export function refundTexts(c: KefuClient, conv: string): () => string[] {
  const seen = new Map<number, string>();
  c.on('message', (m: MessageFrame) => { if (m.conv === conv && m.from.id === 'kefu-refunds') seen.set(m.seq, m.body); });
  return () => [...seen.entries()].sort((a, b) => a[0] - b[0]).map((e) => e[1]);
}

export interface AssignedChat { agent: KefuClient; visitor: KefuClient; conv: string; texts: () => string[] }

/** Alice online, the refund visitor opens a chat and asks for a human, Alice accepts it. */
export async function assignedChat(desk: SupportDesk): Promise<AssignedChat> {
  const agent = await connectAs(desk, { role: 'agent', id: 'alice' });
  await deskCommand(agent, 'desk.status', { status: 'online' });
  const visitor = await connectAs(desk, { role: 'visitor', id: REFUND_VISITOR });
  const { conv } = await visitor.open({ page: '/' });
  const texts = refundTexts(visitor, conv);
  let offerId: string | undefined;
  let joined = false;
  onDeskEvent(agent, 'desk.offer', (o) => { if (o.conv === conv) offerId = o.offerId; });
  agent.on('joined', (j) => { if (j.conv === conv) joined = true; });
  await deskCommand(visitor, 'desk.human', {}, conv);
  const id = await waitFor('the offer to Alice', () => offerId);
  await deskCommand(agent, 'desk.accept', { offerId: id });
  await waitFor('Alice to join the chat', () => joined);
  return { agent, visitor, conv, texts };
}
