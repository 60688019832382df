// The package as a user gets it, and the example app built on it: `npm pack` ships both released
// zips with their SHA256SUMS; examples/cdk, installed from the packed tarball, synthesises with the
// real `cdk synth`, offline and without AWS credentials, cdk-nag clean, into a template whose only
// Lambda code is the released zip, whose function may touch the example's pool and secret only, and
// in which no password appears.
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { before, describe, it } from 'node:test';
import { keysSayingPassword, PACKAGE_ROOT, scratchFolder } from './support';

const EXAMPLE = path.resolve(PACKAGE_ROOT, '..', 'examples', 'cdk');
const ZIPS = ['arm64', 'x86_64'].map((arch) => `cognito-set-password-0.1.0-${arch}.zip`);

function listedSums(text: string): Map<string, string> {
  return new Map(text.trim().split('\n').map((line) => {
    const [digest, name] = line.split(/ [ *]/);
    return [name, digest] as [string, string];
  }));
}

/** The environment of a user's shell without AWS: no credentials, no region, no profile. */
function offline(home: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('AWS_')));
  // ~/.aws is not read from a fresh HOME; the CLI sends no telemetry and fetches no notices.
  return { ...env, HOME: home, CDK_DISABLE_CLI_TELEMETRY: 'true', CDK_DISABLE_VERSION_CHECK: 'true' };
}

describe('the package', () => {
  it('npm pack lists both release zips and SHA256SUMS, and each zip\'s sha256 is its SHA256SUMS line', () => {
    // --ignore-scripts: prepack (copy-release.mjs) already ran, as scripts/cdk-check runs it.
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], {
      cwd: PACKAGE_ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'],
    }));
    const files: string[] = pack.files.map((f: { path: string }) => f.path);
    for (const name of [...ZIPS, 'SHA256SUMS']) {
      assert.ok(files.includes(`assets/${name}`), `assets/${name} in ${files.join(', ')}`);
    }
    assert.ok(files.includes('build/lib/index.js') && files.includes('build/lib/index.d.ts'));
    assert.ok(!files.some((f) => f.startsWith('build/test/') || f.endsWith('.ts') && !f.endsWith('.d.ts')), 'no tests, no sources');
    const sums = listedSums(fs.readFileSync(path.join(PACKAGE_ROOT, 'assets', 'SHA256SUMS'), 'utf8'));
    for (const name of ZIPS) {
      const digest = createHash('sha256').update(fs.readFileSync(path.join(PACKAGE_ROOT, 'assets', name))).digest('hex');
      assert.equal(sums.get(name), digest, name);
    }
  });
});

