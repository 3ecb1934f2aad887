#!/usr/bin/env node
// Prints the minified + gzipped size of @kefu/client as a browser bundle (esbuild, ESM, with
// @kefu/protocol and eventemitter3 inlined; `ws` stays out: browsers have WebSocket).
import { build } from 'esbuild';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../src/index.ts', import.meta.url));
const r = await build({
  entryPoints: [entry], bundle: true, minify: true, format: 'esm', platform: 'browser',
  target: 'es2022', write: false, external: ['ws'], legalComments: 'none',
});
const bytes = r.outputFiles[0].contents;
const gz = gzipSync(bytes, { level: 9 }).length;
const kb = (n) => (n / 1024).toFixed(2);
console.log(`@kefu/client browser bundle: ${bytes.length} B minified (${kb(bytes.length)} KiB), ${gz} B minified+gzipped (${kb(gz)} KiB); target <= 10 KiB gzipped`);
console.log(JSON.stringify({ bundle: '@kefu/client', min_bytes: bytes.length, min_gzip_bytes: gz, target_gzip_bytes: 10240 }));
if (gz > 10240) process.exitCode = 1;
