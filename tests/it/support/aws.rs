//! What a user would set up and check in AWS, done against moto with the AWS SDK for Rust: a
//! pool with a strict password policy, users, secrets and parameters; a user's status; a login.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, IdentityProviderTypeType, PasswordPolicyType, UserPoolPolicyType,
    UsernameAttributeType,
};
use serde_json::{Value, json};

use super::moto;

/// Names unique within this test run, so tests can share one moto server.
pub fn unique(prefix: &str) -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// The SDK configuration the function itself would build (its timeouts and retries), pointed at
/// `endpoint` the way `AWS_ENDPOINT_URL` would.
pub async fn config_for(endpoint: &str) -> SdkConfig {
    config_in(endpoint, "us-east-1").await
}

/// As [`config_for`], in `region`.
pub async fn config_in(endpoint: &str, region: &str) -> SdkConfig {
    cognito_set_password::aws::setup::config_loader()
        .endpoint_url(endpoint)
        .region(Region::new(region.to_owned()))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .load()
        .await
}

/// A password that satisfies [`Aws::pool`]'s policy.
pub fn strong_password() -> String {
    format!("Str0ng!{}", unique("Pw").replace('-', "x"))
}

pub struct Aws {
    pub config: SdkConfig,
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub secrets: aws_sdk_secretsmanager::Client,
    pub ssm: aws_sdk_ssm::Client,
}

/// A user pool with a strict password policy and an app client that allows admin logins.
pub struct Pool {
    pub id: String,
    pub client_id: String,
}

/// The GIVEN most tests start from: a new pool, a user's name, the secret's name, and the strong
/// password the secret holds.
pub type Seeded = (Pool, String, String, String);

#[derive(Debug, PartialEq, Eq)]
pub enum Login {
    Authenticated,
    /// The password is right, but temporary: Cognito asks for a new one.
    NewPasswordRequired,
    Refused(String),
}

impl Aws {
    pub async fn moto() -> Self {
        Self::at(moto::endpoint()).await
    }

    pub async fn at(endpoint: &str) -> Self {
        Self::at_in(endpoint, "us-east-1").await
    }

    /// What a user does in `region` (moto keeps each region apart, as AWS does).
    pub async fn in_region(region: &str) -> Self {
        Self::at_in(moto::endpoint(), region).await
    }

    pub async fn at_in(endpoint: &str, region: &str) -> Self {
        let config = config_in(endpoint, region).await;
        Aws {
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            config,
        }
    }

    pub async fn pool(&self) -> Pool {
        self.pool_with(12, false).await
    }

    /// A pool whose policy asks for `minimum_length` and every class of character, with an app
    /// client (that has a client secret, if `client_secret`) allowing admin logins.
    pub async fn pool_with(&self, minimum_length: i32, client_secret: bool) -> Pool {
        self.create_pool(minimum_length, client_secret, false).await
    }

    /// [`Aws::pool`], signing in by email (`UsernameAttributes: [email]`): Cognito stores each
    /// user's `sub` as its username, and takes the email wherever a username goes.
    pub async fn pool_signing_in_by_email(&self) -> Pool {
        self.create_pool(12, false, true).await
    }

    async fn create_pool(&self, minimum_length: i32, client_secret: bool, by_email: bool) -> Pool {
        let policy = PasswordPolicyType::builder()
            .minimum_length(minimum_length)
            .require_uppercase(true)
            .require_lowercase(true)
            .require_numbers(true)
            .require_symbols(true)
            .build();
        let pool = self
            .cognito
            .create_user_pool()
            .pool_name(unique("pool"))
            .policies(UserPoolPolicyType::builder().password_policy(policy).build())
            .set_username_attributes(by_email.then(|| vec![UsernameAttributeType::Email]))
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap();
        let id = pool.id.unwrap();
        let client_id = self.app_client(&id, "tests", client_secret, true).await;
        Pool { id, client_id }
    }

    /// An app client of pool `user_pool_id` allowing admin logins and refresh, with a client
    /// secret if `client_secret`, and token revocation on or off; returns its id.
    pub async fn app_client(
        &self,
        user_pool_id: &str,
        name: &str,
        client_secret: bool,
        revocation: bool,
    ) -> String {
        self.cognito
            .create_user_pool_client()
            .user_pool_id(user_pool_id)
            .client_name(name)
            .generate_secret(client_secret)
            .enable_token_revocation(revocation)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .unwrap()
            .user_pool_client
            .and_then(|client| client.client_id)
            .unwrap()
    }

