// One user's password: a Custom::CognitoUserPassword resource whose properties name the password's
// secret or parameter, never the password. Without a `setPassword`, the stack's one
// CognitoSetPassword serves it, and is granted exactly this user's pool, secret or parameter, and key.
import { Annotations, Aws, CustomResource, Duration, Resource, Stack, Tags, Token } from 'aws-cdk-lib';
import * as cognito from 'aws-cdk-lib/aws-cognito';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { BINDING_TAG, CognitoSetPassword } from './cognito-set-password';

/** Properties of a CognitoUserPassword. None of them can hold a password. */
export interface CognitoUserPasswordProps {
  /** The user's pool. */
  readonly userPool: cognito.IUserPool;
  /**
   * The user's name (or alias). Give this or `user`.
   * @default - `user`'s
   */
  readonly username?: string;
  /**
   * The user, made in this app: its name is used, and the password is set after it exists. Give
   * this or `username`.
   * @default - `username`: a user made elsewhere
   */
  readonly user?: cognito.CfnUserPoolUser;
  /**
   * The Secrets Manager secret that holds the password. Give this or `parameter`. A secret this
   * stack makes is bound to the user by its tag; another must be tagged by whoever owns it.
   * @default - `parameter`
   */
  readonly secret?: secretsmanager.ISecret;
  /**
   * The key to read when the secret's value is a JSON object (PasswordSecretJsonKey).
   * @default 'password' (the function's default)
   */
  readonly jsonKey?: string;
  /**
   * The secret's version stage to read (PasswordSecretVersionStage).
   * @default AWSCURRENT
   */
  readonly versionStage?: string;
  /**
   * An SSM SecureString parameter that holds the password, imported (e.g.
   * `StringParameter.fromSecureStringParameterAttributes`, with its `encryptionKey` when a customer
   * key encrypts it): CloudFormation cannot create a SecureString. Give this or `secret`.
   * @default - `secret`
   */
  readonly parameter?: ssm.IStringParameter;
  /**
   * Whether the password is permanent; false leaves the user in FORCE_CHANGE_PASSWORD.
   * @default true
   */
  readonly permanent?: boolean;
  /**
   * How long the function waits for a user that does not exist yet (WaitForUserSeconds), 0 to 900 s.
   * @default Duration.seconds(30) (the function's default)
   */
  readonly waitForUser?: Duration;
  /**
   * The CognitoSetPassword that sets it.
   * @default - the stack's own, made once per stack and granted exactly what its users need
   */
  readonly setPassword?: CognitoSetPassword;
}

/** A user's JSON secret's keys besides `password` (README, Rotation). */
const USER_SECRET_KEYS = ['UserPoolId', 'Username', 'ClientId'];
/** What a tag value may hold; a username with anything else is bound by its sub. */
const TAG_VALUE = /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u;
/** The id of the stack's own CognitoSetPassword. */
const SINGLETON_ID = 'CognitoSetPassword';
/** The user each secret or parameter of this app is bound to, so that no second user takes it. */
const BOUND_TO = new WeakMap<object, { path: string; binding: string }>();

/**
 * A Cognito user's password, set from a Secrets Manager secret or an SSM SecureString parameter by
 * the cognito-set-password function, through a Custom::CognitoUserPassword resource: the password
 * never appears in the template. An Update (a changed reference) sets it again; `rotate()` lets
 * Secrets Manager change it on a schedule.
 */
export class CognitoUserPassword extends Construct {
  /** The stack's own CognitoSetPassword, made on first use. */
  public static setPasswordOf(scope: Construct): CognitoSetPassword {
    const stack = Stack.of(scope);
    const existing = stack.node.tryFindChild(SINGLETON_ID);
    if (existing === undefined) {
      return new CognitoSetPassword(stack, SINGLETON_ID);
    }
    if (!(existing instanceof CognitoSetPassword)) {
      throw new Error(`${stack.node.path}/${SINGLETON_ID} is not a CognitoSetPassword: give CognitoUserPassword a setPassword`);
    }
    return existing;
  }

  /** The function that sets the password. */
  public readonly setPassword: CognitoSetPassword;
  /** The custom resource. */
  public readonly resource: CustomResource;
  /** The user's name as the custom resource sends it. */
  public readonly username: string;

  private readonly props: CognitoUserPasswordProps;
  private rotation?: secretsmanager.CfnRotationSchedule;

