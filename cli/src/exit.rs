//! Exit codes, and how an error maps to one.
//!
//! | code | meaning |
//! |---:|---|
//! | 0 | success |
//! | 1 | unexpected failure |
//! | 2 | bad usage or configuration (unknown flag, malformed file, missing secret, invalid number) |
//! | 3 | the PBX is unreachable or the connection was lost |
//! | 4 | the PBX refused the AMI credentials |
//! | 5 | database error (unreachable, migration failed, …) |
//! | 6 | the PBX refused an action (permission denied, invalid request) |
//! | 7 | `originate --wait`: the call failed (busy, no answer, unreachable) |
//! | 8 | timed out waiting for the PBX |
//! | 130 | interrupted before finishing (`originate --wait`; `events` and `listen` stop cleanly with 0) |

use std::fmt;

/// An exit code with a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Code {
    /// 1
    Failure = 1,
    /// 2
    Usage = 2,
    /// 3
    Unreachable = 3,
    /// 4
    Auth = 4,
    /// 5
    Database = 5,
    /// 6
    Refused = 6,
    /// 7
    CallFailed = 7,
    /// 8
    Timeout = 8,
    /// 130
    Interrupted = 130,
}

/// An error that carries its exit code.
#[derive(Debug)]
pub struct Coded {
    /// The exit code.
    pub code: Code,
    /// What to tell the user.
    pub message: String,
}

impl fmt::Display for Coded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Coded {}

/// Shorthand: an error with an explicit code.
pub fn coded(code: Code, message: impl Into<String>) -> anyhow::Error {
    anyhow::Error::new(Coded {
        code,
        message: message.into(),
    })
}

/// The exit code for `err`: the first error in its chain that says.
pub fn code_for(err: &anyhow::Error) -> Code {
    for cause in err.chain() {
        if let Some(c) = cause.downcast_ref::<Coded>() {
            return c.code;
        }
        if let Some(e) = cause.downcast_ref::<ami_client::ClientError>() {
            return if e.is_auth() {
                Code::Auth
            } else if e.is_server_error() {
                Code::Refused
            } else if e.is_timeout() {
                Code::Timeout
            } else {
                Code::Unreachable
            };
        }
        if cause
            .downcast_ref::<bigchat_voice::store::StoreError>()
            .is_some()
        {
            return Code::Database;
        }
        match cause.downcast_ref::<bigchat_voice::pipeline::reconcile::ReconcileError>() {
            Some(bigchat_voice::pipeline::reconcile::ReconcileError::Store(_)) => {
                return Code::Database;
            }
            Some(bigchat_voice::pipeline::reconcile::ReconcileError::Pbx { .. }) => {
                return Code::Refused;
            }
            _ => {}
        }
        {
            use bigchat_voice::control::ControlError as E;
            match cause.downcast_ref::<E>() {
                Some(E::Unreachable { .. }) => return Code::Unreachable,
                Some(E::Invalid { .. } | E::NoSuchTicket { .. } | E::KeyReused { .. }) => {
                    return Code::Usage;
                }
                Some(E::Store(_)) => return Code::Database,
                Some(_) => return Code::Refused,
                None => {}
            }
        }
        match cause.downcast_ref::<bigchat_voice::discover::DiscoverError>() {
            Some(bigchat_voice::discover::DiscoverError::Timeout { .. }) => return Code::Timeout,
            Some(_) => return Code::Unreachable,
            None => {}
        }
        match cause.downcast_ref::<bigchat_voice::pipeline::PipelineError>() {
            Some(bigchat_voice::pipeline::PipelineError::Store(_))
            | Some(bigchat_voice::pipeline::PipelineError::WriterStopped) => {
                return Code::Database;
            }
            Some(bigchat_voice::pipeline::PipelineError::Journal { .. }) => {
                return Code::Usage;
            }
            _ => {}
        }
        if cause.downcast_ref::<toml::de::Error>().is_some()
            || cause.downcast_ref::<ami_proto::ProtoError>().is_some()
        {
            return Code::Usage;
        }
    }
    Code::Failure
}
