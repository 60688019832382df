//! cognito-set-password: an AWS Lambda function that sets an Amazon Cognito user's password from
//! a Secrets Manager secret or an SSM SecureString parameter, for CloudFormation custom resources,
//! EventBridge rules, SQS, Terraform and direct invocation; and, for a user's JSON secret, its
//! rotation function and the sync that follows changes to it. The plaintext never leaves the
//! function.
//!
//! Three layers, and the arrows run one way: [`inbound`] (one module per way in) -> [`core`] (the
//! request and the one path that sets a password) -> [`aws`] (the services), all on the ground of
//! [`error`], [`settings`] and [`logging`]. [`handler`] recognises an event and hands it to its
//! way in.

pub mod aws;
pub mod core;
pub mod error;
pub mod handler;
pub mod inbound;
pub mod logging;
pub mod settings;

pub use error::Error;
pub use handler::Function;
pub use settings::Settings;
