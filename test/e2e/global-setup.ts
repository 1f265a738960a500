import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Builds the app once; each spec serves the build with its own `vite preview` server. */
export default function globalSetup(): void {
  if (process.env.E2E_SKIP_BUILD) return;
  const root = fileURLToPath(new URL('../..', import.meta.url));
  execFileSync('npx', ['vite', 'build', '--logLevel', 'warn'], { cwd: root, stdio: 'inherit' });
}
