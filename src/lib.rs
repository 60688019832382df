//! cognito-set-password: an AWS Lambda function that sets an Amazon Cognito user's password from
//! a Secrets Manager secret or an SSM SecureString parameter, for CloudFormation custom resources,
//! EventBridge rules and direct invocation; and, for a user's JSON secret, its rotation function
//! and the sync that follows changes to it. The plaintext never leaves the function.

pub mod bulk;
pub mod cfn;
pub mod clients;
pub mod cloudformation;
pub mod cognito;
pub mod error;
pub mod event;
pub mod handler;
pub mod held;
pub mod logging;
pub mod password;
pub mod regions;
pub mod rotation;
pub mod secrets;
pub mod setter;
pub mod settings;
pub mod setup;
pub mod sqs;
pub mod sync;
pub mod terraform;
pub mod user_secret;
pub mod user_wait;
pub mod users;

pub use error::Error;
pub use event::{Invocation, SetPasswordRequest};
pub use handler::{Clients, Function, Settings};
pub use password::{PasswordRef, SecretStores};
