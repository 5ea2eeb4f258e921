//! Exit codes, and how an error maps to one.
//!
//! | code | meaning |
//! |---:|---|
//! | 0 | success |
//! | 1 | unexpected failure |
//! | 2 | bad usage or configuration (unknown flag, malformed or unreadable file, missing secret, invalid number, CR/LF in a value, bad database URL or missing SQLite directory, a database the connector refuses); `check` found a problem |
//! | 3 | the PBX is unreachable or the connection was lost |
//! | 4 | the PBX refused the AMI credentials |
//! | 5 | database error (unreachable, migration failed, a write refused, …) |
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

/// An error type whose variants each have an exit code. Every error type
/// the commands can meet implements it here, in one place, variant by
/// variant; [`code_for`] asks each error of a chain in turn.
pub trait ExitCoded {
    /// The exit code this error means.
    fn exit_code(&self) -> Code;
}

/// Registers each error type's exit code: writes its [`ExitCoded`] impl
/// and adds the type to those [`typed`] looks for, from one list (a type
/// cannot have a code and be missed by the lookup).
macro_rules! exit_codes {
    ($($t:ty => |$e:ident| $body:block)*) => {
        $(impl ExitCoded for $t {
            fn exit_code(&self) -> Code {
                let $e = self;
                $body
            }
        })*

        /// The exit code of one error, if its type has one.
        fn typed(cause: &(dyn std::error::Error + 'static)) -> Option<Code> {
            $(if let Some(e) = cause.downcast_ref::<$t>() {
                return Some(e.exit_code());
            })*
            None
        }
    };
}

exit_codes! {
    Coded => |e| {
        e.code
    }

    ami_client::ClientError => |e| {
        if e.is_auth() {
            Code::Auth
        } else if e.is_server_error() {
            Code::Refused
        } else if e.is_timeout() {
            Code::Timeout
        } else if matches!(e, ami_client::ClientError::Proto(_)) {
            // A value with CR/LF (from the configuration or a flag): nothing was sent.
            Code::Usage
        } else {
            Code::Unreachable
        }
    }

    bigchat_voice::store::StoreError => |e| {
        use bigchat_voice::store::StoreError as E;
        match e {
            // The URL, the path or the database named is wrong: configuration.
            E::InvalidUrl { .. } | E::NotFound { .. } | E::UnrecognisedDatabase { .. } => {
                Code::Usage
            }
            E::Migrate { .. } | E::Database { .. } | E::Closed | E::InvalidData(_) => {
                Code::Database
            }
            _ => Code::Database,
        }
    }

    bigchat_voice::pipeline::reconcile::ReconcileError => |e| {
        use bigchat_voice::pipeline::reconcile::ReconcileError as E;
        match e {
            E::Store(e) => e.exit_code(),
            E::Pbx { .. } => Code::Refused,
            E::Apply(_) => Code::Database,
            _ => Code::Failure,
        }
    }

    bigchat_voice::control::ControlError => |e| {
        use bigchat_voice::control::ControlError as E;
        match e {
            E::Invalid { .. } | E::NoSuchTicket { .. } | E::KeyReused { .. } => Code::Usage,
            E::Unreachable { .. } => Code::Unreachable,
            E::NoSuchCall { .. } | E::NoAgentChannel { .. } | E::Refused { .. } => Code::Refused,
            E::Store(e) => e.exit_code(),
            _ => Code::Failure,
        }
    }

    bigchat_voice::discover::DiscoverError => |e| {
        use bigchat_voice::discover::DiscoverError as E;
        match e {
            E::Timeout { .. } => Code::Timeout,
            E::Unreachable { .. } => Code::Unreachable,
            _ => Code::Failure,
        }
    }

    bigchat_voice::pipeline::PipelineError => |e| {
        use bigchat_voice::pipeline::PipelineError as E;
        match e {
            E::Journal { source, .. } => source.exit_code(),
            E::WriterStopped => Code::Database,
            E::Store(e) => e.exit_code(),
            _ => Code::Failure,
        }
    }

    bigchat_voice::journal::JournalError => |e| {
        use bigchat_voice::journal::JournalError as E;
        match e {
            // The journal directory cannot be used, or another daemon holds it.
            E::Io { .. } | E::InUse { .. } => Code::Usage,
            E::Full { .. } | E::Corrupt { .. } | E::TooLarge(_) => Code::Failure,
            _ => Code::Failure,
        }
    }

    bigchat_voice::replay::ReplayError => |_e| {
        // A capture that cannot be read is a bad argument.
        Code::Usage
    }

    bigchat_voice::notify::NotifyError => |e| {
        use bigchat_voice::notify::NotifyError as E;
        match e {
            E::InvalidUrl { .. } | E::Io { .. } => Code::Usage,
            E::Client(_) => Code::Failure,
            _ => Code::Failure,
        }
    }

    ami_proto::ProtoError => |_e| {
        Code::Usage
    }

    toml::de::Error => |_e| {
        Code::Usage
    }
}

/// The exit code for `err`: that of the first error in its chain (outermost
/// first) whose type has one; 1 if none has.
pub fn code_for(err: &anyhow::Error) -> Code {
    // A `Coded` attached as context is not seen through `chain()`.
    if let Some(c) = err.downcast_ref::<Coded>() {
        return c.code;
    }
    err.chain().find_map(typed).unwrap_or(Code::Failure)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bigchat_voice::store::StoreError;

    fn code(e: impl std::error::Error + Send + Sync + 'static) -> Code {
        code_for(&anyhow::Error::new(e))
    }

    #[test]
    fn store_errors_of_configuration_exit_2_the_others_5() {
        assert_eq!(
            code(StoreError::InvalidUrl { reason: "x".into() }),
            Code::Usage
        );
        assert_eq!(code(StoreError::NotFound { what: "x".into() }), Code::Usage);
        assert_eq!(
            code(StoreError::UnrecognisedDatabase { reason: "x".into() }),
            Code::Usage
        );
        assert_eq!(code(StoreError::database("down", true)), Code::Database);
        assert_eq!(code(StoreError::InvalidData("x".into())), Code::Database);
        assert_eq!(code(StoreError::Closed), Code::Database);
    }

    #[test]
    fn client_errors() {
        use ami_client::ClientError as E;
        assert_eq!(
            code(E::Auth {
                message: "no".into()
            }),
            Code::Auth
        );
        assert_eq!(code(E::Timeout), Code::Timeout);
        assert_eq!(code(E::NotConnected), Code::Unreachable);
        assert_eq!(code(E::Closed), Code::Unreachable);
        assert_eq!(code(E::ConnectionLost { written: true }), Code::Unreachable);
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(code(E::Io(io)), Code::Unreachable);
        let crlf = ami_proto::Action::new("Ping")
            .header("X", "a\r\nb")
            .encode(&mut ami_proto::bytes::BytesMut::new())
            .expect_err("CR/LF refused");
        assert_eq!(code(E::Proto(crlf)), Code::Usage);
    }

    #[test]
    fn control_errors() {
        use bigchat_voice::control::ControlError as E;
        let cases = [
            (
                E::Invalid {
                    field: "to",
                    reason: "x".into(),
                },
                Code::Usage,
            ),
            (E::NoSuchTicket { ticket_id: 1 }, Code::Usage),
            (
                E::KeyReused {
                    key: "k".into(),
                    unique_id: "u".into(),
                },
                Code::Usage,
            ),
            (E::Unreachable { reason: "x".into() }, Code::Unreachable),
            (
                E::NoSuchCall {
                    linkedid: "x".into(),
                },
                Code::Refused,
            ),
            (
                E::NoAgentChannel {
                    linkedid: "x".into(),
                    agent: "1".into(),
                },
                Code::Refused,
            ),
            (
                E::Refused {
                    action: "a".into(),
                    message: "m".into(),
                },
                Code::Refused,
            ),
            (E::Store(StoreError::Closed), Code::Database),
            (
                E::Store(StoreError::InvalidUrl { reason: "x".into() }),
                Code::Usage,
            ),
        ];
        for (e, want) in cases {
            let shown = e.to_string();
            assert_eq!(code(e), want, "{shown}");
        }
    }

    #[test]
    fn the_outermost_typed_error_decides() {
        let inner = anyhow::Error::new(StoreError::Closed);
        let outer = inner.context(Coded {
            code: Code::Usage,
            message: "bad".into(),
        });
        assert_eq!(code_for(&outer), Code::Usage);
        // Context text alone says nothing: the typed cause under it decides.
        let err = anyhow::Error::new(StoreError::Closed).context("cannot open the database");
        assert_eq!(code_for(&err), Code::Database);
        assert_eq!(code_for(&anyhow::anyhow!("untyped")), Code::Failure);
    }

    #[test]
    fn other_library_errors() {
        use bigchat_voice::discover::DiscoverError;
        assert_eq!(
            code(DiscoverError::Timeout { action: "a".into() }),
            Code::Timeout
        );
        assert_eq!(
            code(DiscoverError::Unreachable {
                action: "a".into(),
                reason: "r".into()
            }),
            Code::Unreachable
        );
        let bad_toml = toml::from_str::<toml::Table>("x = ").expect_err("bad");
        assert_eq!(code(bad_toml), Code::Usage);
        let replay = bigchat_voice::replay::Replay::open("/nonexistent/x.server.ami")
            .expect_err("no such file");
        assert_eq!(code(replay), Code::Usage);
    }
}
