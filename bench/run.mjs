#!/usr/bin/env node
// `npm run bench -- <name> [--quick] [more args]`: runs bench/<name>.ts with tsx.
import { readdirSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const [name, ...rest] = process.argv.slice(2);
const available = readdirSync(new URL('.', import.meta.url)).filter((f) => f.endsWith('.ts')).map((f) => f.replace(/\.ts$/, ''));
if (!name || !available.includes(name)) {
  console.error(`usage: npm run bench -- <name> [--quick]\navailable: ${available.join(', ') || '(none yet)'}`);
  process.exit(name ? 1 : 0);
}
const r = spawnSync(process.execPath, ['--import', 'tsx', '--expose-gc', new URL(`./${name}.ts`, import.meta.url).pathname, ...rest], { stdio: 'inherit' });
process.exit(r.status ?? 1);