  constructor(scope: Construct, id: string, props: CognitoUserPasswordProps) {
    super(scope, id);
    // A JavaScript caller is not held to the props' type: refuse a password by value, as the
    // function refuses any property whose name says password.
    const plaintext = Object.keys(props).filter((key) => /password/i.test(key) && key !== 'setPassword');
    if (plaintext.length > 0) {
      throw new Error(`${this.node.path}: ${plaintext.join(', ')} would put a password in the template; `
        + 'store it in a secret or a SecureString parameter and give that instead');
    }
    if ((props.secret === undefined) === (props.parameter === undefined)) {
      throw new Error(`${this.node.path}: give either secret or parameter`);
    }
    if ((props.username === undefined) === (props.user === undefined)) {
      throw new Error(`${this.node.path}: give either username or user`);
    }
    if (props.parameter && (props.jsonKey !== undefined || props.versionStage !== undefined)) {
      throw new Error(`${this.node.path}: jsonKey and versionStage are for a secret, not a parameter`);
    }
    const wait = props.waitForUser?.toSeconds();
    if (wait !== undefined && !Token.isUnresolved(wait) && (wait < 0 || wait > 900)) {
      throw new Error(`${this.node.path}: waitForUser is 0 to 900 seconds, not ${wait}`);
    }
    this.props = props;
    this.username = props.user ? props.user.username ?? props.user.ref : props.username!;
    if (props.user && props.user.userPoolId !== props.userPool.userPoolId) {
      const stack = Stack.of(this);
      if (JSON.stringify(stack.resolve(props.user.userPoolId)) !== JSON.stringify(stack.resolve(props.userPool.userPoolId))) {
        throw new Error(`${this.node.path}: user ${props.user.node.path} is not in userPool ${props.userPool.node.path}`);
      }
    }

    this.setPassword = props.setPassword ?? CognitoUserPassword.setPasswordOf(this);
    this.setPassword.addUserPool(props.userPool);
    if (props.secret) {
      this.setPassword.addSecret(props.secret);
      this.bind(props.secret, 'secret');
    } else {
      const parameter = props.parameter!;
      if (parameter instanceof ssm.StringParameter || Resource.isOwnedResource(parameter)) {
        throw new Error(`${this.node.path}: parameter ${parameter.node.path} is created by this app, and CloudFormation `
          + 'cannot create a SecureString (its value would be a plain String in the template): create it with '
          + '`aws ssm put-parameter --type SecureString` and import it with StringParameter.fromSecureStringParameterAttributes');
      }
      this.setPassword.addParameter(parameter);
      this.bind(parameter, 'parameter');
    }

    const properties: Record<string, string> = {
      UserPoolId: props.userPool.userPoolId,
      Username: this.username,
      Permanent: String(props.permanent ?? true),
    };
    if (props.secret) {
      // The full ARN when known: the function reads a secret named by ARN in the ARN's region.
      properties.PasswordSecretId = props.secret.secretFullArn ?? props.secret.secretName;
      if (props.jsonKey !== undefined) {
        properties.PasswordSecretJsonKey = props.jsonKey;
      }
      if (props.versionStage !== undefined) {
        properties.PasswordSecretVersionStage = props.versionStage;
      }
    } else {
      properties.PasswordParameterName = props.parameter!.parameterName;
    }
    if (wait !== undefined) {
      properties.WaitForUserSeconds = String(wait);
    }
    this.resource = new CustomResource(this, 'Resource', {
      serviceToken: this.setPassword.serviceToken,
      resourceType: 'Custom::CognitoUserPassword',
      properties,
    });
    if (props.user) {
      this.resource.node.addDependency(props.user);
    }
  }

  /**
   * Let Secrets Manager rotate the user's secret every `automaticallyAfter` (at least 4 hours),
   * through the function, which then sets each new password in Cognito before the secret's
   * AWSCURRENT moves to it. The secret must be a `secretsmanager.Secret` of this app whose
   * generated value is the JSON user shape: `generateSecretString` with a `secretStringTemplate`
   * of `UserPoolId`, `Username` (this user's) and optionally `ClientId`, and `generateStringKey:
   * 'password'`. Grants nothing beyond what rotating that one secret needs.
   */
  public rotate(automaticallyAfter: Duration): secretsmanager.CfnRotationSchedule {
    const secret = this.props.secret;
    if (this.rotation) {
      throw new Error(`${this.node.path}: rotate() was called already`);
    }
    if (!secret) {
      throw new Error(`${this.node.path}: only a secret rotates; this password is in a parameter`);
    }
    this.checkUserSecret(secret);
    const hours = automaticallyAfter.toHours({ integral: false });
    if (!Token.isUnresolved(hours) && (hours < 4 || hours > 1000 * 24)) {
      throw new Error(`${this.node.path}: rotate() takes 4 hours to 1000 days, not ${automaticallyAfter.toHumanString()}`);
    }
    this.setPassword.addRotation(secret, this.props.userPool);
    // Secrets Manager invokes the function for this secret only (CDK's RotationSchedule would
    // allow any source).
    const permission = new lambda.CfnPermission(this, 'RotationPermission', {
      action: 'lambda:InvokeFunction',
      functionName: this.setPassword.function.functionArn,
      principal: 'secretsmanager.amazonaws.com',
      sourceAccount: Aws.ACCOUNT_ID,
      sourceArn: secret.secretArn,
    });
    const whole = Number.isInteger(hours) && hours % 24 === 0;
    this.rotation = new secretsmanager.CfnRotationSchedule(this, 'RotationSchedule', {
      secretId: secret.secretArn,
      rotationLambdaArn: this.setPassword.function.functionArn,
      rotationRules: {
        scheduleExpression: whole ? `rate(${hours / 24} days)` : `rate(${Math.ceil(hours)} hours)`,
      },
    });
    // The first rotation starts at once: after the permission, after the role can rotate, and
    // after the custom resource has given the user its first password (else the two race).
    this.rotation.node.addDependency(permission, this.setPassword.role, this.resource);
    return this.rotation;
  }

