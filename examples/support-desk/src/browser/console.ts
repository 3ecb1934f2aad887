/**
 * The agent console: sign in (demo login), see the waiting queue with positions, take offers
 * with the visitor's profile and detected intent, chat with typing and read ticks, use canned
 * replies, transfer, close, and start a refund (the saga) for the visitor. DEMO ONLY: a switch
 * that makes the demo ERP decline refunds, and the refunds waiting for repair with a retry button.
 */
import { KefuClient, deskCommand, onDeskEvent, type MessageFrame } from '@kefu/client';
import type { CannedReply, DeskIntent, DeskOfferEvent, JsonObject, QueueEntry } from '@kefu/protocol';
import { demoToken, h, time, wsUrl } from './dom.js';

interface Chat {
  conv: string;
  visitor: string;
  profile: JsonObject;
  intent: DeskIntent | null;
  messages: MessageFrame[];
  visitorRead: number;
  unread: number;
  typing: boolean;
  closed: boolean;
}

const $ = <T extends HTMLElement>(sel: string): T => document.querySelector(sel) as T;
const base = location.origin;
let client: KefuClient | undefined;
let me = '';
const chats = new Map<string, Chat>();
let current: string | undefined;
let canned: CannedReply[] = [];
const offers = new Map<string, DeskOfferEvent>();

function chatFor(conv: string): Chat {
  let c = chats.get(conv);
  if (!c) {
    c = { conv, visitor: '', profile: {}, intent: null, messages: [], visitorRead: 0, unread: 0, typing: false, closed: false };
    chats.set(conv, c);
  }
  return c;
}

async function login(agentId: string): Promise<void> {
  const { token, user } = await demoToken(base, { role: 'agent', id: agentId });
  me = user.id;
  $('#me').textContent = `${user.name} (${user.id})`;
  const c = new KefuClient({ url: wsUrl(base, '/kefu'), token: async () => (await demoToken(base, { role: 'agent', id: agentId })).token });
  client = c;
  c.on('state', (s) => { $('#conn').textContent = s; $('#conn').setAttribute('data-state', s); });
  c.on('joined', (j) => {
    const chat = chatFor(j.conv);
    const v = j.members.find((m) => m.role === 'visitor');
    if (v) { chat.visitor = v.name ?? v.id; chat.visitorRead = v.readSeq; }
    if (chat.messages.length === 0) void c.history(j.conv).catch(() => undefined);
    void loadProfile(j.conv);
    renderList();
  });
  c.on('message', (m) => {
    const chat = chatFor(m.conv);
    if (chat.messages.some((x) => x.seq === m.seq)) return;
    chat.messages.push(m);
    if (m.conv === current) { renderMessages(); markRead(); } else if (m.from.id !== me) chat.unread++;
    renderList();
  });
  c.on('typing', (t) => {
    if (t.from.id === me) return;
    chatFor(t.conv).typing = t.on;
    if (t.conv === current) $('#typing').textContent = t.on ? 'Visitor is typing…' : '';
  });
  c.on('read', (r) => {
    if (r.from.id === me) return;
    const chat = chatFor(r.conv);
    if (r.seq > chat.visitorRead) chat.visitorRead = r.seq;
    if (r.conv === current) renderMessages();
  });
  onDeskEvent(c, 'desk.offer', (o) => { offers.set(o.offerId, o); renderOffers(); });
  onDeskEvent(c, 'desk.offer_revoked', (o) => { offers.delete(o.offerId); renderOffers(); });
  // The desk sends the rows as `entries` while desk.ts types them as `head`: accept both.
  onDeskEvent(c, 'desk.queue_changed', (q) => renderQueue(q.size, q.entries));
  onDeskEvent(c, 'desk.closed', (e) => { chatFor(e.conv).closed = true; renderList(); if (e.conv === current) renderChat(); });
  onDeskEvent(c, 'desk.transferred', (e) => {
    if (e.agent?.id !== me) { chats.delete(e.conv); if (current === e.conv) current = undefined; renderList(); renderChat(); }
  });
  await c.connect();
  $('#login').style.display = 'none';
  $('#app').style.display = 'grid';
  const st = await deskCommand(c, 'desk.status', { status: 'online' });
  for (const conv of st.conversations) await c.join(conv).catch(() => undefined);
  canned = (await deskCommand(c, 'desk.canned', {}).catch(() => ({ replies: [] as CannedReply[] }))).replies;
  renderCanned();
  await refreshQueue();
  await refreshDemo();
}

