// Each security claim, tried the way an attacker would try it, at synth: what the synthesised
// stack lets the function do is all that an invoker can make it do.
import { Duration } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { CognitoUserPassword } from '../lib';
import { actionsOf, keysSayingPassword, newPool, newStack, newUserSecret, resourcesOf, statementsOf } from './support';

describe('attacks, at synth', () => {
  it('a stack author who names Alice but Bob\'s secret: each secret is bound by its tag to its own user', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const alice = newUserSecret(stack, 'AliceSecret', userPool, 'alice');
    const bob = newUserSecret(stack, 'BobSecret', userPool, 'bob');
    new CognitoUserPassword(stack, 'Alice', { userPool, username: 'alice', secret: alice });
    new CognitoUserPassword(stack, 'Bob', { userPool, username: 'bob', secret: bob });
    const template = Template.fromStack(stack);
    const poolRef = stack.resolve(userPool.userPoolId);
    for (const [secret, user] of [[alice, 'alice'], [bob, 'bob']] as const) {
      const id = stack.resolve((secret.node.defaultChild as secretsmanager.CfnSecret).logicalId);
      assert.deepEqual(template.toJSON().Resources[id].Properties.Tags,
        [{ Key: 'cognito-set-password:user', Value: { 'Fn::Join': ['', [poolRef, `/${user}`]] } }]);
    }
  });

  it('one secret for two users is refused: the second would take over the first\'s binding', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const shared = new secretsmanager.Secret(stack, 'Shared');
    new CognitoUserPassword(stack, 'Alice', { userPool, username: 'alice', secret: shared });
    assert.throws(() => new CognitoUserPassword(stack, 'Mallory', { userPool, username: 'mallory', secret: shared }),
      /sets one user's password: give this user one of its own/);
  });

  it('the function reads only its users\' secrets: a third secret in the stack, or a secret by a guessed name, is not readable', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    new CognitoUserPassword(stack, 'Alice', { userPool, username: 'alice', secret: newUserSecret(stack, 'AliceSecret', userPool, 'alice') });
    const unrelated = new secretsmanager.Secret(stack, 'DatabasePassword');
    const template = Template.fromStack(stack);
    const secretStatements = statementsOf(template).map((s) => s.statement)
      .filter((s) => actionsOf(s).some((a) => a.startsWith('secretsmanager:')));
    const unrelatedRef = JSON.stringify(stack.resolve((unrelated.node.defaultChild as secretsmanager.CfnSecret).ref));
    for (const statement of secretStatements) {
      for (const resource of resourcesOf(statement)) {
        assert.notEqual(JSON.stringify(resource), unrelatedRef);
        assert.ok(!JSON.stringify(resource).includes('*'), `no pattern that another name could match: ${JSON.stringify(resource)}`);
      }
    }
  });

  it('the function cannot set passwords in a pool it was not given, even one in the same stack', () => {
    const { stack } = newStack();
    const given = newPool(stack, 'Given');
    const other = newPool(stack, 'Admins');
    new CognitoUserPassword(stack, 'Alice', { userPool: given, username: 'alice', secret: newUserSecret(stack, 'AliceSecret', given, 'alice') })
      .rotate(Duration.days(30));
    const template = Template.fromStack(stack);
    const otherId = stack.resolve((other.node.defaultChild as cognito.CfnUserPool).logicalId);
    const cognitoStatements = statementsOf(template).map((s) => s.statement)
      .filter((s) => actionsOf(s).some((a) => a.startsWith('cognito-idp:')));
    assert.ok(cognitoStatements.length > 0);
    for (const statement of cognitoStatements) {
      assert.ok(!JSON.stringify(statement).includes(otherId), JSON.stringify(statement));
      assert.ok(!JSON.stringify(statement.Resource).includes('*'), JSON.stringify(statement));
    }
  });

  it('a rotation cannot be started for another secret: Secrets Manager may invoke the function for the rotated secret only', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const secret = newUserSecret(stack, 'AliceSecret', userPool, 'alice');
    new CognitoUserPassword(stack, 'Alice', { userPool, username: 'alice', secret }).rotate(Duration.days(30));
    const permissions = Object.values(Template.fromStack(stack).findResources('AWS::Lambda::Permission'));
    assert.equal(permissions.length, 1);
    assert.deepEqual(permissions[0].Properties.SourceArn, stack.resolve(secret.secretArn));
    assert.deepEqual(permissions[0].Properties.SourceAccount, { Ref: 'AWS::AccountId' });
  });

  it('a SecureString the stack would create is refused: its value would sit in the template as a plain String', () => {
    const { stack } = newStack();
    const userPool = newPool(stack);
    const parameter = new ssm.StringParameter(stack, 'Password', { stringValue: 'correct horse battery staple' });
    assert.throws(() => new CognitoUserPassword(stack, 'Alice', { userPool, username: 'alice', parameter }),
      /CloudFormation cannot create a SecureString/);
  });

  it('no password reaches a template or the cloud assembly: no property holds one, no asset but the released zip', () => {
    const { app, stack } = newStack();
    const userPool = newPool(stack);
    const user = new cognito.CfnUserPoolUser(stack, 'AdminUser', { userPoolId: userPool.userPoolId, username: 'admin' });
    const secret = newUserSecret(stack, 'AdminSecret', userPool, 'admin');
    new CognitoUserPassword(stack, 'Admin', { userPool, user, secret }).rotate(Duration.days(30));
    const assembly = app.synth();
    const template = assembly.getStackArtifact(stack.artifactId).template;
    assert.deepEqual(keysSayingPassword(template), []);
    const text = JSON.stringify(template);
    assert.ok(!text.includes('{{resolve:'), 'no dynamic reference that CloudFormation would pass on as a literal');
    assert.ok(!/"SecretString"/.test(text), 'no secret value in the template: Secrets Manager generates it');
    const files = fs.readdirSync(assembly.directory);
    const assets = files.filter((name) => name.startsWith('asset.'));
    assert.equal(assets.length, 1);
    const released = fs.readFileSync(path.join(__dirname, '..', '..', 'assets', 'cognito-set-password-0.1.0-arm64.zip'));
    assert.deepEqual(fs.readFileSync(path.join(assembly.directory, assets[0])), released);
  });
});
