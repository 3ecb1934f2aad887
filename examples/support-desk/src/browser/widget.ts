/**
 * The embeddable visitor chat widget: one script tag.
 *
 *   <script src="https://desk.example/kefu-widget.js" data-kefu-title="Help" async></script>
 *
 * It fetches a token (the demo endpoint here; a host app points data-kefu-token-url at its own),
 * opens or resumes the visitor's conversation (ids kept in localStorage, so a reload keeps the
 * history), and renders bot answers, queue position, typing, read ticks and the rating.
 */
import { KefuClient, deskCommand, onDeskEvent, type MessageFrame } from '@kefu/client';
import { h, time, wsUrl } from './dom.js';
import { widgetCss } from './widget-style.js';

interface WidgetConfig {
  server: string;
  tokenUrl: string;
  title: string;
  greeting: string;
  open: boolean;
}

const script = document.currentScript as HTMLScriptElement | null;

function readConfig(): WidgetConfig {
  const d = script?.dataset ?? {};
  const server = d.kefuServer ?? (script ? new URL(script.src, location.href).origin : location.origin);
  return {
    server,
    tokenUrl: d.kefuTokenUrl ?? `${server}/demo/token`,
    title: d.kefuTitle ?? 'Customer service',
    greeting: d.kefuGreeting ?? 'Hi! Ask me anything, or ask for a human.',
    open: d.kefuOpen === 'true',
  };
}

const STORE_KEY = 'kefu.widget.v1';
/**
 * What survives a reload. `pending`: the client's outbox is in memory, so the widget keeps the
 * unacknowledged messages here and sends them again, same cid, after the reload (docs/widget.md).
 */
interface Saved { visitorId?: string; conv?: string; pending?: Array<{ conv: string; cid: string; body: string }> }
const load = (): Saved => { try { return JSON.parse(localStorage.getItem(STORE_KEY) ?? '{}') as Saved; } catch { return {}; } };
const save = (s: Saved): void => { try { localStorage.setItem(STORE_KEY, JSON.stringify({ ...load(), ...s })); } catch { /* private mode */ } };

