//! Reconnecting async AMI client (work in progress).
#![warn(missing_docs)]
