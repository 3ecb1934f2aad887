/**
 * Client-side ids (`ref`, `cid`). A per-client random prefix plus a counter: unique across
 * reconnects and tabs without needing crypto.randomUUID (absent on plain-http pages).
 */
export function idGenerator(): (kind: string) => string {
  const prefix = Math.random().toString(36).slice(2, 10) + Date.now().toString(36);
  let n = 0;
  return (kind) => `${kind}-${prefix}-${(++n).toString(36)}`;
}
