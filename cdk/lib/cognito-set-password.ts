// The function and its role: template.yaml's SetPasswordFunction and what comes with it, as a
// construct. Its props mirror the template's parameters; tools/check_cdk.py holds its role, its
// environment and its permissions to template.yaml's after the SAM transform, for every
// combination of the template's conditions. Beyond the template, the function can be given single
// pools, secrets and parameters (addUserPool, addSecret, addParameter): that is how
// CognitoUserPassword grants exactly what a stack's users need.
import { Aws, Duration, Lazy, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { releaseZip } from './release';

/** Whose password a secret or parameter may set (template.yaml's `SecretBinding`). */
export enum SecretBinding {
  /** Only the user its tag `cognito-set-password:user` names; an untagged one sets none. */
  TAG = 'Tag',
  /**
   * Any user in the pools, as whoever invokes the function chooses: one shared password for many
   * test users. Never in a pool with real users.
   */
  NONE = 'None',
}

/** The optional EventBridge rule that sends password requests to the function. */
export interface PasswordRequestRuleOptions {
  /**
   * The `source` of the events the rule matches.
   * @default 'cognito-set-password'
   */
  readonly eventSource?: string;
  /**
   * The `detail-type` of the events the rule matches; `detail` holds the request's properties.
   * @default 'Cognito User Password Requested'
   */
  readonly detailType?: string;
}

/** The optional SQS queue that the function works through (template.yaml's `EnableBulkQueue`). */
export interface BulkQueueOptions {
  /**
   * At most this many copies of the function work on the queue at once; they share
   * `maxCallsPerSecond`. From 2 (Lambda's minimum) to 1000.
   * @default 2
   */
  readonly maximumConcurrency?: number;
}

/** Properties of a CognitoSetPassword: template.yaml's parameters, in CDK's idiom. */
export interface CognitoSetPasswordProps {
  /**
   * The user pools whose users' passwords the function may set (`UserPoolArns`). More can be
   * added with `addUserPool()`; a CognitoUserPassword adds its own.
   * @default - none but those added later; at least one is needed by synthesis
   */
  readonly userPools?: cognito.IUserPool[];
  /**
   * The function may read every Secrets Manager secret whose name starts with this prefix, in this
   * account, in the stack's region and `otherRegions` (`SecretNamePrefix`): one or more path
   * segments ending in a slash.
   * @default - no prefix: only the secrets given to `addSecret()` (a CognitoUserPassword gives its own)
   */
  readonly secretNamePrefix?: string;
  /**
   * The function may read every SSM parameter under this path, in this account, in the stack's
   * region and `otherRegions` (`ParameterPathPrefix`): starting and ending with a slash.
   * @default - no path: only the parameters given to `addParameter()`
   */
  readonly parameterPathPrefix?: string;
  /**
   * The customer managed key of the secrets under `secretNamePrefix` and the parameters under
   * `parameterPathPrefix` (`KmsKeyArn`): decrypt only through Secrets Manager and SSM, for those
   * names only. A secret or parameter added one by one brings its own key.
   * @default - the AWS managed keys, which need no grant
   */
  readonly kmsKey?: kms.IKey;
  /**
   * Other regions whose secrets and parameters under the prefixes the function may read
   * (`OtherRegions`).
   * @default - the stack's region only
   */
  readonly otherRegions?: string[];
  /**
   * The application log level (`LogLevel`). Passwords are never logged at any level.
   * @default lambda.ApplicationLogLevel.INFO
   */
  readonly logLevel?: lambda.ApplicationLogLevel;
  /**
   * Whose password a secret or parameter may set (`SecretBinding`).
   * @default SecretBinding.TAG
   */
  readonly secretBinding?: SecretBinding;
  /**
   * Whether a request may name a version of its user's secret or parameter
   * (`AllowVersionSelectors`); false is recommended with the rule or the queue.
   * @default true
   */
  readonly allowVersionSelectors?: boolean;
  /**
   * Whether the function may set a federated user's password (`AllowFederatedUsers`), which lets
   * that user sign in past its identity provider.
   * @default false
   */
  readonly allowFederatedUsers?: boolean;
  /**
   * Let the function rotate user secrets (`EnableRotation`): with `secretNamePrefix`, every JSON user
   * secret under it, and Secrets Manager may invoke the function for them. Left undefined,
   * `CognitoUserPassword.rotate()` turns it on for its one secret; false refuses that at synth.
   * @default - off, unless a CognitoUserPassword rotates its secret
   */
  readonly rotation?: boolean;
  /**
   * The length of the passwords rotation generates, 1 to 256 (`RotationPasswordLength`); a pool
   * whose policy asks for more gets its minimum.
   * @default 32
   */
  readonly rotationPasswordLength?: number;
  /**
   * The most AdminSetUserPassword calls per second for a Users list, and the bulk queue as a whole
   * (`MaxCallsPerSecond`), 1 to 10000; a request may ask for less, never more.
   * @default 25
   */
  readonly maxCallsPerSecond?: number;
  /**
   * The most AdminGetUser calls per second for a Users list (`MaxReadsPerSecond`), 1 to 10000.
   * @default 100
   */
  readonly maxReadsPerSecond?: number;
  /**
   * An EventBridge rule that sends matching events of this account to the function, with retries
   * and the failed-invocations queue (`EnableEventBridgeRule`, `EventSource`, `EventDetailType`).
   * @default - no rule
   */
  readonly passwordRequestRule?: PasswordRequestRuleOptions;
  /**
   * Follow changes to user secrets (`EnableSecretSyncRule`): a rule for Secrets Manager's own
   * Secret Label Updated events, limited to AWSCURRENT and to the secrets under
   * `secretNamePrefix` and those given to `addSecret()`.
   * @default false
   */
  readonly secretSync?: boolean;
  /**
   * An SQS queue the function works through, with its dead-letter queue (`EnableBulkQueue`,
   * `BulkQueueMaximumConcurrency`).
   * @default - no queue
   */
  readonly bulkQueue?: BulkQueueOptions;
  /**
   * Reserve this many concurrent executions for the function (`ReservedConcurrency`); with the bulk
   * queue, more than its `maximumConcurrency`.
   * @default - none reserved
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * Where the stack's alarms send their notifications (`AlarmTopicArn`).
   * @default - the alarms exist, with no action
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * The CPU the released zip is for.
   * @default lambda.Architecture.ARM_64
   */
  readonly architecture?: lambda.Architecture;
}

// template.yaml's AllowedPattern of each parameter that a prop mirrors; tools/check_cdk.py holds
// them to the template's.
export const ALLOWED_PATTERNS = {
  SecretNamePrefix: '^[A-Za-z0-9_+=.@-]+(/[A-Za-z0-9_+=.@-]+)*/$',
  ParameterPathPrefix: '^/[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*/$',
  // One region of OtherRegions' comma-separated list.
  OtherRegions: '^[a-z]{2}(-[a-z]+)+-[0-9]+$',
} as const;

/** The function's tag key that binds a secret or parameter to its user. */
export const BINDING_TAG = 'cognito-set-password:user';

// The Lambda destination of failed asynchronous invocations, allowed sqs:SendMessage alone (as SAM
// grants it): lambda-destinations' SqsDestination would also grant GetQueueAttributes and GetQueueUrl.
class SendOnlyQueueDestination implements lambda.IDestination {
  constructor(private readonly queue: sqs.IQueue) {}

  bind(_scope: Construct, fn: lambda.IFunction): lambda.DestinationConfig {
    fn.addToRolePolicy(new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.queue.queueArn] }));
    return { destination: this.queue.queueArn };
  }
}