    /// A user as `AWS::Cognito::UserPoolUser` leaves it: FORCE_CHANGE_PASSWORD, no known password.
    pub async fn user(&self, pool: &Pool, username: &str) {
        self.cognito
            .admin_create_user()
            .user_pool_id(&pool.id)
            .username(username)
            .send()
            .await
            .unwrap();
    }

    /// A federated user's profile, as Cognito makes one when someone first signs in through the
    /// pool's identity provider `provider` (made here): status EXTERNAL_PROVIDER, username
    /// `<provider>_<id>`. moto cannot sign in through a provider; tools/moto_server.py makes the
    /// profile for such a username. Returns the username.
    pub async fn federated_user(&self, pool: &Pool, provider: &str) -> String {
        self.cognito
            .create_identity_provider()
            .user_pool_id(&pool.id)
            .provider_name(provider)
            .provider_type(IdentityProviderTypeType::Oidc)
            .provider_details("client_id", "federated-tests")
            .provider_details("authorize_scopes", "openid")
            .provider_details("oidc_issuer", "https://idp.example.com")
            .send()
            .await
            .unwrap();
        let username = format!("{provider}_{}", unique("1234").replace('-', ""));
        self.user(pool, &username).await;
        assert_eq!(self.status(pool, &username).await, "EXTERNAL_PROVIDER");
        username
    }

    async fn get_user(
        &self,
        pool: &Pool,
        username: &str,
    ) -> aws_sdk_cognitoidentityprovider::operation::admin_get_user::AdminGetUserOutput {
        self.cognito
            .admin_get_user()
            .user_pool_id(&pool.id)
            .username(username)
            .send()
            .await
            .unwrap()
    }

    /// The user's `sub`.
    pub async fn sub(&self, pool: &Pool, username: &str) -> String {
        self.get_user(pool, username)
            .await
            .user_attributes
            .unwrap_or_default()
            .into_iter()
            .find(|attribute| attribute.name == "sub")
            .and_then(|attribute| attribute.value)
            .unwrap()
    }

    pub async fn status(&self, pool: &Pool, username: &str) -> String {
        self.get_user(pool, username)
            .await
            .user_status
            .unwrap()
            .as_str()
            .to_owned()
    }

    pub async fn login(&self, pool: &Pool, username: &str, password: &str) -> Login {
        match self.admin_sign_in(pool, username, password).await {
            Ok(output) if output.authentication_result.is_some() => Login::Authenticated,
            Ok(output)
                if output.challenge_name.as_ref().map(|c| c.as_str()) == Some("NEW_PASSWORD_REQUIRED") =>
            {
                Login::NewPasswordRequired
            }
            Ok(output) => Login::Refused(format!("{output:?}")),
            Err(err) => Login::Refused(format!(
                "{}",
                aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(err)
            )),
        }
    }