/** DEMO ONLY: the ERP switch and the failed refunds; hidden when the desk has no demo controls. */
async function refreshDemo(): Promise<void> {
  if (!client) return;
  const c = client;
  const erp = await c.command('demo.erp', {}).catch(() => undefined);
  const failed = erp && await c.command('demo.refunds.failed', {}).catch(() => undefined);
  $('#demo-box').style.display = erp && failed ? 'block' : 'none';
  if (!erp || !failed) return;
  ($('#erp-mode') as HTMLSelectElement).value = String(erp.mode);
  const rows = (failed.refunds ?? []) as Array<{ sagaId: string; state: string; orderId: string | null; step: string | null }>;
  $('#failed-refunds').replaceChildren(...(rows.length === 0 ? [h('li', { class: 'muted', text: 'none' })] : rows.map((r) => {
    const retry = h('button', { 'data-testid': 'retry-refund', text: 'Retry' });
    retry.onclick = async () => {
      retry.disabled = true;
      await c.command('demo.refunds.retry', { sagaId: r.sagaId }).catch((e: Error) => alert(e.message));
      await refreshDemo();
    };
    return h('li', { 'data-testid': 'failed-refund', 'data-saga': r.sagaId, text: `${r.orderId ?? r.sagaId}: ${r.state}${r.step ? ` at ${r.step}` : ''}` }, retry);
  })));
}

async function refreshQueue(): Promise<void> {
  if (!client) return;
  const q = await deskCommand(client, 'desk.queue', { limit: 50 }).catch(() => undefined);
  if (q) renderQueue(q.size, q.entries);
}

async function loadProfile(conv: string): Promise<void> {
  if (!client) return;
  const r = await client.command('demo.profile', {}, conv).catch(() => undefined);
  if (!r) return;
  const chat = chatFor(conv);
  chat.profile = (r.profile as JsonObject | undefined) ?? chat.profile;
  chat.intent = (r.intent as DeskIntent | null | undefined) ?? chat.intent;
  if (typeof r.visitor === 'string') chat.visitor = r.visitor;
  if (conv === current) renderProfile();
  renderList();
}

function renderQueue(size: number, entries: QueueEntry[]): void {
  $('#queue-size').textContent = String(size);
  $('#queue').replaceChildren(...entries.map((e) => h('li', { 'data-testid': 'queue-entry', 'data-conv': e.conv },
    h('b', { text: `#${e.position} ` }), `${e.visitor.name ?? e.visitor.id}`,
    h('span', { class: 'muted', text: ` · ${e.intent ? e.intent.name : 'no intent'} · waiting ${Math.round(e.waitingMs / 1000)} s${e.priority > 0 ? ` · priority ${e.priority}` : ''}` }))));
}

