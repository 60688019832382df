//! The ways in: one module for each, turning its event into requests and the outcome into the
//! answer its caller expects (a CloudFormation PUT, a return value, `batchItemFailures`, a rotation
//! step's error). [`invocation`] holds what every way in is handed and how outcomes are logged.

pub mod cloudformation;
pub mod direct;
pub mod eventbridge;
pub mod invocation;
pub mod metrics;
pub mod rotation;
pub mod sqs;
pub mod sync;
pub mod terraform;