/** The encryption context Secrets Manager gives KMS for `secret`: its full ARN. */
function secretContext(secret: secretsmanager.ISecret): Record<string, string> {
  // A secret imported by name has no known suffix: its ARN ends in six characters more.
  return { 'kms:EncryptionContext:SecretARN': secret.secretFullArn ?? `${secret.secretArn}-??????` };
}

/**
 * A customer key's `action`, only through `service` in this region, and only for what the
 * encryption context names.
 */
function keyThrough(service: 'secretsmanager' | 'ssm', key: kms.IKey, action: string, context: Record<string, string>,
  sid?: string): iam.PolicyStatementProps {
  return {
    sid,
    actions: [action],
    resources: [key.keyArn],
    conditions: { StringEquals: { 'kms:ViaService': `${service}.${Aws.REGION}.amazonaws.com` }, StringLike: context },
  };
}

function within(name: string, value: number | undefined, low: number, high: number): void {
  if (value !== undefined && !Token.isUnresolved(value) && (!Number.isInteger(value) || value < low || value > high)) {
    throw new Error(`CognitoSetPassword: ${name} must be a whole number from ${low} to ${high}, not ${value}`);
  }
}

function matches(name: string, value: string | undefined, pattern: string, example: string): void {
  if (value !== undefined && !Token.isUnresolved(value) && !new RegExp(pattern).test(value)) {
    throw new Error(`CognitoSetPassword: ${name} ${JSON.stringify(value)} must match ${pattern}, e.g. ${example}`);
  }
}

