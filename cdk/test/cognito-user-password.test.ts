// CognitoUserPassword: the three-line use, the custom resource's properties, the stack's one
// function granted exactly its users' pools, secrets, parameters and keys, the binding tag, and
// rotate().
import { Duration, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CognitoSetPassword, CognitoUserPassword } from '../lib';
import { actionsOf, allowing, nagFindings, newPool, newStack, newUserSecret, resourcesOf, statementsOf } from './support';

function ref(stack: Stack, construct: { node: { defaultChild?: unknown } }): unknown {
  return stack.resolve((construct.node.defaultChild as { ref: string }).ref);
}

describe('CognitoUserPassword', () => {
  it('the three-line use: the password set from the secret, by a function that may read that secret and set passwords in that pool only', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const secret = new secretsmanager.Secret(stack, 'AdminPassword');
    new CognitoUserPassword(stack, 'Admin', { userPool, username: 'admin', secret });

    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::CognitoUserPassword', {
      ServiceToken: { 'Fn::GetAtt': [Match.stringLikeRegexp('^CognitoSetPassword'), 'Arn'] },
      UserPoolId: ref(stack, userPool),
      Username: 'admin',
      PasswordSecretId: ref(stack, secret),
      Permanent: 'true',
    });
    const pool = { 'Fn::GetAtt': [stack.resolve((userPool.node.defaultChild as cognito.CfnUserPool).logicalId), 'Arn'] };
    for (const action of ['cognito-idp:AdminSetUserPassword', 'cognito-idp:AdminGetUser']) {
      assert.deepEqual(allowing(template, action).flatMap(resourcesOf), [pool], action);
    }
    for (const action of ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret']) {
      assert.deepEqual(allowing(template, action).flatMap(resourcesOf), [ref(stack, secret)], action);
    }
    const everything = statementsOf(template).map((s) => s.statement);
    const actions = everything.flatMap(actionsOf).sort();
    assert.deepEqual(actions, ['cognito-idp:AdminGetUser', 'cognito-idp:AdminSetUserPassword', 'secretsmanager:DescribeSecret',
      'secretsmanager:GetSecretValue', 'sqs:SendMessage'], 'nothing else: no prefix, no rotation, no batch read');
    assert.ok(everything.every((s) => !JSON.stringify(s.Resource).includes('*')), 'no wildcard in any resource');
    template.resourceCountIs('AWS::Lambda::Function', 1);
  });

  it('makes one function per stack, granted each user\'s pool and secret, however many users', () => {
    const { stack } = newStack();
    const first = newPool(stack, 'First');
    const second = newPool(stack, 'Second');
    new CognitoUserPassword(stack, 'Alice', { userPool: first, username: 'alice', secret: newUserSecret(stack, 'AliceSecret', first, 'alice') });
    new CognitoUserPassword(stack, 'Bob', { userPool: second, username: 'bob', secret: newUserSecret(stack, 'BobSecret', second, 'bob') });
    new CognitoUserPassword(stack, 'Carol', { userPool: first, username: 'carol', secret: new secretsmanager.Secret(stack, 'CarolSecret') });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    template.resourceCountIs('Custom::CognitoUserPassword', 3);
    assert.equal(allowing(template, 'secretsmanager:GetSecretValue').flatMap(resourcesOf).length, 3);
    assert.equal(allowing(template, 'cognito-idp:AdminSetUserPassword').flatMap(resourcesOf).length, 2);
  });

  it('given a CfnUserPoolUser, sends its name and waits for it (DependsOn)', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const user = new cognito.CfnUserPoolUser(stack, 'AdminUser', { userPoolId: userPool.userPoolId, username: 'admin' });
    new CognitoUserPassword(stack, 'Admin', { userPool, user, secret: new secretsmanager.Secret(stack, 'Secret'), permanent: false });
    const template = Template.fromStack(stack);
    const [custom] = Object.values(template.findResources('Custom::CognitoUserPassword'));
    assert.ok(custom.DependsOn.includes(stack.resolve(user.logicalId)), JSON.stringify(custom.DependsOn));
    assert.equal(custom.Properties.Username, 'admin');
    assert.equal(custom.Properties.Permanent, 'false');
  });

  it('passes the secret\'s JSON key, version stage and the wait for the user', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    new CognitoUserPassword(stack, 'Admin', {
      userPool, username: 'admin', secret: new secretsmanager.Secret(stack, 'Secret'), jsonKey: 'password',
      versionStage: 'AWSPREVIOUS', waitForUser: Duration.seconds(90),
    });
    Template.fromStack(stack).hasResourceProperties('Custom::CognitoUserPassword', {
      PasswordSecretJsonKey: 'password', PasswordSecretVersionStage: 'AWSPREVIOUS', WaitForUserSeconds: '90',
    });
  });

  it('tags a secret the stack makes with its binding, <UserPoolId>/<Username>', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const secret = new secretsmanager.Secret(stack, 'Secret');
    new CognitoUserPassword(stack, 'Admin', { userPool, username: 'admin', secret });
    Template.fromStack(stack).hasResourceProperties('AWS::SecretsManager::Secret', {
      Tags: [{ Key: 'cognito-set-password:user', Value: { 'Fn::Join': ['', [ref(stack, userPool), '/admin']] } }],
    });
    Annotations.fromStack(stack).hasNoWarning('*', Match.anyValue());
  });

  it('warns at synth, with the command, when the secret is not the stack\'s to tag, and reads it by its ARN pattern', () => {
    const { stack } = newStack();
    const userPool = cognito.UserPool.fromUserPoolId(stack, 'Pool', 'us-east-1_Example1');
    const secret = secretsmanager.Secret.fromSecretNameV2(stack, 'Secret', 'team/alice');
    new CognitoUserPassword(stack, 'Alice', { userPool, username: 'alice', secret });
    Annotations.fromStack(stack).hasWarning('/Users/Alice', Match.stringLikeRegexp(
      'aws secretsmanager tag-resource --secret-id team/alice --tags Key=cognito-set-password:user,Value=us-east-1_Example1/alice'));
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::CognitoUserPassword', { PasswordSecretId: 'team/alice' });
    assert.match(JSON.stringify(allowing(template, 'secretsmanager:GetSecretValue')[0].Resource), /:secret:team\/alice-\?\?\?\?\?\?"/);
    assert.equal(Object.keys(template.findResources('AWS::SecretsManager::Secret')).length, 0);
  });

  it('reads an imported SecureString parameter: value and tags of that one, its key through SSM, and warns that it must be tagged', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const key = new kms.Key(stack, 'Key', { enableKeyRotation: true });
    const parameter = ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'Parameter', {
      parameterName: '/users/alice', encryptionKey: key,
    });
    new CognitoUserPassword(stack, 'Alice', { userPool, username: 'alice', parameter });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('Custom::CognitoUserPassword', { PasswordParameterName: '/users/alice' });
    const reads = allowing(template, 'ssm:GetParameter');
    assert.equal(reads.length, 1);
    assert.deepEqual([...actionsOf(reads[0])].sort(), ['ssm:GetParameter', 'ssm:ListTagsForResource']);
    const [decrypt] = allowing(template, 'kms:Decrypt');
    assert.deepEqual(decrypt.Resource, { 'Fn::GetAtt': [stack.resolve((key.node.defaultChild as kms.CfnKey).logicalId), 'Arn'] });
    assert.match(JSON.stringify(decrypt.Condition), /"kms:ViaService":\{"Fn::Join":\["",\["ssm\./);
    Annotations.fromStack(stack).hasWarning('/Users/Alice', Match.stringLikeRegexp(
      'aws ssm add-tags-to-resource --resource-type Parameter --resource-id /users/alice'));
  });

  it('decrypts a secret with its customer key through Secrets Manager only, for that secret only', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const key = kms.Key.fromKeyArn(stack, 'Key', 'arn:aws:kms:us-east-1:111111111111:key/1');
    const secret = new secretsmanager.Secret(stack, 'Secret', { encryptionKey: key });
    new CognitoUserPassword(stack, 'Admin', { userPool, username: 'admin', secret });
    const decrypts = allowing(Template.fromStack(stack), 'kms:Decrypt');
    assert.equal(decrypts.length, 1);
    assert.equal(decrypts[0].Resource, 'arn:aws:kms:us-east-1:111111111111:key/1');
    assert.deepEqual(decrypts[0].Condition, {
      StringEquals: { 'kms:ViaService': { 'Fn::Join': ['', ['secretsmanager.', { Ref: 'AWS::Region' }, '.amazonaws.com']] } },
      StringLike: { 'kms:EncryptionContext:SecretARN': ref(stack, secret) },
    });
  });

  it('refuses at synth what cannot work or would hold a password', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const secret = new secretsmanager.Secret(stack, 'Secret');
    const created = new ssm.StringParameter(stack, 'Created', { stringValue: 'not a secret' });
    const imported = ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'Imported', { parameterName: '/p' });
    const cases: [string, object, RegExp][] = [
      ['a password by value', { userPool, username: 'a', secret, password: 'hunter2' }, /password would put a password in the template/],
      ['a temporary password by value', { userPool, username: 'a', secret, temporaryPassword: 'x' }, /temporaryPassword would put a password/],
      ['neither secret nor parameter', { userPool, username: 'a' }, /give either secret or parameter/],
      ['both secret and parameter', { userPool, username: 'a', secret, parameter: imported }, /give either secret or parameter/],
      ['neither username nor user', { userPool, secret }, /give either username or user/],
      ['a SecureString made by the stack', { userPool, username: 'a', parameter: created }, /CloudFormation cannot create a SecureString/],
      ['a JSON key for a parameter', { userPool, username: 'a', parameter: imported, jsonKey: 'k' }, /jsonKey and versionStage are for a secret/],
      ['a wait past 900 s', { userPool, username: 'a', secret, waitForUser: Duration.minutes(16) }, /waitForUser is 0 to 900 seconds/],
      ['a username a tag cannot hold', { userPool, username: 'a\u0007b', secret }, /has characters a tag cannot hold/],
    ];
    cases.forEach(([what, props, error], i) => {
      assert.throws(() => new CognitoUserPassword(stack, `Case${i}`, props as never), error, what);
    });
  });

  it('uses a given CognitoSetPassword instead of making one, and grants it this user\'s secret', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const setPassword = new CognitoSetPassword(stack, 'Shared', { userPools: [userPool], secretNamePrefix: 'team/' });
    const secret = new secretsmanager.Secret(stack, 'Secret');
    new CognitoUserPassword(stack, 'Admin', { userPool, username: 'admin', secret, setPassword });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::Lambda::Function', 1);
    assert.ok(allowing(template, 'secretsmanager:GetSecretValue').flatMap(resourcesOf)
      .some((r) => JSON.stringify(r) === JSON.stringify(ref(stack, secret))), 'a generated name is under no prefix: granted by the object');
    assert.equal(allowing(template, 'cognito-idp:AdminSetUserPassword').length, 1, 'the pool given in userPools, granted once');
  });

  it('with secretSync, the rule follows exactly the stack\'s user secrets, and may move their labels', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const setPassword = new CognitoSetPassword(stack, 'Synced', { userPools: [userPool], secretSync: true });
    const secret = newUserSecret(stack, 'AliceSecret', userPool, 'alice');
    new CognitoUserPassword(stack, 'Alice', { userPool, username: 'alice', secret, setPassword });
    const template = Template.fromStack(stack);
    const [rule] = Object.values(template.findResources('AWS::Events::Rule'));
    assert.deepEqual(rule.Properties.EventPattern.detail.name, [stack.resolve(secret.secretName)]);
    assert.deepEqual(allowing(template, 'secretsmanager:UpdateSecretVersionStage').flatMap(resourcesOf), [ref(stack, secret)]);
  });

  describe('rotate()', () => {
    it('puts a rotation schedule on the user\'s JSON secret, invoked by the function, and grants what that rotation needs only', () => {
      const { stack } = newStack();
      const userPool = newPool(stack);
      const secret = newUserSecret(stack, 'AdminSecret', userPool, 'admin');
      const password = new CognitoUserPassword(stack, 'Admin', { userPool, username: 'admin', secret });
      password.rotate(Duration.days(30));
      const template = Template.fromStack(stack);
      const functionArn = { 'Fn::GetAtt': [Match.stringLikeRegexp('^CognitoSetPassword'), 'Arn'] };
      template.hasResourceProperties('AWS::SecretsManager::RotationSchedule', {
        SecretId: ref(stack, secret), RotationLambdaARN: functionArn, RotationRules: { ScheduleExpression: 'rate(30 days)' },
      });
      const [schedule] = Object.values(template.findResources('AWS::SecretsManager::RotationSchedule'));
      assert.ok(schedule.DependsOn.includes(stack.resolve((password.resource.node.defaultChild as unknown as { logicalId: string }).logicalId)),
        'after the first password is set');
      // The one invoke permission, for this secret, from this account.
      template.resourceCountIs('AWS::Lambda::Permission', 1);
      template.hasResourceProperties('AWS::Lambda::Permission', {
        Principal: 'secretsmanager.amazonaws.com', SourceArn: ref(stack, secret), SourceAccount: { Ref: 'AWS::AccountId' },
      });
      template.hasResourceProperties('AWS::Lambda::Function', { Environment: { Variables: { ENABLE_ROTATION: 'true' } } });
      for (const action of ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage']) {
        assert.deepEqual(allowing(template, action).flatMap(resourcesOf), [ref(stack, secret)], action);
      }
      const pool = { 'Fn::GetAtt': [stack.resolve((userPool.node.defaultChild as cognito.CfnUserPool).logicalId), 'Arn'] };
      for (const action of ['cognito-idp:DescribeUserPool', 'cognito-idp:DescribeUserPoolClient', 'cognito-idp:AdminInitiateAuth']) {
        assert.deepEqual(allowing(template, action).flatMap(resourcesOf), [pool], action);
      }
      const star = statementsOf(template).map((s) => s.statement).filter((s) => resourcesOf(s).includes('*'));
      assert.deepEqual(star.flatMap(actionsOf), ['secretsmanager:GetRandomPassword'], 'the one action IAM cannot scope');
    });

    it('refuses at synth a secret that is not this user\'s JSON secret', () => {
      const { stack } = newStack();
      const userPool = newPool(stack);
      const other = newPool(stack, 'Other');
      const json = (fields: object, key = 'password') => ({ generateSecretString: { secretStringTemplate: JSON.stringify(fields), generateStringKey: key } });
      const cases: [string, secretsmanager.ISecret, RegExp][] = [
        ['a plain generated password', new secretsmanager.Secret(stack, 'Plain'), /is not a JSON user secret/],
        ['an imported secret', secretsmanager.Secret.fromSecretNameV2(stack, 'Imported', 'team/admin'), /is not made by this app/],
        ['no Username', new secretsmanager.Secret(stack, 'NoUser', json({ UserPoolId: userPool.userPoolId })), /is not a JSON user secret/],
        ['another key than password', new secretsmanager.Secret(stack, 'Key', json({ UserPoolId: userPool.userPoolId, Username: 'admin' }, 'pw')),
          /is not a JSON user secret/],
        ['an extra key', new secretsmanager.Secret(stack, 'Extra', json({ UserPoolId: userPool.userPoolId, Username: 'admin', Email: 'a@b' })),
          /is not a JSON user secret/],
        ['another user', newUserSecret(stack, 'Bob', userPool, 'bob'), /names another user than this one/],
        ['another pool', newUserSecret(stack, 'OtherPool', other, 'admin'), /names another user than this one/],
      ];
      cases.forEach(([what, secret, error], i) => {
        const password = new CognitoUserPassword(stack, `Case${i}`, { userPool, username: 'admin', secret });
        assert.throws(() => password.rotate(Duration.days(30)), error, what);
      });
      const parameter = ssm.StringParameter.fromSecureStringParameterAttributes(stack, 'Parameter', { parameterName: '/p' });
      assert.throws(() => new CognitoUserPassword(stack, 'FromParameter', { userPool, username: 'admin', parameter }).rotate(Duration.days(30)),
        /only a secret rotates/);
      const ok = new CognitoUserPassword(stack, 'Fine', { userPool, username: 'admin', secret: newUserSecret(stack, 'FineSecret', userPool, 'admin') });
      assert.throws(() => ok.rotate(Duration.hours(1)), /4 hours to 1000 days/);
    });

    it('refuses a CognitoSetPassword whose rotation is off', () => {
      const { stack } = newStack();
      const userPool = newPool(stack);
      const setPassword = new CognitoSetPassword(stack, 'NoRotation', { userPools: [userPool], rotation: false });
      const password = new CognitoUserPassword(stack, 'Admin', {
        userPool, username: 'admin', secret: newUserSecret(stack, 'Secret', userPool, 'admin'), setPassword,
      });
      assert.throws(() => password.rotate(Duration.days(30)), /has rotation: false/);
    });
  });

  it('is clean under cdk-nag\'s AwsSolutionsChecks, rotating and not', () => {
    const { app, stack } = newStack();
    const userPool = newPool(stack);
    new CognitoUserPassword(stack, 'Admin', { userPool, username: 'admin', secret: newUserSecret(stack, 'AdminSecret', userPool, 'admin') })
      .rotate(Duration.days(30));
    new CognitoUserPassword(stack, 'Bob', { userPool, username: 'bob', secret: newUserSecret(stack, 'BobSecret', userPool, 'bob') });
    assert.deepEqual(nagFindings(app, ['Users/CognitoSetPassword/', 'Users/Admin/', 'Users/Bob/', 'Users/AdminSecret/']), []);
  });
});
