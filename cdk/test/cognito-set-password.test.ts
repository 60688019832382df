// CognitoSetPassword on its own: the released zip as its code, template.yaml's settings, its props'
// checks, and what each option adds. (tools/check_cdk.py holds every combination of the options to
// template.yaml after the SAM transform.)
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CognitoSetPassword, SecretBinding } from '../lib';
import { allowing, nagFindings, newPool, newStack, PACKAGE_ROOT, resourcesOf } from './support';

const POOL_ARN = 'arn:aws:cognito-idp:us-east-1:111111111111:userpool/us-east-1_Example1';

function sha256SumsListed(): Map<string, string> {
  const lines = fs.readFileSync(path.join(PACKAGE_ROOT, 'assets', 'SHA256SUMS'), 'utf8').trim().split('\n');
  return new Map(lines.map((line) => {
    const [digest, name] = line.split(/ [ *]/);
    return [name, digest];
  }));
}

describe('CognitoSetPassword', () => {
  for (const [architecture, arch] of [[lambda.Architecture.ARM_64, 'arm64'], [lambda.Architecture.X86_64, 'x86_64']] as const) {
    it(`runs the released ${arch} zip as it is, byte for byte, its sha256 the one SHA256SUMS lists`, () => {
      const { app, stack } = newStack();
      const pool = cognito.UserPool.fromUserPoolArn(stack, 'Pool', POOL_ARN);
      new CognitoSetPassword(stack, 'SetPassword', { userPools: [pool], architecture });
      Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
        Architectures: [arch], Runtime: 'provided.al2023', Handler: 'bootstrap',
      });
      const assembly = app.synth();
      const staged = fs.readdirSync(assembly.directory).filter((name) => name.startsWith('asset.'));
      assert.equal(staged.length, 1, `one asset, the zip: ${staged}`);
      const bytes = fs.readFileSync(path.join(assembly.directory, staged[0]));
      const name = `cognito-set-password-0.1.0-${arch}.zip`;
      assert.deepEqual(bytes, fs.readFileSync(path.join(PACKAGE_ROOT, 'assets', name)));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), sha256SumsListed().get(name));
    });
  }

  it('has template.yaml\'s settings: memory, timeout, JSON logs, retries into the failed-invocations queue, defaults', () => {
    const { stack } = newStack();
    new CognitoSetPassword(stack, 'SetPassword', { userPools: [cognito.UserPool.fromUserPoolArn(stack, 'Pool', POOL_ARN)] });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Function', {
      MemorySize: 128,
      Timeout: 30,
      LoggingConfig: { LogFormat: 'JSON', ApplicationLogLevel: 'INFO', SystemLogLevel: 'INFO' },
      Environment: {
        Variables: {
          RESPONSE_MARGIN_MS: '2000', ROTATION_PASSWORD_LENGTH: '32', MAX_CALLS_PER_SECOND: '25', ENABLE_ROTATION: 'false',
          SECRET_BINDING: 'Tag', ALLOW_VERSION_SELECTORS: 'true', ALLOW_FEDERATED_USERS: 'false', MAX_READS_PER_SECOND: '100',
        },
      },
    });
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      MaximumRetryAttempts: 2,
      MaximumEventAgeInSeconds: 3600,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [Match.stringLikeRegexp('FailedInvocationsQueue'), 'Arn'] } } },
    });
    template.hasResourceProperties('AWS::SQS::Queue', {
      MessageRetentionPeriod: 345600, SqsManagedSseEnabled: true, RedriveAllowPolicy: { redrivePermission: 'denyAll' },
    });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 2);
    // Without prefixes, it reads nothing until secrets or parameters are added.
    assert.deepEqual(allowing(template, 'secretsmanager:GetSecretValue'), []);
    assert.deepEqual(allowing(template, 'ssm:GetParameter'), []);
  });

  it('passes its props to the function as template.yaml\'s parameters do', () => {
    const { stack } = newStack();
    new CognitoSetPassword(stack, 'SetPassword', {
      userPools: [cognito.UserPool.fromUserPoolArn(stack, 'Pool', POOL_ARN)],
      logLevel: lambda.ApplicationLogLevel.DEBUG,
      secretBinding: SecretBinding.NONE,
      allowVersionSelectors: false,
      allowFederatedUsers: true,
      rotationPasswordLength: 40,
      maxCallsPerSecond: 10,
      maxReadsPerSecond: 50,
      bulkQueue: { maximumConcurrency: 4 },
      reservedConcurrentExecutions: 9,
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::Function', {
      ReservedConcurrentExecutions: 9,
      LoggingConfig: { ApplicationLogLevel: 'DEBUG' },
      Environment: {
        Variables: {
          SECRET_BINDING: 'None', ALLOW_VERSION_SELECTORS: 'false', ALLOW_FEDERATED_USERS: 'true', ROTATION_PASSWORD_LENGTH: '40',
          MAX_CALLS_PER_SECOND: '10', MAX_READS_PER_SECOND: '50', BULK_QUEUE_MAXIMUM_CONCURRENCY: '4', RESERVED_CONCURRENCY: '9',
        },
      },
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      BatchSize: 10, FunctionResponseTypes: ['ReportBatchItemFailures'], ScalingConfig: { MaximumConcurrency: 4 },
    });
  });

  it('refuses at synth what template.yaml\'s parameters refuse, and a reserved concurrency the queue can exhaust', () => {
    const cases: [string, object, RegExp][] = [
      ['a one-letter prefix', { secretNamePrefix: 'a' }, /secretNamePrefix "a" must match/],
      ['"/" as the parameter path', { parameterPathPrefix: '/' }, /parameterPathPrefix "\/" must match/],
      ['a region list', { otherRegions: ['eu-west-1, us-east-1'] }, /otherRegions/],
      ['a password length of 0', { rotationPasswordLength: 0 }, /rotationPasswordLength must be a whole number from 1 to 256/],
      ['one copy for the queue', { bulkQueue: { maximumConcurrency: 1 } }, /maximumConcurrency must be a whole number from 2/],
      ['reserved concurrency the queue takes whole', { bulkQueue: { maximumConcurrency: 5 }, reservedConcurrentExecutions: 5 },
        /must exceed the bulk queue's maximumConcurrency/],
      ['a key with no prefix to scope it', { kmsKey: 'key' }, /kmsKey is the key of the secrets under secretNamePrefix/],
    ];
    for (const [what, props, error] of cases) {
      const { stack } = newStack();
      const withKey = 'kmsKey' in props ? { ...props, kmsKey: kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:key/1') } : props;
      assert.throws(() => new CognitoSetPassword(stack, 'SetPassword', withKey), error, what);
    }
  });

  it('fails synthesis when it is given no user pool at all', () => {
    const { app, stack } = newStack();
    new CognitoSetPassword(stack, 'SetPassword');
    assert.throws(() => app.synth(), /give it userPools, or a CognitoUserPassword that uses it/);
  });

  it('with a prefix and rotation, Secrets Manager may invoke it only for the secrets under the prefix, in this account and region', () => {
    const { stack } = newStack();
    new CognitoSetPassword(stack, 'SetPassword', {
      userPools: [cognito.UserPool.fromUserPoolArn(stack, 'Pool', POOL_ARN)], secretNamePrefix: 'team/', rotation: true,
    });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Lambda::Permission', {
      Principal: 'secretsmanager.amazonaws.com',
      SourceAccount: { Ref: 'AWS::AccountId' },
      SourceArn: { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':secretsmanager:', { Ref: 'AWS::Region' }, ':',
        { Ref: 'AWS::AccountId' }, ':secret:team/*']] },
    });
    template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { ENABLE_ROTATION: 'true' } } });
  });

  it('with a parameter added one by one, reads its value and tags and decrypts it through SSM for that parameter only', () => {
    const { stack } = newStack();
    const setPassword = new CognitoSetPassword(stack, 'SetPassword', { userPools: [cognito.UserPool.fromUserPoolArn(stack, 'Pool', POOL_ARN)] });
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:key/1');
    const parameter = ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'Parameter', {
      parameterName: '/users/alice', encryptionKey: key,
    });
    setPassword.addParameter(parameter);
    const template = Template.fromStack(stack);
    const [read] = allowing(template, 'ssm:GetParameter');
    assert.deepEqual([...read.Action].sort(), ['ssm:GetParameter', 'ssm:ListTagsForResource']);
    assert.equal(resourcesOf(read).length, 1);
    assert.match(JSON.stringify(read.Resource), /:parameter\/users\/alice"/);
    const [decrypt] = allowing(template, 'kms:Decrypt');
    assert.equal(decrypt.Resource, 'arn:aws:kms:us-east-1:111111111111:key/1');
    assert.match(JSON.stringify(decrypt.Condition), /kms:ViaService.*ssm\./);
    assert.match(JSON.stringify(decrypt.Condition), /kms:EncryptionContext:PARAMETER_ARN.*parameter\/users\/alice/);
  });

  it('is clean under cdk-nag\'s AwsSolutionsChecks with every option on (each finding acknowledged in the code)', () => {
    const { app, stack } = newStack();
    new CognitoSetPassword(stack, 'SetPassword', {
      userPools: [newPool(stack)],
      secretNamePrefix: 'cognito-set-password/',
      parameterPathPrefix: '/cognito-set-password/',
      kmsKey: new kms.Key(stack, 'Key', { enableKeyRotation: true }),
      otherRegions: ['eu-west-1'],
      rotation: true,
      secretSync: true,
      passwordRequestRule: {},
      bulkQueue: { maximumConcurrency: 3 },
      reservedConcurrentExecutions: 10,
      architecture: lambda.Architecture.X86_64,
    });
    assert.deepEqual(nagFindings(app, ['Users/SetPassword/']), []);
  });

  it('with secretSync, its rule takes Secret Label Updated of AWSCURRENT, from this account, for the prefix\'s secrets only', () => {
    const { stack } = newStack();
    new CognitoSetPassword(stack, 'SetPassword', {
      userPools: [cognito.UserPool.fromUserPoolArn(stack, 'Pool', POOL_ARN)], secretNamePrefix: 'team/', secretSync: true,
    });
    Template.fromStack(stack).hasResourceProperties('AWS::Events::Rule', {
      EventPattern: {
        account: [{ Ref: 'AWS::AccountId' }],
        source: ['aws.secretsmanager'],
        'detail-type': ['Secret Label Updated'],
        detail: { name: [{ prefix: 'team/' }], labelUpdated: ['AWSCURRENT'] },
      },
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 20, MaximumEventAgeInSeconds: 3600 } })],
    });
  });
});
