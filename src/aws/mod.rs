//! The services: Cognito, Secrets Manager and SSM, the clients per region, and their set-up. Each
//! function takes plain values (a pool id, a username, a redacted password) and answers with the
//! crate's [`Error`](crate::error::Error), never with the core's request types.

pub mod clients;
pub mod cognito;
pub mod regions;
pub mod secrets;
pub mod setup;
pub mod sign_in;
pub mod ssm;
