// Synthesises one CognitoSetPassword per case for tools/check_cdk.py, which holds each to
// template.yaml after the SAM transform with the matching parameters. Reads
// {"cases": {name: props}} as JSON on stdin, where props are CognitoSetPasswordProps with ARNs for
// the imported objects (userPoolArns, kmsKeyArn, alarmTopicArn); writes, per case, the stack's
// template and the template.yaml name of each of its resources (the construct id), and the
// patterns the props are checked against.
import { App, CfnElement, Stack } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ALLOWED_PATTERNS, CognitoSetPassword, SecretBinding } from '../lib';

interface CaseProps {
  readonly userPoolArns?: string[];
  readonly kmsKeyArn?: string;
  readonly alarmTopicArn?: string;
  readonly logLevel?: string;
  readonly secretBinding?: string;
  readonly [other: string]: unknown;
}

const input = JSON.parse(fs.readFileSync(0, 'utf8')) as { cases: Record<string, CaseProps> };
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'cdk-cases-'));
process.on('exit', () => fs.rmSync(outdir, { recursive: true, force: true }));
const app = new App({ outdir });
const stacks: Record<string, Stack> = {};
const names: Record<string, Record<string, string>> = {};
let index = 0;
for (const [name, { userPoolArns, kmsKeyArn, alarmTopicArn, logLevel, secretBinding, ...rest }] of Object.entries(input.cases)) {
  const stack = new Stack(app, `Case${index++}`);
  const setPassword = new CognitoSetPassword(stack, 'CognitoSetPassword', {
    ...rest,
    userPools: (userPoolArns ?? []).map((arn, i) => cognito.UserPool.fromUserPoolArn(stack, `Pool${i}`, arn)),
    kmsKey: kmsKeyArn ? kms.Key.fromKeyArn(stack, 'Key', kmsKeyArn) : undefined,
    alarmTopic: alarmTopicArn ? sns.Topic.fromTopicArn(stack, 'Topic', alarmTopicArn) : undefined,
    logLevel: logLevel as lambda.ApplicationLogLevel | undefined,
    secretBinding: secretBinding as SecretBinding | undefined,
  });
  // A resource's name in template.yaml is its construct's id (the L1 of an L2 is its "Resource").
  names[name] = {};
  for (const construct of setPassword.node.findAll()) {
    if (construct instanceof CfnElement) {
      const ids = construct.node.scopes.map((scope) => scope.node.id).filter((id) => id !== 'Resource');
      names[name][stack.resolve(construct.logicalId)] = ids[ids.length - 1];
    }
  }
  stacks[name] = stack;
}
const assembly = app.synth();
const templates: Record<string, unknown> = {};
for (const [name, stack] of Object.entries(stacks)) {
  templates[name] = assembly.getStackArtifact(stack.artifactId).template;
}
process.stdout.write(JSON.stringify({ templates, names, patterns: ALLOWED_PATTERNS }));
