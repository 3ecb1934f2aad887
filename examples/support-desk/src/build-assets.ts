/**
 * Build step: bundles the widget and the agent console with esbuild (no CDN at run time) and
 * copies the static pages into dist/public. Run by `npm run build` after tsc.
 */
import { build } from 'esbuild';
import { cp, mkdir } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = `${root}dist/public`;
await mkdir(out, { recursive: true });
await cp(`${root}public`, out, { recursive: true });
await build({
  entryPoints: { 'kefu-widget': `${root}src/browser/widget.ts`, 'agent-console': `${root}src/browser/console.ts` },
  outdir: out, bundle: true, minify: true, format: 'iife', platform: 'browser', target: 'es2020',
  sourcemap: true, external: ['ws'], legalComments: 'none', logLevel: 'warning',
});
console.log(`support-desk: browser assets bundled into ${out}`);
