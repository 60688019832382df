//! Building the clients once per cold start: AWS configuration from the environment (region,
//! credentials, and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_<SERVICE>`), explicit timeouts, and
//! retries with backoff that the invocation's deadline bounds.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::{Connector, tls};
use aws_smithy_runtime_api::client::http::{HttpConnectorSettings, SharedHttpConnector};

use crate::aws::clients::Clients;
use crate::aws::regions::{RegionClients, Regions};

/// A connection that is not up by then will not be.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// One attempt of one call; a hung endpoint costs this much before the next attempt.
pub const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(5);
/// Throttling and 5xx are retried until the invocation's deadline; this only caps the count.
pub const MAX_ATTEMPTS: u32 = 10;

/// The AWS configuration loader with this function's timeouts and retries; everything else
/// (region, credentials, endpoints) comes from the environment as aws-config reads it.
pub fn config_loader() -> ConfigLoader {
    aws_config::defaults(BehaviorVersion::latest())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(CONNECT_TIMEOUT)
                .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                .build(),
        )
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(MAX_ATTEMPTS)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(5)),
        )
}

pub fn clients(config: &SdkConfig) -> Clients {
    // The connector the SDK's clients build for themselves: the trust store they read once per
    // process serves this one too (another HTTP client would read the system's roots again).
    let mut http = Connector::builder().connector_settings(
        HttpConnectorSettings::builder()
            .connect_timeout(CONNECT_TIMEOUT)
            .build(),
    );
    http.set_sleep_impl(config.sleep_impl());
    // HTTP(S)_PROXY and NO_PROXY, as the SDK's clients read them at this behaviour version.
    http.set_proxy_config(Some(ProxyConfig::from_env()));
    let http = SharedHttpConnector::new(
        http.tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::AwsLc))
            .build(),
    );
    // The function's own region's clients, shared with the per-region set: built once.
    let home = RegionClients::new(config);
    Clients {
        cognito: home.cognito.clone(),
        stores: home.stores.clone(),
        regions: Regions::new(config, home),
        http,
    }
}