function renderOffers(): void {
  $('#offers').replaceChildren(...[...offers.values()].map((o) => {
    const accept = h('button', { class: 'primary', 'data-testid': 'offer-accept', text: 'Accept' });
    const decline = h('button', { 'data-testid': 'offer-decline', text: 'Decline' });
    accept.onclick = async () => {
      if (!client) return;
      const chat = chatFor(o.conv);
      chat.profile = o.profile; chat.intent = o.intent; chat.visitor = o.visitor.name ?? o.visitor.id;
      offers.delete(o.offerId); renderOffers();
      await deskCommand(client, 'desk.accept', { offerId: o.offerId }).catch((e: Error) => alert(e.message));
      select(o.conv);
      void refreshQueue();
    };
    decline.onclick = async () => {
      if (!client) return;
      offers.delete(o.offerId); renderOffers();
      await deskCommand(client, 'desk.decline', { offerId: o.offerId }).catch(() => undefined);
    };
    return h('div', { class: 'offer', 'data-testid': 'offer', 'data-conv': o.conv },
      h('div', {}, h('b', { text: o.visitor.name ?? o.visitor.id }), h('span', { class: 'muted', text: ` wants a human${o.intent ? ` · intent: ${o.intent.name} (${Math.round(o.intent.confidence * 100)}%)` : ''}` })),
      profileView(o.profile, 'offer-profile'),
      h('div', { class: 'transcript' }, ...o.transcript.slice(-4).map((l) => h('div', { text: `${l.from.role}: ${l.body}` }))),
      h('div', { class: 'row' }, accept, decline));
  }));
}

function profileView(p: JsonObject, testid: string): HTMLElement {
  const crm = (p.crm ?? {}) as JsonObject;
  const orders = (p.orders ?? {}) as JsonObject;
  const membership = (p.membership ?? {}) as JsonObject;
  const list = Array.isArray(orders.orders) ? orders.orders as JsonObject[] : [];
  const level = String(membership.level ?? membership.tier ?? '');
  // The membership service rates VIP 0-3; the desk queues higher levels first.
  const vip = typeof membership.vip === 'number' ? membership.vip : membership.vip === true ? 1 : 0;
  return h('div', { class: 'profile', 'data-testid': testid },
    h('div', {}, h('b', { text: String(crm.name ?? crm.email ?? 'unknown customer') }), vip > 0 ? h('span', { class: 'vip', 'data-testid': 'vip', text: `VIP ${vip}` }) : '',
      level ? h('span', { class: 'muted', text: ` ${level}` }) : ''),
    crm.email ? h('div', { class: 'muted', text: String(crm.email) }) : '',
    h('div', { class: 'muted', text: `${list.length} recent order${list.length === 1 ? '' : 's'}${list[0] ? ` · last ${String(list[0].id ?? '')} ${String(list[0].status ?? '')}` : ''}` }));
}

/** The CRM's name once the profile is in, else the token's display name. */
function displayName(c: Chat): string {
  const crm = c.profile.crm as JsonObject | undefined;
  return typeof crm?.name === 'string' ? crm.name : c.visitor || c.conv.slice(0, 10);
}

function renderList(): void {
  $('#chats').replaceChildren(...[...chats.values()].map((c) => {
    const last = c.messages[c.messages.length - 1];
    const li = h('li', { 'data-testid': 'chat-item', 'data-conv': c.conv, class: c.conv === current ? 'active' : '' },
      h('b', { text: displayName(c) }), c.unread ? h('span', { class: 'badge', text: String(c.unread) }) : '',
      c.closed ? h('span', { class: 'muted', text: ' (closed)' }) : '',
      h('div', { class: 'muted', text: last ? last.body.slice(0, 40) : '' }));
    li.onclick = () => select(c.conv);
    return li;
  }));
}

function select(conv: string): void {
  current = conv;
  const chat = chatFor(conv);
  chat.unread = 0;
  renderList();
  renderChat();
  markRead();
}

function markRead(): void {
  if (!client || !current) return;
  const seq = client.lastSeq(current);
  if (seq) client.read(current, seq);
}

function renderChat(): void {
  const chat = current ? chats.get(current) : undefined;
  $('#chat').style.visibility = chat ? 'visible' : 'hidden';
  if (!chat) return;
  $('#chat-title').textContent = displayName(chat);
  $('#typing').textContent = chat.typing ? 'Visitor is typing…' : '';
  ($('#composer') as HTMLFormElement).style.display = chat.closed ? 'none' : 'flex';
  renderMessages();
  renderProfile();
}