    /// `ADMIN_USER_PASSWORD_AUTH` as `username` with `password` through the pool's app client.
    async fn admin_sign_in(
        &self,
        pool: &Pool,
        username: &str,
        password: &str,
    ) -> Result<
        aws_sdk_cognitoidentityprovider::operation::admin_initiate_auth::AdminInitiateAuthOutput,
        aws_sdk_cognitoidentityprovider::error::SdkError<
            aws_sdk_cognitoidentityprovider::operation::admin_initiate_auth::AdminInitiateAuthError,
        >,
    > {
        self.cognito
            .admin_initiate_auth()
            .user_pool_id(&pool.id)
            .client_id(&pool.client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await
    }

    /// The refresh token of a sign-in as `username` with `password` through the pool's client.
    pub async fn refresh_token(&self, pool: &Pool, username: &str, password: &str) -> String {
        self.admin_sign_in(pool, username, password)
            .await
            .unwrap()
            .authentication_result
            .and_then(|tokens| tokens.refresh_token)
            .expect("a sign-in with the right password answers a refresh token")
    }

    /// Whether `refresh_token` still gets new tokens through the app client `client_id`.
    pub async fn refreshes(&self, pool: &Pool, client_id: &str, refresh_token: &str) -> bool {
        self.cognito
            .admin_initiate_auth()
            .user_pool_id(&pool.id)
            .client_id(client_id)
            .auth_flow(AuthFlowType::RefreshTokenAuth)
            .auth_parameters("REFRESH_TOKEN", refresh_token)
            .send()
            .await
            .is_ok_and(|output| output.authentication_result.is_some())
    }

    /// A user who has signed up and chosen `password`: CONFIRMED.
    pub async fn confirmed_user(&self, pool: &Pool, username: &str, password: &str) {
        self.user(pool, username).await;
        self.cognito
            .admin_set_user_password()
            .user_pool_id(&pool.id)
            .username(username)
            .password(password)
            .permanent(true)
            .send()
            .await
            .unwrap();
    }

    /// Turns rotation on and starts one as Secrets Manager does before it calls createSecret:
    /// a new version staged AWSPENDING (moto then fails to call the made-up rotation function;
    /// what it set up stays). `immediately: false` is a test-only rotation: the pending version
    /// holds a copy of the current value. Returns the new version's id.
    pub async fn start_rotation(&self, secret: &str, immediately: bool) -> String {
        // At the end of a rotation Secrets Manager takes AWSPENDING off the version it promoted;
        // moto, which never ran the rotation, leaves it there.
        if let Some(done) = self.version_with(secret, "AWSPENDING").await
            && self.stages(secret).await[&done].contains(&"AWSCURRENT".to_owned())
        {
            self.secrets
                .update_secret_version_stage()
                .secret_id(secret)
                .version_stage("AWSPENDING")
                .remove_from_version_id(&done)
                .send()
                .await
                .unwrap();
        }
        let token = unique("token-0000-0000-0000-000000000000");
        let _ = self
            .secrets
            .rotate_secret()
            .secret_id(secret)
            .client_request_token(&token)
            .rotation_lambda_arn("arn:aws:lambda:us-east-1:123456789012:function:cognito-set-password")
            .rotation_rules(
                aws_sdk_secretsmanager::types::RotationRulesType::builder()
                    .automatically_after_days(30)
                    .build(),
            )
            .rotate_immediately(immediately)
            .send()
            .await;
        assert!(
            self.stages(secret).await[&token].contains(&"AWSPENDING".to_owned()),
            "moto staged the new version AWSPENDING"
        );
        token
    }

    /// Each version of a secret, with its staging labels.
    pub async fn stages(&self, secret: &str) -> std::collections::HashMap<String, Vec<String>> {
        self.secrets
            .describe_secret()
            .secret_id(secret)
            .send()
            .await
            .unwrap()
            .version_ids_to_stages
            .unwrap_or_default()
    }

    /// The version that carries `label`.
    pub async fn version_with(&self, secret: &str, label: &str) -> Option<String> {
        self.stages(secret)
            .await
            .into_iter()
            .find(|(_, labels)| labels.iter().any(|l| l == label))
            .map(|(id, _)| id)
    }

    /// The JSON value of the version staged `stage` (named: moto answers an unnamed read with
    /// an older version).
    pub async fn secret_json(&self, secret: &str, stage: &str) -> Value {
        let text = self
            .secrets
            .get_secret_value()
            .secret_id(secret)
            .version_stage(stage)
            .send()
            .await
            .unwrap()
            .secret_string
            .unwrap();
        serde_json::from_str(&text).unwrap()
    }

    /// A new pool, a user named after `name` in it, and a secret holding a strong password as the
    /// plain SecretString: `(pool, user, secret, password)`.
    pub async fn seeded(&self, name: &str) -> Seeded {
        self.seed(name, true, str::to_owned).await
    }

    /// As [`Aws::seeded`], the secret a JSON object whose `password` key holds the password.
    pub async fn seeded_json(&self, name: &str) -> Seeded {
        self.seeded_with(name, |password| json!({ "password": password }).to_string())
            .await
    }

    /// As [`Aws::seeded`], the secret's value made from the password by `value`.
    pub async fn seeded_with(&self, name: &str, value: impl FnOnce(&str) -> String) -> Seeded {
        self.seed(name, true, value).await
    }

    /// As [`Aws::seeded`], but the user is not created: a secret for a user that does not exist (yet).
    pub async fn seeded_without_user(&self, name: &str) -> Seeded {
        self.seed(name, false, str::to_owned).await
    }

    /// A new pool, and a user named after `name` in it.
    pub async fn pool_with_user(&self, name: &str) -> (Pool, String) {
        let pool = self.pool().await;
        let user = unique(name);
        self.user(&pool, &user).await;
        (pool, user)
    }

    async fn seed(&self, name: &str, create_user: bool, value: impl FnOnce(&str) -> String) -> Seeded {
        let (pool, user) = if create_user {
            self.pool_with_user(name).await
        } else {
            (self.pool().await, unique(name))
        };
        let password = strong_password();
        let secret = unique(&format!("{name}/secret"));
        self.secret(&secret, &value(&password)).await;
        self.bind(&secret, &pool.id, &user).await;
        (pool, user, secret, password)
    }

    /// Binds a secret to a user: its tag `cognito-set-password:user` = `<pool id>/<user>`.
    pub async fn bind(&self, secret: &str, user_pool_id: &str, user: &str) {
        self.secrets
            .tag_resource()
            .secret_id(secret)
            .tags(
                aws_sdk_secretsmanager::types::Tag::builder()
                    .key(BINDING_TAG)
                    .value(format!("{user_pool_id}/{user}"))
                    .build(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Binds an SSM parameter (by name) to a user, as [`Aws::bind`] a secret.
    pub async fn bind_parameter(&self, name: &str, user_pool_id: &str, user: &str) {
        self.ssm
            .add_tags_to_resource()
            .resource_type(aws_sdk_ssm::types::ResourceTypeForTagging::Parameter)
            .resource_id(name)
            .tags(
                aws_sdk_ssm::types::Tag::builder()
                    .key(BINDING_TAG)
                    .value(format!("{user_pool_id}/{user}"))
                    .build()
                    .unwrap(),
            )
            .send()
            .await
            .unwrap();
    }

    /// Returns the secret's ARN.
    pub async fn secret(&self, name: &str, value: &str) -> String {
        self.secrets
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .unwrap()
            .arn
            .unwrap()
    }

    /// Adds a version and returns its id; the previous one becomes AWSPREVIOUS.
    pub async fn secret_version(&self, name: &str, value: &str) -> String {
        self.secrets
            .put_secret_value()
            .secret_id(name)
            .secret_string(value)
            .send()
            .await
            .unwrap()
            .version_id
            .unwrap()
    }

    /// A SecureString parameter, as a password is stored in SSM.
    pub async fn secure_parameter(&self, name: &str, value: &str) {
        self.parameter(name, value, aws_sdk_ssm::types::ParameterType::SecureString)
            .await
    }

    pub async fn parameter(&self, name: &str, value: &str, kind: aws_sdk_ssm::types::ParameterType) {
        self.ssm
            .put_parameter()
            .name(name)
            .value(value)
            .r#type(kind)
            .send()
            .await
            .unwrap();
    }
}

/// The tag that binds a secret or parameter to its user.
pub const BINDING_TAG: &str = "cognito-set-password:user";

/// A CloudFormation request as CloudFormation sends it.
pub fn cfn_request(request_type: &str, response_url: &str, properties: Value) -> Value {
    let request_id = unique("req");
    let mut properties = properties;
    properties["ServiceToken"] = json!("arn:aws:lambda:us-east-1:123456789012:function:cognito-set-password");
    json!({
        "RequestType": request_type,
        "ServiceToken": "arn:aws:lambda:us-east-1:123456789012:function:cognito-set-password",
        "ResponseURL": response_url,
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/users/5b1c2f40-0000-11ef-0000-0a1b2c3d4e5f",
        "RequestId": request_id,
        "LogicalResourceId": "AlicePassword",
        "ResourceType": "Custom::CognitoUserPassword",
        "ResourceProperties": properties,
    })
}

/// SQS records as the event source mapping delivers them, one per body.
pub fn sqs_event(bodies: &[String]) -> Value {
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, body)| {
            json!({"messageId": format!("msg-{i}"), "receiptHandle": "AQEB", "body": body,
                "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
                "md5OfBody": "", "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:cognito-set-password-bulk",
                "awsRegion": "us-east-1"})
        })
        .collect();
    json!({"Records": records})
}

/// One step of a rotation, as Secrets Manager invokes the function.
pub fn rotation_event(step: &str, secret: &str, token: &str) -> Value {
    json!({
        "Step": step,
        "SecretId": secret,
        "ClientRequestToken": token,
        "RotationToken": "5b1c2f40-rotation-token-a-credential",
    })
}

/// Secrets Manager's own `Secret Label Updated` event.
pub fn label_updated_event(arn: &str, name: &str, label: &str, version: &str) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Secret Label Updated",
        "source": "aws.secretsmanager",
        "account": super::ACCOUNT,
        "time": "2026-11-27T12:00:00Z",
        "region": "us-east-1",
        "resources": [arn],
        "detail": {"name": name, "labelUpdated": label, "versionId": version},
    })
}

/// An EventBridge event carrying `detail`.
pub fn eventbridge_event(detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Cognito User Password Requested",
        "source": "com.example.provisioning",
        "account": super::ACCOUNT,
        "time": "2026-11-26T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}
