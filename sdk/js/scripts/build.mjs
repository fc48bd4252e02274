// Builds @switchboard/phone: dist/phone.js (ESM, minified, source map),
// dist/*.d.ts, and the copy the server embeds for its web softphone.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const embedded = join(root, '..', '..', 'internal', 'web', 'assets');
const budget = 15 * 1024; // min+gzip

const common = {
  entryPoints: [join(root, 'src', 'index.ts')],
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  legalComments: 'none',
  logLevel: 'warning',
};

rmSync(dist, { recursive: true, force: true });

const raw = await build({ ...common, write: false, outfile: join(dist, 'phone.js') });
await build({ ...common, minify: true, sourcemap: true, outfile: join(dist, 'phone.js') });

execFileSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')], {
  stdio: 'inherit',
});

mkdirSync(embedded, { recursive: true });
for (const f of ['phone.js', 'phone.js.map']) copyFileSync(join(dist, f), join(embedded, f));

const min = readFileSync(join(dist, 'phone.js'));
const gz = gzipSync(min, { level: 9 }).length;
console.log(`phone.js: raw ${raw.outputFiles[0].contents.length} B, minified ${min.length} B, min+gzip ${gz} B (budget ${budget} B)`);
console.log(`copied to ${relative(root, embedded)}/phone.js`);
if (gz > budget) {
  console.error(`bundle over budget: ${gz} B > ${budget} B min+gzip`);
  process.exit(1);
}
