#!/usr/bin/env node
// Runs every test (vitest unit tests, then Playwright end-to-end tests on the built app) and
// ends with one plain line `N passed, N failed` counting both.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';

// Absolute: Playwright resolves a relative report path against its config's folder.
const out = resolve('test-results');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });
const only = process.argv[2]; // `unit` or `e2e` to run one half

let passed = 0;
let failed = 0;
let crashed = false;

function run(cmd, args, env = {}) {
  const r = spawnSync(cmd, args, { stdio: 'inherit', env: { ...process.env, ...env } });
  return r.status ?? 1;
}

if (only !== 'e2e') {
  const code = run('npx', ['vitest', 'run', '-c', 'test/vitest.config.ts', '--reporter=default', '--reporter=json', `--outputFile=${out}/vitest.json`]);
  if (existsSync(`${out}/vitest.json`)) {
    const r = JSON.parse(readFileSync(`${out}/vitest.json`, 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    // A file that fails to load has no failed test but does fail the run.
    if (code !== 0 && r.numFailedTests === 0) {
      failed += Math.max(1, r.numFailedTestSuites ?? 0);
    }
  } else crashed = true; // no report: the runner never got to the tests
}

if (only !== 'unit') {
  const code = run('npx', ['playwright', 'test', '-c', 'test/e2e/playwright.config.ts', '--reporter=list,json'], {
    PLAYWRIGHT_JSON_OUTPUT_NAME: `${out}/playwright.json`,
  });
  if (existsSync(`${out}/playwright.json`)) {
    const r = JSON.parse(readFileSync(`${out}/playwright.json`, 'utf8'));
    passed += r.stats.expected + (r.stats.flaky ?? 0);
    failed += r.stats.unexpected;
    if (code !== 0 && r.stats.unexpected === 0) failed += 1;
  } else crashed = true;
}

if (crashed) failed += 1;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed > 0 ? 1 : 0);
