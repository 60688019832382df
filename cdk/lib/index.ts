// cognito-set-password for the AWS CDK: the function from the release zip (CognitoSetPassword) and
// one user's password from a secret or a SecureString parameter (CognitoUserPassword).
export { ALLOWED_PATTERNS, BINDING_TAG, BulkQueueOptions, CognitoSetPassword, CognitoSetPasswordProps, PasswordRequestRuleOptions, SecretBinding } from './cognito-set-password';
export { CognitoUserPassword, CognitoUserPasswordProps } from './cognito-user-password';
export { RELEASE_VERSION, releaseZipName } from './release';
