#!/usr/bin/env node
// Runs a package's tests with node's own test runner, TypeScript loaded through tsx.
// Usage (from a package directory): node ../../scripts/run-tests.mjs [path-filter ...]
// Node 20's `node --test` cannot expand globs itself, hence this small finder.
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = process.cwd();
const filters = process.argv.slice(2);

function find(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    if (name === 'node_modules' || name === 'dist' || name === 'fixtures') continue;
    const full = join(dir, name);
    if (statSync(full).isDirectory()) out = out.concat(find(full));
    else if (/\.test\.(ts|mts|js|mjs)$/.test(name)) out.push(relative(root, full));
  }
  return out;
}

const files = find(join(root, 'test'))
  .filter((f) => filters.length === 0 || filters.some((p) => f.includes(p)))
  .sort();
if (files.length === 0) {
  console.error(`run-tests: no test files under ${join(root, 'test')}${filters.length ? ` matching ${filters.join(', ')}` : ''}`);
  process.exit(1);
}
// One file at a time: these tests open real sockets, databases and child processes on a 2-core machine.
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files];
const r = spawnSync(process.execPath, args, { stdio: 'inherit', env: process.env });
process.exit(r.status ?? 1);
