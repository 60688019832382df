//! What a user would set up and check in AWS, done against moto with the AWS SDK for Rust: a
//! pool with a strict password policy, users, secrets and parameters; a user's status; a login.

use std::sync::atomic::{AtomicU32, Ordering};

use aws_config::{Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_cognitoidentityprovider::types::{
    AuthFlowType, ExplicitAuthFlowsType, PasswordPolicyType, UserPoolPolicyType,
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
    cognito_set_password::setup::config_loader()
        .endpoint_url(endpoint)
        .region(Region::new("us-east-1"))
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
        let config = config_for(endpoint).await;
        Aws {
            cognito: aws_sdk_cognitoidentityprovider::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
            ssm: aws_sdk_ssm::Client::new(&config),
            config,
        }
    }

    pub async fn pool(&self) -> Pool {
        let policy = PasswordPolicyType::builder()
            .minimum_length(12)
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
            .send()
            .await
            .unwrap()
            .user_pool
            .unwrap();
        let id = pool.id.unwrap();
        let client_id = self
            .cognito
            .create_user_pool_client()
            .user_pool_id(&id)
            .client_name("tests")
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowAdminUserPasswordAuth)
            .explicit_auth_flows(ExplicitAuthFlowsType::AllowRefreshTokenAuth)
            .send()
            .await
            .unwrap()
            .user_pool_client
            .unwrap()
            .client_id
            .unwrap();
        Pool { id, client_id }
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

    pub async fn status(&self, pool: &Pool, username: &str) -> String {
        self.cognito
            .admin_get_user()
            .user_pool_id(&pool.id)
            .username(username)
            .send()
            .await
            .unwrap()
            .user_status
            .unwrap()
            .as_str()
            .to_owned()
    }

    pub async fn login(&self, pool: &Pool, username: &str, password: &str) -> Login {
        let result = self
            .cognito
            .admin_initiate_auth()
            .user_pool_id(&pool.id)
            .client_id(&pool.client_id)
            .auth_flow(AuthFlowType::AdminUserPasswordAuth)
            .auth_parameters("USERNAME", username)
            .auth_parameters("PASSWORD", password)
            .send()
            .await;
        match result {
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

/// An EventBridge event carrying `detail`.
pub fn eventbridge_event(detail: Value) -> Value {
    json!({
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "Cognito User Password Requested",
        "source": "com.example.provisioning",
        "account": "123456789012",
        "time": "2026-11-26T12:00:00Z",
        "region": "us-east-1",
        "resources": [],
        "detail": detail,
    })
}
