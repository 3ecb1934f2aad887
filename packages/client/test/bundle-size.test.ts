/** The browser bundle budget (issue 7: at most 10 KB minified + gzipped), checked with esbuild. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

test('browser bundle: minified + gzipped <= 10 KiB, and `ws` is not in it', async () => {
  const r = await build({
    entryPoints: [fileURLToPath(new URL('../src/index.ts', import.meta.url))], bundle: true, minify: true, format: 'esm',
    platform: 'browser', target: 'es2022', write: false, external: ['ws'], legalComments: 'none',
  });
  const code = r.outputFiles[0]!.contents;
  const gz = gzipSync(code, { level: 9 }).length;
  assert.ok(gz <= 10 * 1024, `${gz} bytes gzipped`);
  assert.ok(!new TextDecoder().decode(code).includes('permessage-deflate'), 'the ws package stays out of browser bundles');
});
