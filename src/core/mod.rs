//! The request and how it is carried out: a validated [`request::SetPasswordRequest`] or `Users`
//! list, the password reference and its value, the one path that sets a password (resolve ->
//! check -> set, within the deadline, at the rate limit, waiting for a user), and, for a user's
//! secret, which version Cognito holds, its rotation and its sync.

pub mod binding;
pub mod bulk;
pub mod contract;
pub mod deadline;
pub mod fields;
pub mod held;
pub mod identity;
pub mod password;
pub mod request;
pub mod rotation;
pub mod setter;
pub mod sync;
pub mod user_secret;
pub mod user_wait;
pub mod users;
