/** Tiny DOM helpers shared by the widget and the console (no framework: the bundle stays small). */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K, attrs: Record<string, string> = {}, ...children: Array<Node | string>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') el.textContent = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

export function time(ts: number): string {
  const d = new Date(ts);
  return `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;
}

/** Fetches a demo token from the demo-only endpoint of the support-desk example. */
export async function demoToken(base: string, body: Record<string, string>): Promise<{ token: string; user: { id: string; role: string; name: string; tenant: string } }> {
  const r = await fetch(`${base}/demo/token`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!r.ok) throw new Error(`demo token: HTTP ${r.status}`);
  return (await r.json()) as { token: string; user: { id: string; role: string; name: string; tenant: string } };
}

export function wsUrl(base: string, path: string): string {
  const u = new URL(path, base);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}