  // Tags the secret or parameter with its user when this stack owns it; otherwise says at synth
  // that it must carry the tag, with the command.
  private bind(target: secretsmanager.ISecret | ssm.IStringParameter, kind: 'secret' | 'parameter'): void {
    const binding = `${this.props.userPool.userPoolId}/${this.username}`;
    const stack = Stack.of(this);
    const resolved = JSON.stringify(stack.resolve(binding));
    const earlier = BOUND_TO.get(target);
    if (earlier && earlier.binding !== resolved) {
      throw new Error(`${this.node.path}: ${target.node.path} already sets the password of ${earlier.path}'s user; `
        + 'a secret or parameter sets one user\'s password: give this user one of its own');
    }
    BOUND_TO.set(target, { path: this.node.path, binding: resolved });
    if (!Token.isUnresolved(this.username) && !TAG_VALUE.test(this.username)) {
      throw new Error(`${this.node.path}: username ${JSON.stringify(this.username)} has characters a tag cannot hold; `
        + `such a user is bound by its sub: tag the ${kind} ${BINDING_TAG}=<UserPoolId>/<sub> yourself and give username the sub`);
    }
    if (Resource.isOwnedResource(target) && Stack.of(target) === stack) {
      Tags.of(target).add(BINDING_TAG, binding);
      return;
    }
    const show = (value: string, placeholder: string) => (Token.isUnresolved(value) ? placeholder : value);
    const value = `${show(this.props.userPool.userPoolId, '<UserPoolId>')}/${show(this.username, '<Username>')}`;
    const command = kind === 'secret'
      ? `aws secretsmanager tag-resource --secret-id ${show((target as secretsmanager.ISecret).secretName, '<secret>')} `
        + `--tags Key=${BINDING_TAG},Value=${value}`
      : `aws ssm add-tags-to-resource --resource-type Parameter --resource-id ${show((target as ssm.IStringParameter).parameterName, '<parameter>')} `
        + `--tags Key=${BINDING_TAG},Value=${value}`;
    Annotations.of(this).addWarningV2(`cognito-set-password-cdk:untagged-${kind}`,
      `The ${kind} ${target.node.path} is not made by this stack, so it is not tagged here: the function sets a password `
        + `only from a ${kind} bound to its user. Tag it: ${command}`);
  }

  // Refuses at synth a secret that rotation cannot use: not made here, or not the JSON user shape
  // of this user.
  private checkUserSecret(secret: secretsmanager.ISecret): void {
    const fix = 'rotation needs a secretsmanager.Secret of this app with generateSecretString: { secretStringTemplate: '
      + 'JSON.stringify({ UserPoolId, Username }), generateStringKey: \'password\' } (ClientId optional)';
    if (!(secret instanceof secretsmanager.Secret)) {
      throw new Error(`${this.node.path}: ${secret.node.path} is not made by this app, so its shape is unknown; ${fix}`);
    }
    const generated = (secret.node.defaultChild as secretsmanager.CfnSecret).generateSecretString;
    const shape = generated && !Token.isUnresolved(generated)
      ? generated as secretsmanager.CfnSecret.GenerateSecretStringProperty : undefined;
    let fields: Record<string, unknown> | undefined;
    try {
      fields = shape?.secretStringTemplate ? JSON.parse(shape.secretStringTemplate) : undefined;
    } catch {
      fields = undefined;
    }
    const keys = Object.keys(fields ?? {});
    if (!fields || shape?.generateStringKey !== 'password' || !keys.includes('UserPoolId') || !keys.includes('Username')
      || keys.some((key) => !USER_SECRET_KEYS.includes(key))) {
      throw new Error(`${this.node.path}: ${secret.node.path} is not a JSON user secret; ${fix}`);
    }
    if (this.props.jsonKey !== undefined && this.props.jsonKey !== 'password') {
      throw new Error(`${this.node.path}: a rotated secret's password is under the key password, not ${this.props.jsonKey}`);
    }
    const stack = Stack.of(this);
    const same = (a: unknown, b: string) => JSON.stringify(stack.resolve(a)) === JSON.stringify(stack.resolve(b));
    if (!same(fields.UserPoolId, this.props.userPool.userPoolId) || !same(fields.Username, this.username)) {
      throw new Error(`${this.node.path}: ${secret.node.path} names another user than this one (its UserPoolId and Username `
        + 'must be this userPool\'s id and this username); rotation sets only the user it names');
    }
  }
}