/**
 * The cognito-set-password function, from the release zip shipped in this package, and its role:
 * it sets Cognito users' passwords from Secrets Manager secrets or SSM SecureString parameters, and
 * can rotate and follow a user's JSON secret. Use its `serviceToken` for Custom::CognitoUserPassword
 * resources, or let CognitoUserPassword make one per stack.
 */
export class CognitoSetPassword extends Construct {
  /** The function. */
  public readonly function: lambda.Function;
  /** The function's role. */
  public readonly role: iam.Role;
  /** The function's ARN: the ServiceToken of custom resources, the RotationLambdaARN of rotations. */
  public readonly serviceToken: string;
  /** Where asynchronous invocations and rule deliveries that failed for good are kept. */
  public readonly failedInvocationsQueue: sqs.Queue;
  /** The bulk queue, with `bulkQueue`. */
  public readonly bulkQueue?: sqs.Queue;
  /** The bulk queue's dead-letter queue, with `bulkQueue`. */
  public readonly bulkDeadLetterQueue?: sqs.Queue;
  /** The rule for password requests, with `passwordRequestRule`. */
  public readonly passwordRequestRule?: events.Rule;
  /** The sync rule, with `secretSync`. */
  public readonly secretSyncRule?: events.Rule;

  private readonly props: CognitoSetPasswordProps;
  private readonly pools: cognito.IUserPool[] = [];
  private readonly syncedSecretNames: string[] = [];
  private readonly grantedSecrets = new Set<secretsmanager.ISecret>();
  private readonly grantedParameters = new Set<ssm.IParameter>();
  private readonly rotatedPools = new Set<cognito.IUserPool>();
  private readonly rotatedSecrets = new Set<secretsmanager.ISecret>();
  private rotationEnabled: boolean;
  private generatesPasswords = false;

  constructor(scope: Construct, id: string, props: CognitoSetPasswordProps = {}) {
    super(scope, id);
    this.props = props;
    matches('secretNamePrefix', props.secretNamePrefix, ALLOWED_PATTERNS.SecretNamePrefix, 'cognito-set-password/');
    matches('parameterPathPrefix', props.parameterPathPrefix, ALLOWED_PATTERNS.ParameterPathPrefix, '/cognito-set-password/');
    for (const region of props.otherRegions ?? []) {
      matches('otherRegions', region, ALLOWED_PATTERNS.OtherRegions, 'eu-west-1');
    }
    within('rotationPasswordLength', props.rotationPasswordLength, 1, 256);
    within('maxCallsPerSecond', props.maxCallsPerSecond, 1, 10000);
    within('maxReadsPerSecond', props.maxReadsPerSecond, 1, 10000);
    within('bulkQueue.maximumConcurrency', props.bulkQueue?.maximumConcurrency, 2, 1000);
    within('reservedConcurrentExecutions', props.reservedConcurrentExecutions, 1, 9999);
    const bulkConcurrency = props.bulkQueue ? props.bulkQueue.maximumConcurrency ?? 2 : undefined;
    if (bulkConcurrency !== undefined && props.reservedConcurrentExecutions !== undefined
      && props.reservedConcurrentExecutions <= bulkConcurrency) {
      // template.yaml can only refuse the same number; here the numbers can be compared.
      throw new Error(
        `CognitoSetPassword: reservedConcurrentExecutions (${props.reservedConcurrentExecutions}) must exceed the bulk ` +
          `queue's maximumConcurrency (${bulkConcurrency}), or a busy queue takes every copy and stacks' requests are throttled`,
      );
    }
    if (props.logLevel === lambda.ApplicationLogLevel.FATAL) {
      throw new Error('CognitoSetPassword: logLevel is one of TRACE, DEBUG, INFO, WARN, ERROR (the function logs no FATAL)');
    }
    if (props.kmsKey && !props.secretNamePrefix && !props.parameterPathPrefix) {
      throw new Error(
        'CognitoSetPassword: kmsKey is the key of the secrets under secretNamePrefix and the parameters under ' +
          'parameterPathPrefix; give one of them, or give each secret or parameter its own encryptionKey',
      );
    }
    this.rotationEnabled = props.rotation ?? false;

    this.role = new iam.Role(this, 'SetPasswordFunctionRole', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      managedPolicies: [iam.ManagedPolicy.fromAwsManagedPolicyName('service-role/AWSLambdaBasicExecutionRole')],
    });

