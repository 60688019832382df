// Where the release zips live inside this package: assets/, beside build/, copied there from the
// project's `scripts/release` output by `npm run prepack` and never built at synth.
import * as fs from 'fs';
import * as path from 'path';
import * as lambda from 'aws-cdk-lib/aws-lambda';

/** The package's root folder (build/lib/release.js is two levels below it). */
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..');

/** The release's version: the package's, which tools/check_release.py holds to Cargo.toml's. */
export const RELEASE_VERSION: string = JSON.parse(
  fs.readFileSync(path.join(PACKAGE_ROOT, 'package.json'), 'utf8'),
).version;

/** The name the release gives the zip of one architecture. */
export function releaseZipName(architecture: lambda.Architecture): string {
  const arch = architecture.name === lambda.Architecture.X86_64.name ? 'x86_64' : 'arm64';
  return `cognito-set-password-${RELEASE_VERSION}-${arch}.zip`;
}

/**
 * The path of the released zip for `architecture`, shipped inside this package. Fails with the fix
 * when it is missing: a package packed without `prepack` (a git checkout that was never packed).
 */
export function releaseZip(architecture: lambda.Architecture): string {
  const zip = path.join(PACKAGE_ROOT, 'assets', releaseZipName(architecture));
  if (!fs.existsSync(zip)) {
    throw new Error(
      `cognito-set-password-cdk has no release zip at ${zip}: install the package from its packed ` +
        'tarball, or, in a checkout of the project, run `npm run prepack` in cdk/ (it copies dist/ from scripts/release)',
    );
  }
  return zip;
}