function mount(cfg: WidgetConfig): void {
  const host = h('div', { id: 'kefu-widget' });
  const d = script?.dataset ?? {};
  if (d.kefuPosition) host.setAttribute('data-position', d.kefuPosition);
  for (const [attr, prop] of [['kefuAccent', '--kefu-accent'], ['kefuAccentText', '--kefu-accent-text'], ['kefuFont', '--kefu-font'], ['kefuRadius', '--kefu-radius']] as const) {
    const v = d[attr];
    if (v) host.style.setProperty(prop, v);
  }
  document.body.append(host);
  const root = host.attachShadow({ mode: 'open' });
  root.append(h('style', { text: widgetCss }));

  const launcher = h('button', { class: 'launcher', 'aria-label': 'Open chat', 'data-testid': 'kefu-launcher' });
  // An inline SVG, not an emoji: kiosk and Linux machines often lack an emoji font.
  launcher.innerHTML = '<svg width="26" height="26" viewBox="0 0 24 24" fill="currentColor" aria-hidden="true"><path d="M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';
  const state = h('span', { class: 'state', 'data-testid': 'kefu-state', text: 'connecting…' });
  const closeBtn = h('button', { 'aria-label': 'Minimise chat', text: '×' });
  const banner = h('div', { class: 'banner', 'data-testid': 'kefu-queue' });
  const log = h('div', { class: 'log', 'data-testid': 'kefu-log', role: 'log', 'aria-live': 'polite' });
  const typing = h('div', { class: 'typing', 'data-testid': 'kefu-typing' });
  const humanBtn = h('button', { type: 'button', 'data-testid': 'kefu-human', text: 'Talk to a human' });
  const endBtn = h('button', { type: 'button', 'data-testid': 'kefu-end', text: 'End chat' });
  const input = h('input', { placeholder: 'Type a message…', 'aria-label': 'Message', 'data-testid': 'kefu-input', maxlength: '2000', autocomplete: 'off' });
  const sendBtn = h('button', { type: 'submit', 'data-testid': 'kefu-send', text: 'Send' });
  const form = h('form', { class: 'composer' }, input, sendBtn);
  const rating = h('div', { class: 'rating', 'data-testid': 'kefu-rating' }, h('div', { text: 'How did we do?' }));
  for (let s = 1; s <= 5; s++) {
    const b = h('button', { type: 'button', 'aria-label': `${s} star${s > 1 ? 's' : ''}`, 'data-testid': `kefu-star-${s}`, text: '★' });
    b.onclick = () => void rate(s);
    rating.append(b);
  }
  const ratingChildren = Array.from(rating.childNodes);
  const panel = h('div', { class: 'panel', role: 'dialog', 'aria-label': cfg.title, 'data-testid': 'kefu-panel' },
    h('header', {}, h('span', { class: 'title', text: cfg.title }), state, closeBtn),
    banner, log, typing, h('div', { class: 'actions' }, humanBtn, endBtn), form, rating);
  root.append(launcher, panel);

  const saved = load();
  let client: KefuClient | undefined;
  let conv = saved.conv;
  let myId = saved.visitorId ?? '';
  let agentRead = 0;
  const bySeq = new Map<number, HTMLElement>();
  const byCid = new Map<string, HTMLElement>();
  /** cids of the messages shown: a message saved as pending but already stored is not sent again. */
  const shownCids = new Set<string>();
  const persistPending = (): void => {
    save({ pending: client ? client.pendingMessages().map(({ conv: c, cid, body }) => ({ conv: c, cid, body })) : [] });
  };
  const mine: Array<{ seq: number; el: HTMLElement }> = [];

  const setOpen = (open: boolean): void => {
    panel.classList.toggle('open', open);
    launcher.setAttribute('aria-expanded', String(open));
    if (open) { void start(); input.focus(); markRead(); }
  };
  launcher.onclick = () => setOpen(!panel.classList.contains('open'));
  closeBtn.onclick = () => setOpen(false);

  const scroll = (): void => { log.scrollTop = log.scrollHeight; };
  const system = (text: string): void => { log.append(h('div', { class: 'msg system', text })); scroll(); };
  const tick = (el: HTMLElement, seq: number): void => {
    const meta = el.querySelector('.meta');
    if (meta) meta.setAttribute('data-read', seq <= agentRead ? 'true' : 'false');
    if (meta) meta.textContent = `${meta.getAttribute('data-time') ?? ''} ${seq <= agentRead ? '✓✓' : '✓'}`;
  };

  function render(m: MessageFrame): void {
    if (bySeq.has(m.seq)) return;
    const isMe = m.from.id === myId;
    const pending = isMe ? byCid.get(m.cid) : undefined;
    const el = pending ?? h('div', { class: `msg ${isMe ? 'me' : m.from.role}` });
    if (!pending) {
      if (!isMe && m.from.role !== 'system') el.append(h('span', { class: 'who', text: m.from.role === 'bot' ? 'Bot' : m.from.name ?? 'Agent' }));
      el.append(m.body, h('span', { class: 'meta', text: time(m.ts), 'data-time': time(m.ts) }));
      log.append(el);
    }
    el.classList.remove('pending');
    shownCids.add(m.cid);
    el.setAttribute('data-seq', String(m.seq));
    el.setAttribute('data-testid', isMe ? 'kefu-msg-me' : `kefu-msg-${m.from.role}`);
    bySeq.set(m.seq, el);
    if (isMe) { byCid.delete(m.cid); mine.push({ seq: m.seq, el }); tick(el, m.seq); }
    scroll();
    markRead();
  }

  function markRead(): void {
    if (!client || !conv || !panel.classList.contains('open') || document.visibilityState === 'hidden') return;
    const last = client.lastSeq(conv);
    if (last) client.read(conv, last);
  }
  document.addEventListener('visibilitychange', markRead);

  let starting: Promise<void> | undefined;
  function start(): Promise<void> {
    starting ??= connect().catch((err: unknown) => { starting = undefined; system(`Cannot connect: ${String(err)}`); });
    return starting;
  }

  async function connect(): Promise<void> {
    const tokenFor = async (): Promise<string> => {
      const r = await fetch(cfg.tokenUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ role: 'visitor', id: myId || undefined }) });
      if (!r.ok) throw new Error(`token endpoint: HTTP ${r.status}`);
      const j = (await r.json()) as { token: string; user: { id: string } };
      myId = j.user.id;
      save({ visitorId: myId, conv });
      return j.token;
    };
    const c = new KefuClient({ url: wsUrl(cfg.server, '/kefu'), token: tokenFor });
    client = c;
    c.on('state', (s) => { state.textContent = s === 'open' ? 'online' : s; state.setAttribute('data-state', s); });
    c.on('message', (m) => { if (m.conv === conv) render(m); });
    c.on('typing', (t) => {
      if (t.conv !== conv || t.from.id === myId) return;
      typing.textContent = t.on ? `${t.from.role === 'agent' ? t.from.name ?? 'Agent' : 'Someone'} is typing…` : '';
    });
    c.on('read', (r) => {
      if (r.conv !== conv || r.from.id === myId || r.from.role !== 'agent' || r.seq <= agentRead) return;
      agentRead = r.seq;
      for (const m of mine) tick(m.el, m.seq);
    });
    onDeskEvent(c, 'desk.queue_position', (e) => {
      banner.textContent = `You are number ${e.position} in the queue${e.estimatedWaitMs > 0 ? ` (about ${Math.max(1, Math.round(e.estimatedWaitMs / 60000))} min)` : ''}.`;
      banner.setAttribute('data-position', String(e.position));
      banner.classList.add('show');
    });
    onDeskEvent(c, 'desk.handoff', () => { system('Connecting you to a human agent…'); });
    onDeskEvent(c, 'desk.offline', (e) => { system(e.message); });
    onDeskEvent(c, 'desk.assigned', (e) => {
      banner.classList.remove('show');
      humanBtn.style.display = 'none';
      system(`${e.agent.name ?? 'An agent'} joined the chat.`);
    });
    onDeskEvent(c, 'desk.transferred', () => { system('You are being transferred to another agent…'); });
    onDeskEvent(c, 'desk.closed', (e) => {
      banner.classList.remove('show');
      typing.textContent = '';
      system('This chat was closed.');
      form.style.display = 'none';
      if (e.canRate) rating.classList.add('show');
    });
    onDeskEvent(c, 'desk.rated', (e) => {
      const again = h('button', { type: 'button', 'data-testid': 'kefu-new-chat', text: 'Start a new chat' });
      again.onclick = () => void newChat();
      rating.replaceChildren(h('div', { 'data-testid': 'kefu-rated', text: `Thanks for rating us ${e.score}/5!` }), again);
    });
    await c.connect();
    if (conv) {
      try {
        // join first: its member list carries the agent's read mark (read ticks survive a reload).
        const joined = await c.join(conv);
        for (const m of joined.members) {
          if (m.role === 'agent') { agentRead = Math.max(agentRead, m.readSeq); humanBtn.style.display = 'none'; }
        }
        await c.history(conv);
        // Messages left unacknowledged by the previous page: the hub stores a cid once, and
        // those it did store are in the history just replayed.
        for (const p of load().pending ?? []) if (p.conv === conv && !shownCids.has(p.cid)) void sendText(p.body, p.cid);
      } catch {
        conv = undefined; // gone (e.g. a fresh data directory): start a new chat
      }
    }
    if (!conv) {
      const joined = await c.open({ page: location.pathname });
      conv = joined.conv;
      save({ visitorId: myId, conv });
      system(cfg.greeting);
    }
    log.setAttribute('data-conv', conv);
    markRead();
  }

  async function newChat(): Promise<void> {
    if (!client) return;
    if (conv) await client.leave(conv).catch(() => undefined);
    const joined = await client.open({ page: location.pathname });
    conv = joined.conv;
    save({ visitorId: myId, conv });
    agentRead = 0;
    mine.length = 0;
    bySeq.clear();
    log.replaceChildren();
    log.setAttribute('data-conv', conv);
    rating.classList.remove('show');
    rating.replaceChildren(...ratingChildren);
    form.style.display = '';
    humanBtn.style.display = '';
    system(cfg.greeting);
  }

  async function sendText(text: string, cid = `w-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`): Promise<void> {
    await start();
    if (!client || !conv) return;
    const el = h('div', { class: 'msg me pending', 'data-testid': 'kefu-msg-me' }, text, h('span', { class: 'meta', text: 'sending…', 'data-time': time(Date.now()) }));
    byCid.set(cid, el);
    log.append(el);
    scroll();
    const sent = client.send(conv, text, undefined, cid);
    persistPending();
    try {
      const ack = await sent;
      // Normally the `message` event has shown it; not when it was stored before a reload and
      // missed the history (the ack is then a `dup` of an older seq).
      if (byCid.get(cid) === el) render({ t: 'msg', conv: ack.conv, seq: ack.seq, cid, from: { id: myId, role: 'visitor' }, body: text, ts: ack.ts });
    } catch (err) {
      el.classList.add('failed');
      el.querySelector('.meta')!.textContent = `not sent: ${(err as Error).message}`;
    }
    persistPending();
  }

  form.onsubmit = (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    input.value = '';
    if (client && conv) client.typing(conv, false);
    void sendText(text);
  };
  input.oninput = () => { if (client && conv) client.typing(conv, input.value.length > 0); };
  humanBtn.onclick = async () => {
    await start();
    if (client && conv) await deskCommand(client, 'desk.human', {}, conv).catch((e: Error) => system(e.message));
  };
  endBtn.onclick = async () => {
    if (client && conv) await deskCommand(client, 'desk.close', { reason: 'visitor ended the chat' }, conv).catch((e: Error) => system(e.message));
  };
  async function rate(score: number): Promise<void> {
    if (client && conv) await deskCommand(client, 'desk.rate', { score }, conv).catch((e: Error) => system(e.message));
  }

  if (cfg.open || conv) setOpen(cfg.open || Boolean(conv));
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', () => mount(readConfig()));
else mount(readConfig());