function renderProfile(): void {
  const chat = current ? chats.get(current) : undefined;
  if (!chat) return;
  $('#profile').replaceChildren(profileView(chat.profile, 'profile'),
    h('div', { 'data-testid': 'intent', text: chat.intent ? `Detected intent: ${chat.intent.name} (${Math.round(chat.intent.confidence * 100)}%)` : 'Detected intent: none' }));
}

function renderMessages(): void {
  const chat = current ? chats.get(current) : undefined;
  if (!chat) return;
  chat.messages.sort((a, b) => a.seq - b.seq);
  const log = $('#messages');
  log.replaceChildren(...chat.messages.map((m) => {
    const mine = m.from.id === me;
    const read = mine && m.seq <= chat.visitorRead;
    return h('div', { class: `msg ${mine ? 'me' : m.from.role}`, 'data-testid': mine ? 'msg-me' : `msg-${m.from.role}`, 'data-seq': String(m.seq) },
      h('span', { class: 'who', text: mine ? 'You' : m.from.role === 'visitor' ? 'Visitor' : m.from.name ?? m.from.role }), m.body,
      h('span', { class: 'meta', 'data-read': String(read), text: `${time(m.ts)}${mine ? (read ? ' ✓✓' : ' ✓') : ''}` }));
  }));
  log.scrollTop = log.scrollHeight;
}

function renderCanned(): void {
  const sel = $('#canned') as HTMLSelectElement;
  sel.replaceChildren(h('option', { value: '', text: 'Canned replies…' }), ...canned.map((r) => h('option', { value: r.id, text: r.title })));
  sel.onchange = () => {
    const r = canned.find((x) => x.id === sel.value);
    if (r) { const input = $('#input') as HTMLInputElement; input.value = r.body; input.focus(); }
    sel.value = '';
  };
}

function wire(): void {
  for (const b of Array.from(document.querySelectorAll<HTMLButtonElement>('[data-agent]'))) b.onclick = () => void login(b.dataset.agent!).catch((e: Error) => { $('#login-error').textContent = e.message; });
  const input = $('#input') as HTMLInputElement;
  input.oninput = () => { if (client && current) client.typing(current, input.value.length > 0); };
  ($('#composer') as HTMLFormElement).onsubmit = (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text || !client || !current) return;
    input.value = '';
    client.typing(current, false);
    void client.send(current, text).catch((e: Error) => alert(e.message));
  };
  $('#close').onclick = async () => {
    if (client && current) await deskCommand(client, 'desk.close', { reason: 'resolved' }, current).catch((e: Error) => alert(e.message));
  };
  $('#transfer').onclick = async () => {
    if (!client || !current) return;
    const target = ($('#transfer-to') as HTMLSelectElement).value;
    if (!target) return;
    const args = target.startsWith('team:') ? { team: target.slice(5) } : { agent: target };
    await deskCommand(client, 'desk.transfer', args, current).catch((e: Error) => alert(e.message));
  };
  $('#refund').onclick = async () => {
    if (!client || !current) return;
    const out = $('#refund-result');
    out.textContent = 'Refund running…';
    const r = await client.command('demo.refund', {}, current).catch((e: Error) => ({ error: e.message }));
    out.textContent = 'error' in r ? `Refund failed: ${String(r.error)}` : `Refund ${String(r.status ?? 'done')}${r.sagaId ? ` (saga ${String(r.sagaId)})` : ''}`;
  };
  ($('#erp-mode') as HTMLSelectElement).onchange = async () => {
    if (!client) return;
    await client.command('demo.erp', { mode: ($('#erp-mode') as HTMLSelectElement).value }).catch((e: Error) => alert(e.message));
    await refreshDemo();
  };
  $('#status').onchange = async () => {
    if (client) await deskCommand(client, 'desk.status', { status: ($('#status') as HTMLSelectElement).value as 'online' | 'away' }).catch(() => undefined);
  };
  setInterval(() => { void refreshQueue(); void refreshDemo(); }, 5000);
}

wire();