    this.failedInvocationsQueue = new sqs.Queue(this, 'FailedInvocationsQueue', {
      // Each message is a whole request: references and ids, never a password, but a
      // CloudFormation ResponseURL (a pre-signed credential) and a rotation's RotationToken.
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      redriveAllowPolicy: { redrivePermission: sqs.RedrivePermission.DENY_ALL },
    });

    const environment: Record<string, string> = {
      RESPONSE_MARGIN_MS: '2000',
      ROTATION_PASSWORD_LENGTH: String(props.rotationPasswordLength ?? 32),
      MAX_CALLS_PER_SECOND: String(props.maxCallsPerSecond ?? 25),
      // Turned on by rotate() when the props leave it open.
      ENABLE_ROTATION: Lazy.string({ produce: () => String(this.rotationEnabled) }),
      SECRET_BINDING: props.secretBinding ?? SecretBinding.TAG,
      ALLOW_VERSION_SELECTORS: String(props.allowVersionSelectors ?? true),
      ALLOW_FEDERATED_USERS: String(props.allowFederatedUsers ?? false),
      MAX_READS_PER_SECOND: String(props.maxReadsPerSecond ?? 100),
    };
    if (bulkConcurrency !== undefined) {
      // The queue's copies split MAX_CALLS_PER_SECOND between them.
      environment.BULK_QUEUE_MAXIMUM_CONCURRENCY = String(bulkConcurrency);
    }
    if (props.reservedConcurrentExecutions !== undefined) {
      environment.RESERVED_CONCURRENCY = String(props.reservedConcurrentExecutions);
    }

    const architecture = props.architecture ?? lambda.Architecture.ARM_64;
    this.function = new lambda.Function(this, 'SetPasswordFunction', {
      description:
        'Sets Cognito users\' passwords from Secrets Manager or SSM (custom resource, EventBridge, direct, SQS); ' +
        'rotates a user\'s JSON secret; syncs on Secret Label Updated.',
      // The released zip as it is: no build, no Docker, no network at synth.
      code: lambda.Code.fromAsset(releaseZip(architecture)),
      handler: 'bootstrap',
      runtime: lambda.Runtime.PROVIDED_AL2023,
      architecture,
      memorySize: 128,
      // Each AWS call has its own timeouts and retries until the deadline, less RESPONSE_MARGIN_MS
      // kept back to answer CloudFormation.
      timeout: Duration.seconds(30),
      role: this.role,
      reservedConcurrentExecutions: props.reservedConcurrentExecutions,
      loggingFormat: lambda.LoggingFormat.JSON,
      applicationLogLevelV2: props.logLevel ?? lambda.ApplicationLogLevel.INFO,
      systemLogLevelV2: lambda.SystemLogLevel.INFO,
      environment,
      // Asynchronous invocations (CloudFormation, EventBridge) that still fail after Lambda's
      // retries are kept; CloudFormation waits an hour at most, so older events are dropped.
      retryAttempts: 2,
      maxEventAge: Duration.hours(1),
      onFailure: new SendOnlyQueueDestination(this.failedInvocationsQueue),
    });
    this.serviceToken = this.function.functionArn;

    this.addTemplateStatements();

    if (props.bulkQueue) {
      const { queue, deadLetters } = this.addBulkQueue(bulkConcurrency ?? 2);
      this.bulkQueue = queue;
      this.bulkDeadLetterQueue = deadLetters;
    }
    if (props.passwordRequestRule) {
      this.passwordRequestRule = new events.Rule(this, 'PasswordRequestRule', {
        description: 'Sends password requests to cognito-set-password; `detail` holds the properties.',
        // Only events put on the bus by this account: a bus policy may let a whole organisation in.
        eventPattern: {
          account: [Aws.ACCOUNT_ID],
          source: [props.passwordRequestRule.eventSource ?? 'cognito-set-password'],
          detailType: [props.passwordRequestRule.detailType ?? 'Cognito User Password Requested'],
        },
        targets: [this.ruleTarget()],
      });
    }
    if (props.secretSync) {
      this.secretSyncRule = this.addSecretSyncRule();
    }
    this.addAlarms();

