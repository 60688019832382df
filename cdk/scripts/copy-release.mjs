// prepack: puts the release into the package. Copies both zips and SHA256SUMS from the release
// output (COGNITO_SET_PASSWORD_DIST, else the project's dist/) into assets/, running
// `scripts/release` from the project's root first when they are missing there, and fails when a
// zip's sha256 is not the one SHA256SUMS gives for it: `npm ci && npm pack` in a fresh checkout
// yields a complete package, or none.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const projectRoot = resolve(packageRoot, '..');
const { version } = JSON.parse(readFileSync(join(packageRoot, 'package.json'), 'utf8'));
const chosen = process.env.COGNITO_SET_PASSWORD_DIST;
const dist = chosen ? resolve(chosen) : join(projectRoot, 'dist');
const zips = ['arm64', 'x86_64'].map((arch) => `cognito-set-password-${version}-${arch}.zip`);
const wanted = [...zips, 'SHA256SUMS'];

function fail(message) {
  console.error(`copy-release: ${message}`);
  process.exit(1);
}

const missing = () => wanted.filter((name) => !existsSync(join(dist, name)));
if (missing().length > 0) {
  if (chosen) {
    fail(`${dist} (COGNITO_SET_PASSWORD_DIST) lacks ${missing().join(', ')}`);
  }
  console.error(`copy-release: ${dist} lacks ${missing().join(', ')}; building the release (scripts/release)`);
  const built = spawnSync(join(projectRoot, 'scripts', 'release'), [], { cwd: projectRoot, stdio: 'inherit' });
  if (built.status !== 0 || missing().length > 0) {
    fail(`scripts/release did not produce ${missing().join(', ') || 'a release'} in ${dist}`);
  }
}

// SHA256SUMS as sha256sum writes it: "<hex>  <name>" (or "<hex> *<name>" in binary mode).
const sums = readFileSync(join(dist, 'SHA256SUMS'), 'utf8');
const listed = new Map();
for (const line of sums.split('\n').filter((l) => l.trim() !== '')) {
  const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line);
  if (!match) {
    fail(`${join(dist, 'SHA256SUMS')} has a line that is not "<sha256>  <file>": ${JSON.stringify(line)}`);
  }
  listed.set(match[2], match[1]);
}

const assets = join(packageRoot, 'assets');
rmSync(assets, { recursive: true, force: true });
mkdirSync(assets);
for (const name of zips) {
  // Hashed as read, and the same bytes written: what is checked is what is shipped.
  const bytes = readFileSync(join(dist, name));
  const digest = createHash('sha256').update(bytes).digest('hex');
  if (listed.get(name) !== digest) {
    rmSync(assets, { recursive: true, force: true });
    fail(`${name} has sha256 ${digest}, but SHA256SUMS gives ${listed.get(name) ?? 'no line for it'}: `
      + 'the zip is not the release it belongs to; build the release again (scripts/release)');
  }
  writeFileSync(join(assets, name), bytes);
  console.error(`copy-release: ${name} ${digest}`);
}
writeFileSync(join(assets, 'SHA256SUMS'), sums);
// The project's license, which npm ships from the package's root.
writeFileSync(join(packageRoot, 'LICENSE'), readFileSync(join(projectRoot, 'LICENSE')));
