//! The AWS clients, built once per cold start and shared by every invocation, and which of them
//! serves a given pool, secret or parameter (the region its id names).

use crate::aws::regions::{self, Regions, SecretStores};

/// The clients, built once per cold start and shared by every invocation.
#[derive(Debug, Clone)]
pub struct Clients {
    pub cognito: aws_sdk_cognitoidentityprovider::Client,
    pub stores: SecretStores,
    /// The clients of the region each id names (see [`crate::aws::regions`]).
    pub regions: Regions,
    /// The SDK's HTTP connector, for the one request that is not an AWS API call: the PUT to
    /// CloudFormation's ResponseURL.
    pub http: aws_smithy_runtime_api::client::http::SharedHttpConnector,
}

impl Clients {
    /// Cognito in the region the user pool id names.
    pub fn cognito_for(&self, user_pool_id: &str) -> aws_sdk_cognitoidentityprovider::Client {
        self.regions.get(regions::of_user_pool(user_pool_id)).cognito
    }

    /// Secrets Manager in the region the secret's ARN names (a name: the function's own).
    pub fn secrets_manager_for(&self, secret_id: &str) -> aws_sdk_secretsmanager::Client {
        self.regions
            .get(regions::of_arn(secret_id))
            .stores
            .secrets_manager
    }

    /// The stores in the region a secret's or parameter's ARN names (a name: the function's own).
    pub fn stores_for(&self, id: &str) -> SecretStores {
        self.regions.get(regions::of_arn(id)).stores
    }

    /// The function's own region.
    pub fn home_region(&self) -> Option<&str> {
        self.stores
            .secrets_manager
            .config()
            .region()
            .map(|region| region.as_ref())
    }
}
