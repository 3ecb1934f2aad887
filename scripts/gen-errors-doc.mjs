#!/usr/bin/env node
// Regenerates docs/errors.md from the error registry (packages/protocol/src/errors.ts, built).
// Run after adding a code: `npm run build -w @kefu/protocol && node scripts/gen-errors-doc.mjs`.
import { writeFileSync } from 'node:fs';
import { errorCodes } from '../packages/protocol/dist/errors.js';
import { CloseCode } from '../packages/protocol/dist/close-codes.js';

const lines = [
  '# Error codes',
  '',
  'Every error Kefu throws, rejects with or sends in an `error` frame carries a stable `code`.',
  'Codes never change once released; messages may. Switch on `err.code`, never on `err.message`.',
  'All errors are `KefuError` instances (`import { KefuError, isKefuError } from \'@kefu/core\'`),',
  'with `code`, `message`, optional `cause` and `details`. Invalid constructor options throw',
  'plain `TypeError` / `RangeError` instead, as Node does.',
  '',
  'This page is generated from `packages/protocol/src/errors.ts` by `node scripts/gen-errors-doc.mjs`;',
  'a test fails when a code is missing here.',
  '',
  '| code | meaning |',
  '|---|---|',
  ...Object.entries(errorCodes).map(([code, text]) => `| \`${code}\` | ${text.replace(/\|/g, '\\|')} |`),
  '',
  '## WebSocket close codes',
  '',
  '| name | code |',
  '|---|---|',
  ...Object.entries(CloseCode).map(([name, code]) => `| \`${name}\` | ${code} |`),
  '',
  'A client reconnects (with backoff) after any close except `NORMAL`, `KICKED`, `POLICY_VIOLATION`',
  'and `MESSAGE_TOO_BIG` (`isTerminalClose()` in `@kefu/protocol`).',
  '',
];
writeFileSync(new URL('../docs/errors.md', import.meta.url), lines.join('\n'));
console.log(`docs/errors.md: ${Object.keys(errorCodes).length} codes`);
