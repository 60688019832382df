//! Integration tests: the function against moto's server mode, a real HTTP ResponseURL, and the
//! built binary under the Lambda Runtime API. One test binary, so the SDK is linked once.

mod aws_realities;
mod binding;
mod bulk;
mod cloudformation;
mod contract;
mod direct;
mod emulator;
mod hardening;
mod hostile;
mod identity;
mod layers;
mod leak;
mod logs;
mod plaintext;
mod process;
mod reliability;
mod rotation;
mod support;
mod sync;
mod terraform;
mod wait;
