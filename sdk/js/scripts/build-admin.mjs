// Builds the admin console (sdk/js/admin) into internal/web/assets/admin:
// admin.js (one minified ES module), admin.css and index.html, the files
// the server embeds and serves at /admin. Fails over the size budget.
import { build } from 'esbuild';
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const src = join(root, 'admin');
const out = join(root, '..', '..', 'internal', 'web', 'assets', 'admin');
const budget = 60 * 1024; // every file, each gzipped

mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(src, 'src', 'main.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  legalComments: 'none',
  logLevel: 'warning',
  outfile: join(out, 'admin.js'),
});
for (const f of ['index.html', 'admin.css']) copyFileSync(join(src, f), join(out, f));

let total = 0;
for (const f of ['index.html', 'admin.css', 'admin.js']) {
  const b = readFileSync(join(out, f));
  const gz = gzipSync(b, { level: 9 }).length;
  total += gz;
  console.log(`admin/${f}: ${b.length} B, gzip ${gz} B`);
}
console.log(`admin console: ${total} B gzip (budget ${budget} B)`);
if (total > budget) {
  console.error(`admin console over budget: ${total} B > ${budget} B gzip`);
  process.exit(1);
}