describe('examples/cdk, installed from the packed tarball and synthesised with `cdk synth`', () => {
  let template: { Resources: Record<string, { Type: string; Properties: Record<string, any>; DependsOn?: string[] }> };
  let assembly: string;

  before(() => {
    const work = scratchFolder();
    const tarball = execFileSync('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', work], {
      cwd: PACKAGE_ROOT, encoding: 'utf8',
    }).trim().split('\n').pop()!;
    // The user's project: the example's files, and the dependencies it declares, which are this
    // package's own devDependencies (linked, so that one `npm ci` serves both; npm takes a link as
    // installed), then the package itself from its tarball, offline.
    const app = path.join(work, 'app');
    fs.mkdirSync(path.join(app, 'node_modules'), { recursive: true });
    for (const file of ['app.ts', 'cdk.json', 'package.json', 'tsconfig.json']) {
      fs.copyFileSync(path.join(EXAMPLE, file), path.join(app, file));
    }
    const declared = JSON.parse(fs.readFileSync(path.join(app, 'package.json'), 'utf8'));
    for (const name of Object.keys({ ...declared.dependencies, ...declared.devDependencies })) {
      if (name !== 'cognito-set-password-cdk') {
        fs.symlinkSync(path.join(PACKAGE_ROOT, 'node_modules', name), path.join(app, 'node_modules', name));
      }
    }
    execFileSync('npm', ['install', '--no-save', '--no-package-lock', '--offline', '--ignore-scripts', '--no-audit', '--no-fund',
      path.join(work, tarball)], { cwd: app, stdio: 'ignore' });
    execFileSync(path.join(PACKAGE_ROOT, 'node_modules', '.bin', 'tsc'), ['-p', '.'], { cwd: app, stdio: 'inherit' });
    execFileSync(path.join(PACKAGE_ROOT, 'node_modules', '.bin', 'cdk'), ['synth', '--no-notices', '--quiet'], {
      cwd: app, env: offline(work), stdio: ['ignore', 'ignore', 'inherit'],
    });
    assembly = path.join(app, 'cdk.out');
    template = JSON.parse(fs.readFileSync(path.join(assembly, 'CognitoSetPasswordExample.template.json'), 'utf8'));
  });

  const ofType = (type: string) => Object.entries(template.Resources).filter(([, r]) => r.Type === type);

  it('its only Lambda code is the released arm64 zip, byte for byte', () => {
    const functions = ofType('AWS::Lambda::Function');
    assert.equal(functions.length, 1);
    const key: string = functions[0][1].Properties.Code.S3Key;
    const staged = path.join(assembly, `asset.${key}`);
    const released = path.join(PACKAGE_ROOT, 'assets', ZIPS[0]);
    assert.deepEqual(fs.readFileSync(staged), fs.readFileSync(released));
    assert.deepEqual(fs.readdirSync(assembly).filter((f) => f.startsWith('asset.')), [`asset.${key}`], 'no other asset');
  });

  it('its function may set passwords in the example\'s pool and read the example\'s secret, nothing wider', () => {
    const [[poolId]] = ofType('AWS::Cognito::UserPool');
    const [[secretId]] = ofType('AWS::SecretsManager::Secret');
    const statements = ofType('AWS::IAM::Policy').flatMap(([, p]) => p.Properties.PolicyDocument.Statement as any[]);
    for (const statement of statements) {
      const actions: string[] = [statement.Action].flat();
      const resources = [statement.Resource].flat().map((r) => JSON.stringify(r));
      if (actions.some((a) => a.startsWith('cognito-idp:'))) {
        assert.deepEqual(resources, [JSON.stringify({ 'Fn::GetAtt': [poolId, 'Arn'] })], JSON.stringify(statement));
      } else if (actions.some((a) => a.startsWith('secretsmanager:')) && !actions.includes('secretsmanager:GetRandomPassword')) {
        assert.deepEqual(resources, [JSON.stringify({ Ref: secretId })], JSON.stringify(statement));
      } else {
        assert.ok(actions.every((a) => a === 'sqs:SendMessage' || a === 'secretsmanager:GetRandomPassword'), JSON.stringify(statement));
      }
    }
    const [[, custom]] = ofType('Custom::CognitoUserPassword');
    assert.deepEqual(custom.Properties.PasswordSecretId, { Ref: secretId });
    assert.equal(ofType('AWS::SecretsManager::RotationSchedule')[0][1].Properties.RotationRules.ScheduleExpression, 'rate(30 days)');
  });

  it('holds no password: no property that holds one, no secret value, no dynamic reference', () => {
    assert.deepEqual(keysSayingPassword(template), []);
    const text = JSON.stringify(template);
    assert.ok(!text.includes('{{resolve:') && !text.includes('"SecretString"'));
  });

  it('is clean under cdk-nag\'s AwsSolutionsChecks, which the app runs (each finding acknowledged in the code)', () => {
    const report = path.join(assembly, 'validation-report.json');
    const violations = fs.existsSync(report)
      ? JSON.parse(fs.readFileSync(report, 'utf8')).pluginReports.flatMap((p: { violations?: unknown[] }) => p.violations ?? [])
      : [];
    assert.deepEqual(violations, []);
  });
});