    for (const pool of props.userPools ?? []) {
      this.pools.push(pool);
    }
    this.node.addValidation({
      validate: () =>
        this.pools.length > 0 ? [] : ['CognitoSetPassword: give it userPools, or a CognitoUserPassword that uses it'],
    });
    this.suppressFindings();
  }

  /** Whether the function rotates secrets (ENABLE_ROTATION). */
  public get rotates(): boolean {
    return this.rotationEnabled;
  }

  /** Let the function set (and read) the passwords of users in `userPool`. */
  public addUserPool(userPool: cognito.IUserPool): void {
    if (this.pools.includes(userPool)) {
      return;
    }
    this.pools.push(userPool);
    userPool.grant(this.role, 'cognito-idp:AdminSetUserPassword', 'cognito-idp:AdminGetUser');
  }

  /**
   * Let the function read `secret`'s value and tags (its binding), and decrypt it through Secrets
   * Manager with its own key; with `secretSync`, follow its changes (and move the function's
   * COGNITO_CURRENT label).
   */
  public addSecret(secret: secretsmanager.ISecret): void {
    if (this.grantedSecrets.has(secret)) {
      return;
    }
    this.grantedSecrets.add(secret);
    secret.grantRead(this.role);
    if (secret.encryptionKey) {
      this.useKeyThrough('secretsmanager', secret.encryptionKey, 'kms:Decrypt', secretContext(secret));
    }
    if (this.props.secretSync) {
      this.syncedSecretNames.push(secret.secretName);
      this.labelVersions(secret);
    }
  }

  /**
   * Let the function read `parameter`'s value and tags (its binding), and decrypt it through SSM
   * with its key: the parameter's own `encryptionKey` (give it to
   * `StringParameter.fromSecureStringParameterAttributes`), or `encryptionKey` here.
   */
  public addParameter(parameter: ssm.IStringParameter, encryptionKey?: kms.IKey): void {
    if (this.grantedParameters.has(parameter)) {
      return;
    }
    this.grantedParameters.add(parameter);
    // IStringParameter.grantRead would also allow GetParameters, GetParameterHistory and
    // DescribeParameters; the function needs the value and the tags.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['ssm:GetParameter', 'ssm:ListTagsForResource'],
      resources: [parameter.parameterArn],
    }));
    const key = encryptionKey ?? (parameter as { encryptionKey?: kms.IKey }).encryptionKey;
    if (key) {
      this.useKeyThrough('ssm', key, 'kms:Decrypt', { 'kms:EncryptionContext:PARAMETER_ARN': parameter.parameterArn });
    }
  }

  /**
   * Let Secrets Manager invoke the function to rotate `secret`, a JSON user secret of a user in
   * `userPool`, and the function do what rotation needs for that secret and pool only. Used by
   * `CognitoUserPassword.rotate()`, which checks the secret's shape first.
   */
  public addRotation(secret: secretsmanager.ISecret, userPool: cognito.IUserPool): void {
    if (this.props.rotation === false) {
      throw new Error(
        `${this.node.path} has rotation: false; give it rotation: true (or leave rotation out) to rotate ${secret.node.path}`,
      );
    }
    this.rotationEnabled = true;
    this.addUserPool(userPool);
    this.addSecret(secret);
    if (!this.rotatedPools.has(userPool)) {
      this.rotatedPools.add(userPool);
      // createSecret: the pool's minimum password length; testSecret: the app client's secret and
      // the sign-in with the new password.
      userPool.grant(this.role, 'cognito-idp:DescribeUserPool', 'cognito-idp:DescribeUserPoolClient',
        'cognito-idp:AdminInitiateAuth');
    }
    if (this.rotatedSecrets.has(secret)) {
      return;
    }
    this.rotatedSecrets.add(secret);
    this.generatePasswords();
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      // The new AWSPENDING version, the function's COGNITO_CURRENT label and AWSCURRENT.
      actions: ['secretsmanager:PutSecretValue', 'secretsmanager:UpdateSecretVersionStage'],
      resources: [secret.secretArn],
    }));
    if (secret.encryptionKey) {
      // PutSecretValue encrypts the new version under the secret's key.
      this.useKeyThrough('secretsmanager', secret.encryptionKey, 'kms:GenerateDataKey', secretContext(secret));
    }
  }

  // A customer key, used only through `service` and only for the one secret or parameter that the
  // encryption context names. A raw statement on the role: IKey.grant through a ViaServicePrincipal
  // adds nothing to the role (only to the policy of a key made in this app), so an imported key
  // would be granted nothing and every read would fail after a clean synth.
  private useKeyThrough(service: 'secretsmanager' | 'ssm', key: kms.IKey, action: string, context: Record<string, string>): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement(keyThrough(service, key, action, context)));
  }


  private labelVersions(secret: secretsmanager.ISecret): void {
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      actions: ['secretsmanager:UpdateSecretVersionStage'],
      resources: [secret.secretArn],
    }));
  }

  private generatePasswords(): void {
    if (this.generatesPasswords) {
      return;
    }
    this.generatesPasswords = true;
    // GetRandomPassword touches no resource, so IAM accepts no narrower Resource.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'GenerateRotatedPasswords',
      actions: ['secretsmanager:GetRandomPassword'],
      resources: ['*'],
    }));
  }

  // template.yaml's Policies, statement by statement, for what the props scope by prefix.
  private addTemplateStatements(): void {
    const { secretNamePrefix, parameterPathPrefix, kmsKey } = this.props;
    const inTheRegions = { StringEquals: { 'aws:RequestedRegion': [Aws.REGION, ...(this.props.otherRegions ?? [])] } };
    const add = (statement: iam.PolicyStatementProps) => this.role.addToPrincipalPolicy(new iam.PolicyStatement(statement));
    const pools = this.props.userPools ?? [];
    const secrets = secretNamePrefix && `arn:${Aws.PARTITION}:secretsmanager:*:${Aws.ACCOUNT_ID}:secret:${secretNamePrefix}*`;
    const parameters = parameterPathPrefix && `arn:${Aws.PARTITION}:ssm:*:${Aws.ACCOUNT_ID}:parameter${parameterPathPrefix}*`;
    // The same secrets in this region only: where rotation and a customer key apply.
    const secretsHere = secretNamePrefix && `arn:${Aws.PARTITION}:secretsmanager:${Aws.REGION}:${Aws.ACCOUNT_ID}:secret:${secretNamePrefix}*`;

    if (pools.length > 0) {
      // Setting a password, and the user's status (waiting for a user being created; rotation's
      // test when the secret names no app client).
      add({
        sid: 'SetPasswordsInTheGivenPools',
        actions: ['cognito-idp:AdminSetUserPassword', 'cognito-idp:AdminGetUser'],
        resources: pools.map((pool) => pool.userPoolArn),
      });
    }
    if (secrets) {
      // The region in each ARN is "*" so that otherRegions can be listed; the condition keeps
      // every read to this region and those.
      add({ sid: 'ReadPasswordSecrets', actions: ['secretsmanager:GetSecretValue'], resources: [secrets], conditions: inTheRegions });
      add({
        sid: 'LabelPasswordSecrets',
        actions: ['secretsmanager:DescribeSecret', 'secretsmanager:UpdateSecretVersionStage'],
        resources: [secrets],
        conditions: inTheRegions,
      });
      // A Users list reads its secrets 20 at a time; Secrets Manager still checks GetSecretValue on
      // each, so "*" reads nothing more than ReadPasswordSecrets allows.
      add({ sid: 'ReadPasswordSecretsInBatches', actions: ['secretsmanager:BatchGetSecretValue'], resources: ['*'] });
    }
    if (parameters) {
      add({
        sid: 'ReadPasswordParameters',
        actions: ['ssm:GetParameter', 'ssm:ListTagsForResource'],
        resources: [parameters],
        conditions: inTheRegions,
      });
    }
    if (this.rotationEnabled) {
      if (secrets) {
        add({ sid: 'WriteRotatedSecretVersions', actions: ['secretsmanager:PutSecretValue'], resources: [secrets], conditions: inTheRegions });
      }
      this.generatePasswords();
      if (pools.length > 0) {
        add({
          sid: 'TestRotatedPasswordsInTheGivenPools',
          actions: ['cognito-idp:DescribeUserPool', 'cognito-idp:DescribeUserPoolClient', 'cognito-idp:AdminInitiateAuth'],
          resources: pools.map((pool) => pool.userPoolArn),
        });
        pools.forEach((pool) => this.rotatedPools.add(pool));
      }
      if (secretsHere) {
        // Secrets Manager invokes the function for the rotation of the secrets under the prefix,
        // in this account and region only.
        this.function.addPermission('SecretsManagerRotationPermission', {
          principal: new iam.ServicePrincipal('secretsmanager.amazonaws.com'),
          action: 'lambda:InvokeFunction',
          sourceAccount: Aws.ACCOUNT_ID,
          sourceArn: secretsHere,
        });
      }
    }
    if (kmsKey) {
      if (secretsHere) {
        add(keyThrough('secretsmanager', kmsKey, 'kms:Decrypt', { 'kms:EncryptionContext:SecretARN': secretsHere },
          'DecryptSecretsUnderThePrefixThroughSecretsManager'));
      }
      if (parameterPathPrefix) {
        const parametersHere = `arn:${Aws.PARTITION}:ssm:${Aws.REGION}:${Aws.ACCOUNT_ID}:parameter${parameterPathPrefix}*`;
        add(keyThrough('ssm', kmsKey, 'kms:Decrypt', { 'kms:EncryptionContext:PARAMETER_ARN': parametersHere },
          'DecryptParametersUnderThePathThroughSsm'));
      }
      if (secretsHere) {
        // Rotation's PutSecretValue encrypts the new version under the key.
        add(keyThrough('secretsmanager', kmsKey, 'kms:GenerateDataKey', { 'kms:EncryptionContext:SecretARN': secretsHere },
          'EncryptNewSecretVersionsThroughSecretsManagerOnly'));
      }
    }
  }

  private addBulkQueue(maximumConcurrency: number): { queue: sqs.Queue; deadLetters: sqs.Queue } {
    // A fixed name, so that the dead-letter queue can name it as its only source (a stack name of
    // at most 75 characters keeps it within SQS's 80).
    const queueName = `${Aws.STACK_NAME}-bulk`;
    const deadLetters = new sqs.Queue(this, 'BulkDeadLetterQueue', {
      retentionPeriod: Duration.days(4),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      redriveAllowPolicy: {
        redrivePermission: sqs.RedrivePermission.BY_QUEUE,
        // Built from the fixed name: the queue's own ARN here would be a circular dependency.
        sourceQueues: [sqs.Queue.fromQueueArn(this, 'BulkQueueByName',
          `arn:${Aws.PARTITION}:sqs:${Aws.REGION}:${Aws.ACCOUNT_ID}:${queueName}`)],
      },
    });
    const queue = new sqs.Queue(this, 'BulkQueue', {
      queueName,
      // Six times the function's timeout, as AWS advises for a Lambda event source.
      visibilityTimeout: Duration.seconds(180),
      // Less than the dead-letter queue's 4 days: a message keeps its first enqueue time there.
      retentionPeriod: Duration.days(1),
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      deadLetterQueue: { queue: deadLetters, maxReceiveCount: 3 },
    });
    // SqsEventSource would grant ChangeMessageVisibility and GetQueueUrl as well.
    this.role.addToPrincipalPolicy(new iam.PolicyStatement({
      sid: 'ReceiveFromTheBulkQueue',
      actions: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:GetQueueAttributes'],
      resources: [queue.queueArn],
    }));
    new lambda.EventSourceMapping(this, 'BulkQueueEventSourceMapping', {
      target: this.function,
      eventSourceArn: queue.queueArn,
      batchSize: 10,
      reportBatchItemFailures: true,
      // The copies share MAX_CALLS_PER_SECOND (BULK_QUEUE_MAXIMUM_CONCURRENCY): this caps them.
      maxConcurrency: maximumConcurrency,
    });
    Validations.of(deadLetters).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This is the bulk queue\'s dead-letter queue; its messages raise the BulkDeadLetterAlarm.',
    });
    this.alarm('BulkDeadLetterAlarm', deadLetters.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum', period: Duration.minutes(5),
    }), 'Messages of the bulk queue failed three times and are in its dead-letter queue; once the cause is fixed, '
      + 'move them back with aws sqs start-message-move-task.');
    return { queue, deadLetters };
  }

  private ruleTarget(): targets.LambdaFunction {
    return new targets.LambdaFunction(this.function, {
      retryAttempts: 20,
      maxEventAge: Duration.hours(1),
      deadLetterQueue: this.failedInvocationsQueue,
    });
  }

  private addSecretSyncRule(): events.Rule {
    const prefix = this.props.secretNamePrefix;
    const rule = new events.Rule(this, 'SecretSyncRule', {
      description: 'Sends Secrets Manager\'s Secret Label Updated events for AWSCURRENT, on the user secrets, '
        + 'to cognito-set-password.',
      eventPattern: {
        account: [Aws.ACCOUNT_ID],
        source: ['aws.secretsmanager'],
        detailType: ['Secret Label Updated'],
        detail: { labelUpdated: ['AWSCURRENT'] },
      },
      targets: [this.ruleTarget()],
    });
    // The names are known only once every CognitoUserPassword has added its secret.
    (rule.node.defaultChild as events.CfnRule).addPropertyOverride('EventPattern.detail.name', Lazy.any({
      produce: () => [...(prefix ? [{ prefix }] : []), ...this.syncedSecretNames],
    }));
    this.node.addValidation({
      validate: () => prefix || this.syncedSecretNames.length > 0 ? [] : [
        'CognitoSetPassword: secretSync follows the secrets under secretNamePrefix and those given to addSecret(); it has none',
      ],
    });
    return rule;
  }

  private addAlarms(): void {
    this.alarm('FailedInvocationsAlarm', this.failedInvocationsQueue.metricApproximateNumberOfMessagesVisible({
      statistic: 'Maximum', period: Duration.minutes(5),
    }), 'A CloudFormation, EventBridge or sync request failed after Lambda\'s retries; its event is in the '
      + 'failed-invocations queue. Read it, fix the cause, and send it again.');
    this.alarm('FunctionErrorsAlarm', this.function.metricErrors({ statistic: 'Sum', period: Duration.minutes(5) }),
      'cognito-set-password answered with an invocation error (a sync, a rotation step, a direct or EventBridge '
        + 'request): Cognito and the secret may have drifted apart. See the log.');
  }

  private alarm(id: string, metric: cloudwatch.IMetric, description: string): void {
    const alarm = new cloudwatch.Alarm(this, id, {
      alarmDescription: description,
      metric,
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    if (this.props.alarmTopic) {
      alarm.addAlarmAction(new cloudwatchActions.SnsAction(this.props.alarmTopic));
    }
  }

  // cdk-nag's AwsSolutions findings that this construct answers by design, each with its reason
  // (acknowledged through CDK's own Validations, which cdk-nag reads: no dependency on cdk-nag).
  private suppressFindings(): void {
    Validations.of(this.role).acknowledge(
      {
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
        reason: 'It only lets the function write its own CloudWatch Logs, as SAM gives it in template.yaml.',
      },
      {
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason: 'secretsmanager:GetRandomPassword and BatchGetSecretValue have no resource-level permissions; '
          + 'BatchGetSecretValue still needs GetSecretValue on each secret.',
      },
    );
    // cdk-nag names a finding by the resource as it reads it, tokens as <AWS::...>.
    const prefixes = [
      ['secretsmanager', 'secret:', this.props.secretNamePrefix],
      ['ssm', 'parameter', this.props.parameterPathPrefix],
    ].filter(([, , prefix]) => prefix !== undefined && !Token.isUnresolved(prefix));
    for (const [service, resource, prefix] of prefixes) {
      Validations.of(this.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:${service}:*:<AWS::AccountId>:${resource}${prefix}*]`,
        reason: `${prefix} is template.yaml's ${service === 'ssm' ? 'ParameterPathPrefix' : 'SecretNamePrefix'}: what the `
          + 'function may read, held to this account and its regions by aws:RequestedRegion.',
      });
    }
    Validations.of(this.function).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'provided.al2023 is the current OS-only runtime; the function is a released Rust binary.',
    });
    Validations.of(this.failedInvocationsQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is itself where failed invocations end: nobody\'s source (redrive denyAll), watched by an alarm.',
    });
  }
}
