/**
 * Where a server's time goes: self time per function and per file of a .cpuprofile written by
 * `node --cpu-prof` (hub-latency --profile writes them for the Kefu hub child).
 *
 *   node --import tsx bench/lib/cpuprofile-summary.ts <file.cpuprofile> [top=25] [from_s-to_s] [callers-of]
 *
 * from_s-to_s keeps only the samples taken in that span of seconds after the profile started (a
 * server's profile covers its whole life: startup and connection setup, then the measured load).
 * callers-of names a function whose self time is then also split by its four nearest callers,
 * e.g. the native `writeBuffer` into socket writes and the shown log's fs.writeSync.
 */
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

const [file, topArg, spanArg, callersOf] = process.argv.slice(2);
if (!file) { console.error('usage: cpuprofile-summary <file.cpuprofile> [top] [from_s-to_s] [callers-of]'); process.exit(1); }
const top = Number(topArg ?? 25);
const [fromS, toS] = spanArg ? spanArg.split('-').map(Number) as [number, number] : [0, Infinity];
const prof = JSON.parse(readFileSync(file, 'utf8')) as Profile;
const byId = new Map(prof.nodes.map((n) => [n.id, n]));
const self = new Map<number, number>();
let at = 0;
prof.samples.forEach((id, i) => {
  const dt = prof.timeDeltas[i] ?? 0;
  at += dt;
  if (at >= fromS * 1e6 && at < toS * 1e6) self.set(id, (self.get(id) ?? 0) + dt);
});
console.log(`profile spans ${(at / 1e6).toFixed(2)} s${spanArg ? `; kept ${fromS}-${toS} s` : ''}`);
const total = [...self.values()].reduce((a, b) => a + b, 0);

const short = (url: string): string => url.replace(/^file:\/\//, '').replace(/^.*node_modules\//, '~/').replace(/^.*\/packages\//, 'packages/');
const fn = new Map<string, number>();
const files = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id);
  if (!n) continue;
  const { functionName, url, lineNumber } = n.callFrame;
  const where = url ? `${short(url)}:${lineNumber + 1}` : '(native)';
  const key = `${functionName || '(anonymous)'}  ${where}`;
  fn.set(key, (fn.get(key) ?? 0) + us);
  const f = url ? short(url) : functionName.startsWith('(') ? functionName : '(native)';
  files.set(f, (files.get(f) ?? 0) + us);
}
// Coarse groups, first match wins: enough to say where a relay's time goes.
const GROUPS: Array<[string, RegExp]> = [
  ['idle', /^\(idle\)$/],
  ['gc', /^\(garbage collector\)$/],
  ['leveldb (classic-level, abstract-level, store, group commit)', /classic-level|abstract-level|level-conversation-store|group-commit|level-transcoder|module-error/],
  ['module loading / startup', /esm\/|cjs\/|modules\/|bootstrap|cjs-module-lexer|wrapSafe|compileSourceTextModule/],
  ['auth at upgrade (jose, crypto)', /jose|crypto/],
  ['socket writes (writev, net, stream writes, ws sender)', /writev|writeUtf8String|writeBuffer|node:net|stream_base_commons|streams\/writable|ws\/lib\/sender/],
  ['socket reads + ws frame parsing', /streams\/readable|ws\/lib\/receiver|ws\/lib\/buffer-util|onStreamRead/],
  ['kefu hub', /packages\/core\/dist\/(hub|bus|conversation)/],
  ['kefu codec', /packages\/protocol\//],
];
const groups = new Map<string, number>();
for (const [id, us] of self) {
  const n = byId.get(id);
  if (!n) continue;
  const label = `${n.callFrame.functionName} ${n.callFrame.url}`;
  const g = GROUPS.find(([, re]) => re.test(label) || re.test(n.callFrame.functionName))?.[0] ?? 'other';
  groups.set(g, (groups.get(g) ?? 0) + us);
}

const pct = (us: number): string => `${((us / total) * 100).toFixed(1).padStart(5)}%`;
console.log(`total sampled ${(total / 1e6).toFixed(2)} s`);
const busy = total - (groups.get('idle') ?? 0);
console.log('\n-- busy time by group (share of non-idle time) --');
for (const [k, v] of [...groups].filter(([g]) => g !== 'idle').sort((a, b) => b[1] - a[1])) {
  console.log(`${((v / busy) * 100).toFixed(1).padStart(5)}%  ${(v / 1e6).toFixed(2).padStart(6)} s  ${k}`);
}
console.log('\n-- self time by file --');
for (const [k, v] of [...files].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), k);
console.log('\n-- self time by function --');
for (const [k, v] of [...fn].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), k);

if (callersOf) {
  const parent = new Map<number, number>();
  for (const n of prof.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const bySite = new Map<string, number>();
  for (const [id, us] of self) {
    if (byId.get(id)?.callFrame.functionName !== callersOf) continue;
    const chain: string[] = [];
    for (let cur = parent.get(id), k = 0; k < 4 && cur !== undefined; k++, cur = parent.get(cur)) {
      const c = byId.get(cur)!.callFrame;
      chain.push(`${c.functionName || '(anonymous)'} ${c.url ? `${short(c.url)}:${c.lineNumber + 1}` : '(native)'}`);
    }
    const key = chain.join(' < ');
    bySite.set(key, (bySite.get(key) ?? 0) + us);
  }
  console.log(`\n-- self time of ${callersOf} by caller --`);
  for (const [k, v] of [...bySite].sort((a, b) => b[1] - a[1]).slice(0, top)) console.log(pct(v), `${(v / 1e6).toFixed(2).padStart(6)} s  ${k}`);
}
