#!/usr/bin/env node
// Entry point of the `benchfleet` command: runs the compiled CLI (npm's `prepare` builds dist/).
import('../dist/cli/main.js').catch((err) => {
  if (err && err.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes('dist/cli/main.js')) {
    console.error('benchfleet: not built yet; run `npm run build` (npm ci does it for you)');
    process.exit(70);
  }
  throw err;
});
