//! Black-box tests of the binary against the fake Asterisk of
//! `ami-client`'s testkit: the daemon end to end, signals, PBX restarts,
//! click-to-call outcomes, bad credentials, PostgreSQL.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use ami_client::ami_proto::bytes::Bytes;
use ami_client::testkit::{
    FakeAsterisk, ReplayOptions, Reply, Restart, event, load_capture, response,
};
use tokio::process::{Child, Command};

const BIN: &str = env!("CARGO_BIN_EXE_bigchat-voice");
const SECRET: &str = "bigchat-secret";

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures")
}

/// The events of a capture, as raw messages.
fn events_of(name: &str) -> Vec<Bytes> {
    load_capture(
        &captures().join(format!("{name}.server.ami")),
        &ReplayOptions {
            pace: None,
            events_only: true,
        },
    )
    .expect("capture")
    .messages
    .into_iter()
    .map(|m| m.bytes)
    .collect()
}

/// Index just after the parties of the capture are bridged.
fn after_bridge(capture: &[Bytes]) -> usize {
    capture
        .iter()
        .position(|m| m.starts_with(b"Event: BridgeEnter"))
        .expect("a BridgeEnter")
        + 2
}

fn cmd() -> Command {
    let mut c = Command::new(BIN);
    for (k, _) in std::env::vars() {
        if k.starts_with("BIGCHAT_VOICE_") || k == "DATABASE_URL" || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c.env("BIGCHAT_VOICE_AMI_SECRET", SECRET);
    c.kill_on_drop(true);
    c
}

async fn fake() -> FakeAsterisk {
    FakeAsterisk::builder()
        .user("bigchat", SECRET)
        .reply(
            "CoreShowChannels",
            Reply::list("CoreShowChannelsComplete", vec![]),
        )
        .start()
        .await
        .expect("fake asterisk")
}

fn server_args(fake: &FakeAsterisk) -> Vec<String> {
    vec![
        "--ami-host".into(),
        "127.0.0.1".into(),
        "--ami-port".into(),
        fake.port().to_string(),
        "--ami-username".into(),
        "bigchat".into(),
    ]
}

async fn calls(db: &str) -> Vec<serde_json::Value> {
    let out = cmd()
        .args(["calls", "--json", "--limit", "1000", "--database-url", db])
        .output()
        .await
        .expect("calls runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect()
}

/// Polls `calls` until `pred` holds (at most 60 s: generous for a loaded CI).
async fn wait_calls(
    db: &str,
    what: &str,
    pred: impl Fn(&[serde_json::Value]) -> bool,
) -> Vec<serde_json::Value> {
    for _ in 0..600 {
        let c = calls(db).await;
        if pred(&c) {
            return c;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}: {:?}", calls(db).await);
}

async fn wait_for(what: &str, mut pred: impl FnMut() -> bool) {
    for _ in 0..600 {
        if pred() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

fn sigterm(child: &Child) {
    signal(child, "-TERM");
}

fn signal(child: &Child, which: &str) {
    let pid = child.id().expect("running");
    let status = std::process::Command::new("kill")
        .args([which, &pid.to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
}

async fn finish(mut child: Child) -> (Option<i32>, String) {
    let out = tokio::time::timeout(Duration::from_secs(60), async {
        let status = child.wait().await.expect("wait");
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            use tokio::io::AsyncReadExt;
            let _ = e.read_to_string(&mut err).await;
        }
        (status.code(), err)
    })
    .await;
    out.expect("the daemon exits after SIGTERM")
}

/// A fake Asterisk and `listen` on it, storing into a fresh SQLite file:
/// (fake, its directory, database URL, daemon).
async fn daemon() -> (FakeAsterisk, tempfile::TempDir, String, Child) {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let child = cmd()
        .args(["listen", "--database-url", &db])
        .args(server_args(&fake))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    (fake, dir, db, child)
}

/// Waits until the recorded call (`1795515777.0`) is stored completed.
async fn wait_completed(db: &str, what: &str) -> Vec<serde_json::Value> {
    wait_calls(db, what, |c| {
        c.iter()
            .any(|r| r["uniqueId"] == "1795515777.0" && r["status"] == "completed")
    })
    .await
}

/// Plays the recorded call on `fake` up to its answer, and waits until it
/// is stored answered.
async fn play_until_answered(fake: &FakeAsterisk, db: &str) {
    let capture = events_of("inbound-answered-recorded");
    for m in &capture[..after_bridge(&capture)] {
        fake.emit_raw(m.clone()).await;
    }
    wait_calls(db, "an answered call", |c| {
        c.iter().any(|r| r["status"] == "answered")
    })
    .await;
}

/// Restarts the fake PBX and waits until the daemon has logged in again.
async fn restart_and_relogin(fake: &FakeAsterisk, restart: Restart) {
    let logins = fake.logins().len();
    fake.restart(restart).await;
    wait_for("reconnect", || fake.logins().len() > logins).await;
}

/// Replays the recorded answered call on `fake` and waits until the
/// daemon has stored it completed.
async fn replay_answered_call(fake: &FakeAsterisk, db: &str, what: &str) -> Vec<serde_json::Value> {
    fake.replay(
        captures().join("inbound-answered-recorded.server.ami"),
        ReplayOptions::default(),
    )
    .await
    .unwrap();
    wait_calls(db, what, |c| {
        c.iter()
            .any(|r| r["uniqueId"] == "1795515777.0" && r["status"] == "completed")
    })
    .await
}

/// SIGTERM, then the daemon must exit 0; returns its stderr.
async fn stop_cleanly(child: Child) -> String {
    sigterm(&child);
    let (code, err) = finish(child).await;
    assert_eq!(code, Some(0), "{err}");
    err
}

/// Waits until `fake` has seen the daemon's sync (it logged in).
async fn wait_synced(fake: &FakeAsterisk, what: &str) {
    wait_for(what, || !fake.actions_named("CoreShowChannels").is_empty()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_end_to_end_into_sqlite_then_sigterm() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let notes = dir.path().join("notifications.jsonl");
    let child = cmd()
        .args(["listen", "--database-url", &db])
        .args(server_args(&fake))
        .arg("--notify-file")
        .arg(&notes)
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // Logged in and reconciled before events flow.
    wait_for("sync after login", || {
        !fake.actions_named("CoreShowChannels").is_empty()
    })
    .await;
    let n = fake
        .replay(
            captures().join("inbound-answered-recorded.server.ami"),
            ReplayOptions::default(),
        )
        .await
        .unwrap();
    assert!(n > 80);
    let got = wait_completed(&db, "a completed call").await;
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r["direction"], "inbound");
    assert_eq!(r["callerId"], "+5511999990001");
    assert_eq!(r["calledNumber"], "4000");
    assert_eq!(r["agentExtension"], "1001");

    sigterm(&child);
    let (code, err) = finish(child).await;
    assert_eq!(code, Some(0), "{err}");
    // Logoff was sent on the way out.
    assert!(!fake.actions_named("Logoff").is_empty(), "{err}");
    let notes = std::fs::read_to_string(&notes).unwrap();
    assert!(notes.contains("company-1-call"), "{notes}");
    assert!(notes.contains("\"completed\""), "{notes}");
    assert!(notes.contains("company-1-asterisk"), "{notes}");
    assert!(notes.contains("DISCONNECTED"), "{notes}");
    assert!(
        !notes.contains(SECRET) && !err.contains(SECRET),
        "secret leaked"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_mid_call_loses_nothing_and_a_restart_continues_the_call() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let capture = events_of("inbound-answered-recorded");
    // Split the call after the parties are bridged.
    let split = after_bridge(&capture);
    let (first, rest) = capture.split_at(split);

    let child = cmd()
        .args(["listen", "--database-url", &db])
        .args(server_args(&fake))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("login", || {
        !fake.actions_named("CoreShowChannels").is_empty()
    })
    .await;
    for m in first {
        fake.emit_raw(m.clone()).await;
    }
    wait_calls(&db, "an answered call", |c| {
        c.iter()
            .any(|r| r["uniqueId"] == "1795515777.0" && r["status"] == "answered")
    })
    .await;
    sigterm(&child);
    let (code, err) = finish(child).await;
    assert_eq!(code, Some(0), "{err}");
    let stored = calls(&db).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0]["status"], "answered",
        "the live call was kept as it stood"
    );

    // The daemon comes back while the call goes on: the PBX still lists it,
    // so sync keeps it; the rest of its events complete the same record.
    let bridge = "a416ddf6-3284-4365-b75e-8c0ec3896a2d";
    let chans = vec![
        event(
            "CoreShowChannel",
            &[
                ("Channel", "PJSIP/trunk-00000000"),
                ("ChannelState", "6"),
                ("ChannelStateDesc", "Up"),
                ("CallerIDNum", "+5511999990001"),
                ("ConnectedLineNum", "1001"),
                ("Context", "from-trunk"),
                ("Exten", "4000"),
                ("Uniqueid", "1795515777.0"),
                ("Linkedid", "1795515777.0"),
                ("Application", "Dial"),
                ("ApplicationData", "PJSIP/agent1001,10"),
                ("Duration", "00:00:03"),
                ("BridgeId", bridge),
            ],
        ),
        event(
            "CoreShowChannel",
            &[
                ("Channel", "PJSIP/agent1001-00000001"),
                ("ChannelState", "6"),
                ("ChannelStateDesc", "Up"),
                ("CallerIDNum", "1001"),
                ("ConnectedLineNum", "+5511999990001"),
                ("Context", "agents"),
                ("Exten", ""),
                ("Uniqueid", "1795515777.1"),
                ("Linkedid", "1795515777.0"),
                ("Application", "AppDial"),
                ("ApplicationData", "(Outgoing Line)"),
                ("Duration", "00:00:01"),
                ("BridgeId", bridge),
            ],
        ),
    ];
    fake.set_reply(
        "CoreShowChannels",
        Reply::list("CoreShowChannelsComplete", chans),
    );
    let before = fake.actions_named("CoreShowChannels").len();
    let child = cmd()
        .args(["listen", "--database-url", &db])
        .args(server_args(&fake))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("second login", || {
        fake.actions_named("CoreShowChannels").len() > before
    })
    .await;
    for m in rest {
        fake.emit_raw(m.clone()).await;
    }
    let got = wait_completed(&db, "the call completed").await;
    assert_eq!(got.len(), 1, "no duplicate record: {got:?}");
    sigterm(&child);
    let (code, err) = finish(child).await;
    assert_eq!(code, Some(0), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pbx_restart_during_listen_reconnects_and_reconciles() {
    let (fake, _dir, db, child) = daemon().await;
    wait_for("login", || {
        !fake.actions_named("CoreShowChannels").is_empty()
    })
    .await;
    // A call that is up, then the PBX restarts under it (no hangups seen).
    play_until_answered(&fake, &db).await;
    restart_and_relogin(
        &fake,
        Restart::new()
            .with_shutdown_event()
            .refusing_for(Duration::from_millis(300)),
    )
    .await;
    // After the restart the PBX has no channel: the call is ended, once.
    let got = wait_completed(&db, "the call ended").await;
    assert_eq!(got.len(), 1, "{got:?}");
    sigterm(&child);
    let (code, err) = finish(child).await;
    assert_eq!(code, Some(0), "{err}");
    // The gap is said, when it happened and at exit.
    assert!(err.contains("not connected to the PBX"), "{err}");
    assert!(
        err.contains("events not seen during this run") && err.contains("outages=1"),
        "{err}"
    );
}

fn originate_reply(success: bool) -> Reply {
    let outcome = if success {
        event(
            "OriginateResponse",
            &[
                ("Response", "Success"),
                ("Channel", "PJSIP/1001-0000000a"),
                ("Context", "outbound"),
                ("Exten", "+5511999990002"),
                ("Reason", "4"),
                ("Uniqueid", "x"),
                ("CallerIDNum", "+5511999990002"),
                ("CallerIDName", "<unknown>"),
            ],
        )
    } else {
        event(
            "OriginateResponse",
            &[
                ("Response", "Failure"),
                ("Channel", "PJSIP/1001"),
                ("Context", "outbound"),
                ("Exten", "+5511999990002"),
                ("Reason", "0"),
                ("Uniqueid", "<unknown>"),
                ("CallerIDNum", "<unknown>"),
                ("CallerIDName", "<unknown>"),
            ],
        )
    };
    Reply::Messages(vec![
        response("Success", &[("Message", "Originate successfully queued")]),
        outcome,
    ])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn originate_success_and_failure_exit_codes() {
    for (success, want) in [(true, 0), (false, 7)] {
        let fake = fake().await;
        fake.set_reply("Originate", originate_reply(success));
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}", dir.path().join("calls.db").display());
        let out = cmd()
            .args(["originate", "--database-url", &db])
            .args(server_args(&fake))
            .args([
                "--from",
                "1001",
                "--to",
                "+55 11 99999-0002",
                "--wait",
                "--var",
                "CAMPAIGN=spring",
            ])
            .output()
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(want), "success={success}: {err}");
        let sent = fake.actions_named("Originate");
        assert_eq!(sent.len(), 1);
        let a = &sent[0];
        assert_eq!(a.get("Channel").as_deref(), Some("PJSIP/1001"));
        assert_eq!(a.get("Exten").as_deref(), Some("+5511999990002"));
        assert_eq!(a.get("Context").as_deref(), Some("outbound"));
        assert_eq!(a.get("Async").as_deref(), Some("true"));
        assert_eq!(a.get("Variable").as_deref(), Some("CAMPAIGN=spring"));
        let records = calls(&db).await;
        assert_eq!(records.len(), 1);
        assert_eq!(records[0]["direction"], "outbound");
        assert_eq!(records[0]["calledNumber"], "+5511999990002");
        assert_eq!(
            records[0]["status"],
            if success { "ringing" } else { "failed" }
        );
        if !success {
            assert!(err.contains("failed"), "{err}");
        }
    }
}

/// A PBX that refuses the MD5 challenge: the default login fails (exit 4)
/// saying how to allow a plain login, and the secret is never sent; only
/// `auth = "plain"` logs in with it (warning that it goes in clear).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_md5_challenge_exits_4_and_plain_login_must_be_asked_for() {
    let fake = FakeAsterisk::builder()
        .user("bigchat", SECRET)
        .md5(false)
        .reply(
            "CoreShowChannels",
            Reply::list("CoreShowChannelsComplete", vec![]),
        )
        .start()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let config = |auth: &str| {
        let path = dir.path().join(format!("auth-{}.toml", auth.len()));
        std::fs::write(
            &path,
            format!(
                "companyId = 1\ndatabaseUrl = \"{db}\"\n[[asterisk]]\nname = \"pbx\"\n\
                 host = \"127.0.0.1\"\nport = {}\nusername = \"bigchat\"\n{auth}\n",
                fake.port()
            ),
        )
        .unwrap();
        path
    };
    for auth in ["", "auth = \"md5\""] {
        let out = cmd()
            .arg("--config")
            .arg(config(auth))
            .arg("sync")
            .output()
            .await
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{err}");
        assert!(err.contains("refused the MD5 challenge"), "{err}");
        assert!(err.contains("auth = \"plain\""), "{err}");
        assert!(!err.contains(SECRET), "{err}");
    }
    assert!(fake.actions_named("Login").is_empty(), "a Login was sent");
    assert!(fake.actions().iter().all(|a| a.get("Secret").is_none()));

    let out = cmd()
        .arg("--config")
        .arg(config("auth = \"plain\""))
        .arg("sync")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("in clear"), "no warning: {err}");
    assert!(!err.contains(SECRET), "{err}");
    let logins = fake.logins();
    assert!(logins.len() == 1 && !logins[0].md5 && logins[0].accepted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_password_exits_4_without_leaking_it() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let out = cmd()
        .args(["listen", "--database-url", &db])
        .args(server_args(&fake))
        .env("BIGCHAT_VOICE_AMI_SECRET", "not-the-secret")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{err}");
    assert!(err.contains("the PBX refused the login"), "{err}");
    assert!(
        !err.to_lowercase().contains("failed: authentication failed"),
        "{err}"
    );
    assert!(!err.contains("not-the-secret"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_reports_missing_rights() {
    let fake = fake().await;
    fake.set_reply("Originate", Reply::error("Permission denied"));
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let out = cmd()
        .args(["check", "--database-url", &db])
        .args(server_args(&fake))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    // A check that finds a problem: exit 2, the configuration does not work.
    assert_eq!(out.status.code(), Some(2), "{stdout}");
    // A check never writes: the database it was pointed at is not created.
    assert!(
        !dir.path().join("calls.db").exists(),
        "check created the database"
    );
    assert!(
        stdout.contains("FAIL") && stdout.contains("originate"),
        "{stdout}"
    );
    // The read class a login shows: FullyBooted came, `system` is there.
    assert!(
        stdout.contains("ok    127.0.0.1: read class system"),
        "{stdout}"
    );
    // `check` looks, never creates: a path that does not exist yet is said.
    assert!(stdout.contains("does not exist yet"), "{stdout}");
    assert!(
        !dir.path().join("calls.db").exists(),
        "check created the database"
    );
    // Once created, it is reported up to date, and still not changed.
    let migrate = cmd()
        .args(["db", "migrate", "--database-url", &db])
        .output()
        .await
        .unwrap();
    assert!(migrate.status.success());
    let out = cmd()
        .args(["check", "--database-url", &db])
        .args(server_args(&fake))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("ok    database") && stdout.contains("schema up to date"),
        "{stdout}"
    );
}

/// `check` names the PBX's phones and queues that have no BigChat user or
/// queue (a warning each: their calls are still stored).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_names_unmapped_phones_and_queues() {
    let fake = fake().await;
    let endpoint = |name: &str| event("EndpointList", &[("ObjectName", name)]);
    fake.set_reply(
        "PJSIPShowEndpoints",
        Reply::list(
            "EndpointListComplete",
            vec![endpoint("1001"), endpoint("1002"), endpoint("trunk")],
        ),
    );
    fake.set_reply(
        "QueueSummary",
        Reply::list(
            "QueueSummaryComplete",
            vec![event("QueueSummary", &[("Queue", "support")])],
        ),
    );
    fake.set_reply("Getvar", Reply::success(&[("Value", "220000")]));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bigchat-voice.toml");
    std::fs::write(&config, "[tracker.users]\n\"1001\" = 7\n").unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let out = cmd()
        .args(["--config", &config.display().to_string()])
        .args(["check", "--database-url", &db])
        .args(server_args(&fake))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("standalone mode"), "{stdout}");
    let warnings: Vec<&str> = stdout.lines().filter(|l| l.starts_with("warn")).collect();
    assert_eq!(warnings.len(), 2, "{stdout}");
    assert!(
        warnings[0].contains("extension 1002 has no BigChat user"),
        "{stdout}"
    );
    assert!(
        warnings[1].contains("PBX queue \"support\" has no BigChat queue"),
        "{stdout}"
    );
}

/// A fresh schema on the test PostgreSQL server (127.0.0.1:5432/test or
/// `BIGCHAT_VOICE_PG_URL`); `None` with `BIGCHAT_VOICE_SKIP_PG=1`.
struct PgSchema {
    admin: sqlx::PgConnection,
    base: String,
    name: String,
}

impl PgSchema {
    async fn create() -> Option<PgSchema> {
        use sqlx::Connection;
        if std::env::var("BIGCHAT_VOICE_SKIP_PG").is_ok_and(|v| v == "1") {
            eprintln!("BIGCHAT_VOICE_SKIP_PG=1: skipped");
            return None;
        }
        let base = std::env::var("BIGCHAT_VOICE_PG_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned());
        let mut admin = sqlx::PgConnection::connect(&base)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "PostgreSQL is not reachable at {base} ({e}); start it with `bash .ci/services`"
                )
            });
        let name = format!("cli_{:016x}", rand::random::<u64>());
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA \"{name}\"")))
            .execute(&mut admin)
            .await
            .unwrap();
        Some(PgSchema { admin, base, name })
    }

    /// The database URL with the schema first on the search path.
    fn url(&self) -> String {
        format!("{}?options=-csearch_path%3D{}", self.base, self.name)
    }

    async fn drop_schema(mut self) {
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP SCHEMA \"{}\" CASCADE",
            self.name
        )))
        .execute(&mut self.admin)
        .await
        .unwrap();
    }
}

/// `listen --replay` into PostgreSQL gives the same records as into SQLite.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_into_postgres_matches_sqlite() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    let pg = schema.url();
    let dir = tempfile::tempdir().unwrap();
    let lite = format!("sqlite://{}", dir.path().join("calls.db").display());
    for name in [
        "inbound-answered-recorded",
        "inbound-busy",
        "queue-answered",
        "outbound-click-to-call",
    ] {
        for db in [&pg, &lite, &pg] {
            let out = cmd()
                .args(["listen", "--database-url", db, "--replay"])
                .arg(captures().join(format!("{name}.server.ami")))
                .output()
                .await
                .unwrap();
            assert!(
                out.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let strip = |mut v: Vec<serde_json::Value>| {
        for r in &mut v {
            if let Some(o) = r.as_object_mut() {
                for k in ["id", "ticketId", "contactId", "asteriskId"] {
                    o.remove(k);
                }
            }
        }
        v.sort_by_key(|r| r["uniqueId"].as_str().unwrap_or_default().to_owned());
        v
    };
    let a = strip(calls(&pg).await);
    let b = strip(calls(&lite).await);
    assert_eq!(a.len(), 4);
    assert_eq!(a, b);
    schema.drop_schema().await;
}

/// `sync` ends records the PBX no longer has, creates live calls the
/// database does not know, prints a summary, and is idempotent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_reconciles_and_is_idempotent() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    // A record left live in the database: the daemon died mid-call.
    let capture = events_of("inbound-busy");
    let child = cmd()
        .args(["listen", "--database-url", &db])
        .args(server_args(&fake))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("login", || {
        !fake.actions_named("CoreShowChannels").is_empty()
    })
    .await;
    for m in capture.iter().take(6) {
        fake.emit_raw(m.clone()).await;
    }
    wait_calls(&db, "a ringing call", |c| {
        c.iter().any(|r| r["status"] == "ringing")
    })
    .await;
    sigterm(&child);
    let (code, err) = finish(child).await;
    assert_eq!(code, Some(0), "{err}");

    // Now the PBX has another call, and not that one.
    fake.set_reply(
        "CoreShowChannels",
        Reply::list(
            "CoreShowChannelsComplete",
            vec![event(
                "CoreShowChannel",
                &[
                    ("Channel", "PJSIP/trunk-00000077"),
                    ("ChannelState", "4"),
                    ("ChannelStateDesc", "Ring"),
                    ("CallerIDNum", "+5511999990077"),
                    ("Context", "from-trunk"),
                    ("Exten", "4000"),
                    ("Uniqueid", "1795519999.7"),
                    ("Linkedid", "1795519999.7"),
                    ("Application", "Dial"),
                    ("Duration", "00:00:05"),
                    ("BridgeId", ""),
                ],
            )],
        ),
    );
    let out = cmd()
        .args(["sync", "--database-url", &db])
        .args(server_args(&fake))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("1 created") && stdout.contains("1 ended"),
        "{stdout}"
    );
    let after = calls(&db).await;
    assert_eq!(after.len(), 2, "{after:?}");
    let old = after
        .iter()
        .find(|r| r["callerId"] != "+5511999990077")
        .unwrap();
    assert_ne!(old["status"], "ringing", "{old:?}");
    assert_eq!(old["reconciled"], true, "{old:?}");
    let new = after
        .iter()
        .find(|r| r["callerId"] == "+5511999990077")
        .unwrap();
    assert_eq!(new["uniqueId"], "1795519999.7");

    let out = cmd()
        .args(["sync", "--database-url", &db])
        .args(server_args(&fake))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("0 created") && stdout.contains("0 ended"),
        "{stdout}"
    );
    assert_eq!(calls(&db).await, after);
}

/// `events` tails the live stream with filters and stops after `--count`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_tail_filters_live_events() {
    let fake = fake().await;
    let child = cmd()
        .args([
            "events", "--event", "Hangup", "--match", "Cause=17", "--json", "--count", "1",
        ])
        .args(server_args(&fake))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_for("login", || {
        fake.session_count() > 0 && !fake.logins().is_empty()
    })
    .await;
    // Wait for the login to settle, then send the busy call: its agent leg
    // hangs up with cause 17.
    tokio::time::sleep(Duration::from_millis(300)).await;
    for m in events_of("inbound-busy") {
        fake.emit_raw(m).await;
    }
    let out = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .expect("events exits after --count")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "{stdout}");
    assert_eq!(lines[0]["Event"], "Hangup");
    assert_eq!(lines[0]["Cause"], "17");
}

/// A minimal HTTP endpoint that answers 200 to every POST and keeps what
/// it received: ((X-BigChat-Signature, X-BigChat-Timestamp, X-BigChat-Id), body).
type Received = std::sync::Arc<std::sync::Mutex<Vec<((String, String, String), Vec<u8>)>>>;

async fn webhook_receiver() -> (u16, Received) {
    use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let got = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let store = std::sync::Arc::clone(&got);
    tokio::spawn(async move {
        while let Ok((sock, _)) = listener.accept().await {
            let store = std::sync::Arc::clone(&store);
            tokio::spawn(async move {
                let mut sock = BufReader::new(sock);
                loop {
                    let (mut length, mut signature) = (0usize, String::new());
                    let (mut timestamp, mut id) = (String::new(), String::new());
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if sock.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return; // connection closed
                        }
                        let l = line.trim_end();
                        if l.is_empty() {
                            break;
                        }
                        if let Some((k, v)) = l.split_once(':') {
                            match k.to_ascii_lowercase().as_str() {
                                "content-length" => length = v.trim().parse().unwrap_or(0),
                                "x-bigchat-signature" => signature = v.trim().to_string(),
                                "x-bigchat-timestamp" => timestamp = v.trim().to_string(),
                                "x-bigchat-id" => id = v.trim().to_string(),
                                _ => {}
                            }
                        }
                    }
                    let mut body = vec![0; length];
                    if sock.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    store
                        .lock()
                        .unwrap()
                        .push(((signature, timestamp, id), body));
                    let ok = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if sock.get_mut().write_all(ok).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, got)
}

/// Two PBXs from one configuration file, each with its own user and secret
/// file, and the signed webhook: each PBX's call is stored under its own
/// `Asterisks` row and every notification reaches the webhook, signed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_from_the_config_file_and_the_webhook() {
    let first = fake().await;
    let second = FakeAsterisk::builder()
        .user("bigchat-b", "second-secret")
        .reply(
            "CoreShowChannels",
            Reply::list("CoreShowChannelsComplete", vec![]),
        )
        .start()
        .await
        .expect("second fake asterisk");
    let (hook_port, received) = webhook_receiver().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    std::fs::write(dir.path().join("a-secret"), format!("{SECRET}\n")).unwrap();
    std::fs::write(dir.path().join("b-secret"), "second-secret\n").unwrap();
    let config = dir.path().join("bigchat-voice.toml");
    std::fs::write(
        &config,
        format!(
            r#"companyId = 1
databaseUrl = "{db}"

[[asterisk]]
name = "pbx-a"
host = "127.0.0.1"
port = {port_a}
username = "bigchat"
secretFile = "{dir}/a-secret"

[[asterisk]]
name = "pbx-b"
host = "127.0.0.1"
port = {port_b}
username = "bigchat-b"
secretFile = "{dir}/b-secret"

[notify]
webhookUrl = "http://127.0.0.1:{hook_port}/voice"
"#,
            port_a = first.port(),
            port_b = second.port(),
            dir = dir.path().display(),
        ),
    )
    .unwrap();
    let child = cmd()
        .env_remove("BIGCHAT_VOICE_AMI_SECRET")
        .env("BIGCHAT_VOICE_WEBHOOK_SECRET", "hook-secret")
        .arg("--config")
        .arg(&config)
        .arg("listen")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for("both servers logged in and synced", || {
        !first.actions_named("CoreShowChannels").is_empty()
            && !second.actions_named("CoreShowChannels").is_empty()
    })
    .await;
    first
        .replay(
            captures().join("inbound-answered-recorded.server.ami"),
            ReplayOptions::default(),
        )
        .await
        .unwrap();
    second
        .replay(
            captures().join("inbound-busy.server.ami"),
            ReplayOptions::default(),
        )
        .await
        .unwrap();
    let got = wait_calls(&db, "one final call per server", |c| {
        c.len() == 2
            && c.iter()
                .all(|r| r["status"] == "completed" || r["status"] == "busy")
    })
    .await;
    let asterisk_of = |status: &str| {
        got.iter()
            .find(|r| r["status"] == status)
            .map(|r| r["asteriskId"].clone())
            .expect("call")
    };
    assert_ne!(asterisk_of("completed"), asterisk_of("busy"));
    wait_for("both final calls at the webhook", || {
        let got = received.lock().unwrap();
        let finals = got
            .iter()
            .filter(|(_, body)| {
                let text = String::from_utf8_lossy(body);
                text.contains("company-1-call")
                    && (text.contains("\"completed\"") || text.contains("\"busy\""))
            })
            .count();
        finals >= 2
    })
    .await;
    sigterm(&child);
    let (code, err) = finish(child).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(
        !err.contains("second-secret") && !err.contains("hook-secret"),
        "secret leaked: {err}"
    );

    let received = received.lock().unwrap().clone();
    let now = chrono::Utc::now().timestamp();
    for ((signature, timestamp, id), body) in &received {
        assert_eq!(
            bigchat_voice::notify::verify(b"hook-secret", timestamp, id, signature, body, now),
            Ok(()),
            "bad signature for {}",
            String::from_utf8_lossy(body)
        );
    }
    let rooms: Vec<String> = received
        .iter()
        .filter_map(|(_, b)| serde_json::from_slice::<serde_json::Value>(b).ok())
        .filter_map(|v| v["event"].as_str().map(str::to_owned))
        .collect();
    for room in ["company-1-call", "company-1-ticket", "company-1-asterisk"] {
        assert!(rooms.iter().any(|r| r == room), "no {room} in {rooms:?}");
    }
}

/// A fake Asterisk speaking AMI over TLS with the test-only certificate of
/// `ami-client/tests/data` (`localhost` / `127.0.0.1`, signed by `ca.pem`).
async fn tls_fake() -> (FakeAsterisk, PathBuf) {
    let fake = tls_fake_with("server").await;
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ami-client/tests/data");
    (fake, data.join("ca.pem"))
}

/// A fake Asterisk over TLS with `ami-client/tests/data/{name}.pem/.key`.
async fn tls_fake_with(name: &str) -> FakeAsterisk {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ami-client/tests/data");
    let cert = CertificateDer::from_pem_file(data.join(format!("{name}.pem"))).expect("cert");
    let key = PrivateKeyDer::from_pem_file(data.join(format!("{name}.key"))).expect("key");
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert], key)
    .unwrap();
    FakeAsterisk::builder()
        .user("bigchat", SECRET)
        .tls(std::sync::Arc::new(config))
        .reply(
            "CoreShowChannels",
            Reply::list("CoreShowChannelsComplete", vec![]),
        )
        .start()
        .await
        .expect("fake asterisk over TLS")
}

fn tls_config(dir: &Path, fake: &FakeAsterisk, db: &str) -> PathBuf {
    tls_config_with(dir, fake, db, "")
}

fn tls_config_with(dir: &Path, fake: &FakeAsterisk, db: &str, extra: &str) -> PathBuf {
    let path = dir.join("tls.toml");
    std::fs::write(
        &path,
        format!(
            r#"databaseUrl = "{db}"
[[asterisk]]
name = "pbx-tls"
host = "127.0.0.1"
port = {port}
username = "bigchat"
tls = true
{extra}
"#,
            port = fake.port()
        ),
    )
    .unwrap();
    path
}

/// `tls = true` with the PBX's CA in `BIGCHAT_VOICE_AMI_CA_FILE`: the daemon
/// logs in over TLS and stores the call; without that CA the certificate is
/// refused and nothing is sent in clear.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_over_tls_with_the_pbx_ca() {
    let (fake, ca) = tls_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let config = tls_config(dir.path(), &fake, &db);

    let untrusted = cmd()
        .arg("--config")
        .arg(&config)
        .arg("check")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&untrusted.stderr).to_lowercase();
    assert!(!untrusted.status.success(), "{err}");
    assert!(err.contains("certificate") || err.contains("tls"), "{err}");
    assert!(
        fake.actions_named("Login").is_empty(),
        "logged in without trust"
    );

    let child = cmd()
        .env("BIGCHAT_VOICE_AMI_CA_FILE", &ca)
        .arg("--config")
        .arg(&config)
        .arg("listen")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_synced(&fake, "sync over TLS").await;
    replay_answered_call(&fake, &db, "the call received over TLS").await;
    stop_cleanly(child).await;
}

/// A PBX with its own self-signed certificate (`openssl req -x509`,
/// CA:TRUE): refused even with that certificate as the CA file, trusted by
/// `tlsFingerprint`; a wrong pin is refused, naming the PBX's fingerprint;
/// a malformed one is a configuration error (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listen_over_tls_with_a_pinned_self_signed_certificate() {
    let fake = tls_fake_with("selfsigned").await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../ami-client/tests/data");
    let own = format!("tlsCaFile = {:?}", data.join("selfsigned.pem").display());
    let pin = "03:EF:61:35:A7:B7:39:A5:66:E2:E8:22:BA:CA:97:E8:75:AC:0E:00:14:9F:FD:CF:B7:10:13:DF:F9:CD:60:25";
    let check = |extra: String| {
        let config = tls_config_with(dir.path(), &fake, &db, &extra);
        async move {
            cmd()
                .arg("--config")
                .arg(&config)
                .arg("check")
                .output()
                .await
                .unwrap()
        }
    };
    let out = check(own).await;
    assert!(!out.status.success());
    assert!(
        fake.actions_named("Login").is_empty(),
        "logged in without trust"
    );
    let wrong = format!("tlsFingerprint = \"{}\"", "AB:".repeat(31) + "AB");
    let out = check(wrong).await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains(pin), "names the PBX's fingerprint: {err}");
    let bad = tls_config_with(
        dir.path(),
        &fake,
        &db,
        "tlsFingerprint = \"not-a-fingerprint\"",
    );
    let out = cmd()
        .arg("--config")
        .arg(&bad)
        .arg("listen")
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("tlsFingerprint"), "{err}");

    let config = tls_config_with(
        dir.path(),
        &fake,
        &db,
        &format!("tlsFingerprint = \"{pin}\""),
    );
    let child = cmd()
        .arg("--config")
        .arg(&config)
        .arg("listen")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_synced(&fake, "sync over pinned TLS").await;
    replay_answered_call(&fake, &db, "the call received over pinned TLS").await;
    stop_cleanly(child).await;
}

/// One of two PBXs is down when the daemon starts: the other one's calls
/// are still recorded (the dead one is retried, marked DISCONNECTED), and
/// SIGTERM still stops the daemon cleanly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_server_down_at_start_does_not_stop_the_others() {
    let up = fake().await;
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let config = dir.path().join("two.toml");
    std::fs::write(
        &config,
        format!(
            r#"databaseUrl = "{db}"
[[asterisk]]
name = "pbx-down"
host = "127.0.0.1"
port = {closed_port}
username = "bigchat"

[[asterisk]]
name = "pbx-up"
host = "127.0.0.1"
port = {up_port}
username = "bigchat"
"#,
            up_port = up.port()
        ),
    )
    .unwrap();
    let child = cmd()
        .arg("--config")
        .arg(&config)
        .arg("listen")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_synced(&up, "the healthy server synced").await;
    replay_answered_call(&up, &db, "the healthy server's call").await;
    let err = stop_cleanly(child).await;
    assert!(err.contains("pbx-down"), "the dead server is named: {err}");
}

/// Once the daemon is logged in (and its CONNECTED status written), takes
/// the SQLite file's write lock from another connection and plays the
/// recorded call: the daemon cannot store it. Returns the locking
/// connection (`ROLLBACK` on it releases the lock).
async fn lock_and_replay(fake: &FakeAsterisk, db: &str) -> sqlx::SqliteConnection {
    use sqlx::Connection as _;
    wait_synced(fake, "sync after login").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut other = sqlx::SqliteConnection::connect(db).await.unwrap();
    sqlx::query("BEGIN EXCLUSIVE")
        .execute(&mut other)
        .await
        .unwrap();
    fake.replay(
        captures().join("inbound-answered-recorded.server.ami"),
        ReplayOptions::default(),
    )
    .await
    .unwrap();
    other
}

/// The database stays locked by another program while calls arrive, then
/// SIGTERM: the daemon does not hang; it waits its grace period, says how
/// many effects were not stored, and exits 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_the_database_locked_exits_5_and_counts_what_was_lost() {
    let (fake, _dir, db, child) = daemon().await;
    let mut other = lock_and_replay(&fake, &db).await;
    // The PBX restarts meanwhile: the daemon reconnects and wants to
    // reconcile, which first waits for the queued effects to be stored.
    restart_and_relogin(
        &fake,
        Restart::new().refusing_for(Duration::from_millis(100)),
    )
    .await;
    // Past the status write's busy timeout (5 s): the daemon is now waiting
    // for the locked database before reconciling.
    tokio::time::sleep(Duration::from_secs(8)).await;
    let asked = std::time::Instant::now();
    sigterm(&child);
    let (code, err) = finish(child).await;
    assert!(asked.elapsed() < Duration::from_secs(55), "{err}");
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("not stored"), "{err}");
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
}

/// As above, with a second SIGTERM while the daemon waits for the locked
/// database: it stops at once (no panic), still saying how many effects
/// were not stored, exit 5.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_signal_while_the_database_is_locked_stops_at_once() {
    let (fake, _dir, db, child) = daemon().await;
    let mut other = lock_and_replay(&fake, &db).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    sigterm(&child);
    tokio::time::sleep(Duration::from_secs(1)).await;
    let asked = std::time::Instant::now();
    sigterm(&child);
    let (code, err) = finish(child).await;
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(code, Some(5), "{err}");
    assert!(err.contains("not stored"), "{err}");
    assert!(
        asked.elapsed() < Duration::from_secs(4),
        "the second signal did not stop it at once ({:?}): {err}",
        asked.elapsed()
    );
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
}

/// SIGKILL after the recording started (`VarSet MIXMONITOR_FILENAME`) but
/// before the answer: the daemon had stored only a ringing call, without
/// its recording. Restarted on the same journal, it knows the call again,
/// and the record ends complete, recording included, as if it had never
/// stopped.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_before_the_answer_loses_nothing_with_the_journal() {
    let (fake, _dir, db, child) = daemon().await;
    wait_synced(&fake, "sync after login").await;
    let capture = events_of("inbound-answered-recorded");
    let cut = capture
        .iter()
        .position(|m| m.windows(19).any(|w| w == b"MIXMONITOR_FILENAME"))
        .expect("the recording's VarSet")
        + 1;
    assert!(
        cut < after_bridge(&capture) - 2,
        "the cut is before the answer"
    );
    for m in &capture[..cut] {
        fake.emit_raw(m.clone()).await;
    }
    let ringing = wait_calls(&db, "the ringing call", |c| {
        c.iter().any(|r| r["status"] == "ringing")
    })
    .await;
    assert!(ringing[0]["recordingUrl"].is_null(), "{ringing:#?}");
    signal(&child, "-KILL");
    let _ = finish(child).await;

    // The same PBX, still in the call (no reconciliation: the fake's
    // CoreShowChannels would say it has no channels).
    let logins = fake.logins().len();
    let child = cmd()
        .args(["listen", "--no-sync", "--database-url", &db])
        .args(server_args(&fake))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for("the second login", || fake.logins().len() > logins).await;
    for m in &capture[cut..] {
        fake.emit_raw(m.clone()).await;
    }
    let calls = wait_completed(&db, "the call completed after the restart").await;
    let err = stop_cleanly(child).await;
    assert!(err.contains("journal replayed"), "{err}");
    assert_eq!(calls.len(), 1, "{calls:#?}");
    let call = &calls[0];
    assert_eq!(
        call["recordingFile"], "/var/spool/asterisk/monitor/1795515777.0.wav",
        "{call:#?}"
    );
    let url = call["recordingUrl"].as_str().unwrap_or_default();
    assert!(
        url.starts_with("recordings/company-1/") && url.ends_with("/1795515777.0.wav"),
        "{call:#?}"
    );
    // Answered by the agent, ended by the PBX's own hangup (the fake sends
    // the events without times: durations are not what this checks).
    assert_eq!(call["agentExtension"], "1001", "{call:#?}");
    assert!(call["answeredAt"].is_string(), "{call:#?}");
    assert_eq!(call["hangupCause"], 16, "{call:#?}");
    assert_eq!(call["reconciled"], false, "{call:#?}");
}

/// The SQLite file moved away while calls arrive (SQLite itself would go
/// on writing into the moved file): the daemon says so at ERROR, keeps the
/// effects, and stores them once the file is back; nothing is lost or
/// written elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_moved_away_is_waited_for() {
    let (fake, dir, db, child) = daemon().await;
    wait_synced(&fake, "sync after login").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let path = dir.path().join("calls.db");
    let away = dir.path().join("calls.db.away");
    std::fs::rename(&path, &away).unwrap();
    fake.replay(
        captures().join("inbound-answered-recorded.server.ami"),
        ReplayOptions::default(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!path.exists(), "no new database created in its place");
    std::fs::rename(&away, &path).unwrap();
    let calls = wait_completed(&db, "the call once the file is back").await;
    assert_eq!(calls.len(), 1, "{calls:#?}");
    assert!(calls[0]["recordingUrl"].is_string(), "{calls:#?}");
    let err = stop_cleanly(child).await;
    assert!(err.contains("database file is gone"), "{err}");
    assert!(err.contains("writable again"), "{err}");
}

/// SIGHUP: the daemon goes on (it used to die, exit 129) and reopens its
/// notification file, so logrotate loses nothing: lines before the
/// rotation are in the moved file, the rest in the new one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reopens_the_notification_file_and_loses_nothing() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let file = dir.path().join("events.jsonl");
    let rotated = dir.path().join("events.jsonl.1");
    let child = cmd()
        .args(["listen", "--database-url", &db])
        .arg("--notify-file")
        .arg(&file)
        .args(server_args(&fake))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_synced(&fake, "sync after login").await;
    wait_for("the CONNECTED notification", || {
        std::fs::read_to_string(&file).is_ok_and(|t| t.contains("CONNECTED"))
    })
    .await;
    std::fs::rename(&file, &rotated).unwrap();
    signal(&child, "-HUP");
    wait_for("the new file", || file.exists()).await;
    replay_answered_call(&fake, &db, "the call after the rotation").await;
    let err = stop_cleanly(child).await;
    assert!(err.contains("SIGHUP"), "{err}");
    let before = std::fs::read_to_string(&rotated).unwrap();
    let after = std::fs::read_to_string(&file).unwrap();
    assert!(before.contains("company-1-asterisk"), "{before}");
    assert!(!before.contains("company-1-call"), "{before}");
    assert!(after.contains("\"completed\""), "{after}");
}

/// A record left live in the database (the daemon was down when the call
/// ended) is closed by the sync at start, and that reaches the agents'
/// screens like any other end of call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_closed_by_the_startup_sync_are_published() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    // The first half of a call, recorded while the daemon ran.
    let capture = events_of("inbound-answered-recorded");
    let mut half = b"Asterisk Call Manager/11.0.0\r\n".to_vec();
    for m in &capture[..after_bridge(&capture)] {
        half.extend_from_slice(m);
    }
    let half_file = dir.path().join("half.server.ami");
    std::fs::write(&half_file, half).unwrap();
    let out = cmd()
        .args([
            "-q",
            "listen",
            "--database-url",
            &db,
            "--server",
            "127.0.0.1",
        ])
        .arg("--replay")
        .arg(&half_file)
        .output()
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    wait_calls(&db, "a live answered record", |c| {
        c.iter().any(|r| r["status"] == "answered")
    })
    .await;

    // The daemon comes back; the PBX no longer has the call.
    let fake = fake().await;
    let notes = dir.path().join("notes.jsonl");
    let child = cmd()
        .args(["listen", "--database-url", &db])
        .args(server_args(&fake))
        .arg("--notify-file")
        .arg(&notes)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    wait_completed(&db, "the record closed").await;
    stop_cleanly(child).await;
    let notes = std::fs::read_to_string(&notes).unwrap();
    let closed = notes.lines().any(|l| {
        l.contains("company-1-call") && l.contains("1795515777.0") && l.contains("\"completed\"")
    });
    assert!(closed, "{notes}");
}

/// The AMI link drops (no Shutdown event) while a call is up, and the call
/// ends while the daemon cannot see: after the reconnect the call is ended
/// at the moment the link was lost, not when it came back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_gone_during_an_outage_ends_when_the_link_was_lost() {
    let (fake, _dir, db, child) = daemon().await;
    wait_synced(&fake, "login").await;
    play_until_answered(&fake, &db).await;
    let lost = chrono::Utc::now();
    restart_and_relogin(&fake, Restart::new().refusing_for(Duration::from_secs(3))).await;
    let got = wait_completed(&db, "the call ended").await;
    let ended: chrono::DateTime<chrono::Utc> = got[0]["endedAt"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("endedAt");
    let err = stop_cleanly(child).await;
    assert!(
        ended <= lost + chrono::Duration::seconds(1),
        "ended {ended}, link lost at {lost}\n{err}"
    );
}

/// `n` copies of the answered and recorded inbound call (ids, channel
/// names, bridge and recording rewritten), interleaved message by message
/// in an order drawn from `seed`: a busy PBX's session.
fn interleaved_calls(n: usize, seed: u64) -> Vec<Bytes> {
    let one = events_of("inbound-answered-recorded");
    let copies: Vec<Vec<Bytes>> = (0..n)
        .map(|i| {
            one.iter()
                .map(|m| {
                    let text = String::from_utf8(m.to_vec()).expect("utf-8 capture");
                    Bytes::from(
                        text.replace("1795515777.", &format!("{}.", 1_700_000_000 + i))
                            .replace("-0000000", &format!("-{i:04x}000"))
                            .replace(
                                "a416ddf6-3284-4365-b75e-8c0ec3896a2d",
                                &format!("a416ddf6-3284-4365-b75e-{i:012}"),
                            ),
                    )
                })
                .collect()
        })
        .collect();
    let mut rng = XorShift(seed | 1);
    let mut pos = vec![0usize; n];
    let mut out = Vec::new();
    loop {
        let open: Vec<usize> = (0..n).filter(|&i| pos[i] < copies[i].len()).collect();
        if open.is_empty() {
            return out;
        }
        let i = open[rng.below(open.len())];
        out.push(copies[i][pos[i]].clone());
        pos[i] += 1;
    }
}

/// A small, seeded random source (the test's cuts are reproducible).
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

/// What a stored call says, without its times (a restarted daemon sees
/// the later events later): status, parties, recording, cause, flag.
fn essence_of(calls: &[serde_json::Value]) -> std::collections::BTreeMap<String, String> {
    calls
        .iter()
        .map(|c| {
            let id = c["uniqueId"].as_str().unwrap_or_default().to_owned();
            let v = [
                "status",
                "direction",
                "callerId",
                "agentExtension",
                "recordingUrl",
                "recordingFile",
                "hangupCause",
                "reconciled",
            ]
            .iter()
            .map(|k| c[*k].to_string())
            .collect::<Vec<_>>()
            .join(" ");
            (id, v)
        })
        .collect()
}

/// Rows of one table of the SQLite file at `db`.
async fn count_rows(db: &str, table: &str) -> i64 {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(db).await.expect("open");
    let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT COUNT(*) FROM \"{table}\""
    )))
    .fetch_one(&mut conn)
    .await
    .expect("count");
    n
}

/// SIGKILL at seeded random points of a 10-call interleaved session (three
/// kills, each followed by a restart on the same journal; the PBX goes on
/// where the dropped connection stopped): the database ends with exactly
/// the records of an uninterrupted run — recordings included — and one
/// message and one tracking row per call, nothing doubled. Three seeds;
/// set `BIGCHAT_VOICE_TEST_SEED` to try other cuts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_points_ends_with_the_records_of_a_clean_run() {
    let first: u64 = std::env::var("BIGCHAT_VOICE_TEST_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0x5eed_2026);
    for seed in first..first + 3 {
        killed_three_times(seed).await;
    }
}

async fn killed_three_times(seed: u64) {
    const CALLS: usize = 10;
    let session = interleaved_calls(CALLS, seed);
    let all_completed =
        |c: &[serde_json::Value]| c.len() == CALLS && c.iter().all(|r| r["status"] == "completed");
    let listen = |db: &str, fake: &FakeAsterisk| {
        cmd()
            .args(["listen", "--no-sync", "--database-url", db])
            .args(server_args(fake))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };

    // The uninterrupted run.
    let pbx = fake().await;
    let clean_dir = tempfile::tempdir().unwrap();
    let clean_db = format!("sqlite://{}", clean_dir.path().join("calls.db").display());
    let child = listen(&clean_db, &pbx);
    wait_for("login", || !pbx.logins().is_empty()).await;
    for m in &session {
        pbx.emit_raw(m.clone()).await;
    }
    let want = wait_calls(&clean_db, "the clean run", all_completed).await;
    stop_cleanly(child).await;
    drop(pbx);

    // Killed three times.
    let mut rng = XorShift(seed.rotate_left(17) | 1);
    let mut cuts: Vec<usize> = (0..3).map(|_| 1 + rng.below(session.len() - 1)).collect();
    cuts.sort_unstable();
    cuts.push(session.len());
    let pbx = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let mut from = 0;
    let mut child = None;
    for (round, &cut) in cuts.iter().enumerate() {
        let logins = pbx.logins().len();
        child = Some(listen(&db, &pbx));
        wait_for("login", || pbx.logins().len() > logins).await;
        for m in &session[from..cut] {
            pbx.emit_raw(m.clone()).await;
        }
        from = cut;
        if round < 3 {
            // Read (and so journaled) before it dies.
            tokio::time::sleep(Duration::from_millis(300)).await;
            let c = child.take().expect("running");
            signal(&c, "-KILL");
            let _ = finish(c).await;
        }
    }
    let got = wait_calls(&db, "the calls after three kills", all_completed).await;
    stop_cleanly(child.expect("running")).await;
    assert_eq!(
        essence_of(&got),
        essence_of(&want),
        "seed {seed}, cuts {cuts:?}"
    );
    for table in ["Messages", "TicketTraking", "Contacts", "Tickets"] {
        assert_eq!(
            count_rows(&db, table).await,
            count_rows(&clean_db, table).await,
            "{table} (seed {seed}, cuts {cuts:?})"
        );
    }
}

/// A TCP proxy in front of PostgreSQL that can play "the server stopped":
/// while down, its connections are cut and new ones closed at once.
struct PgProxy {
    port: u16,
    down: std::sync::Arc<std::sync::atomic::AtomicBool>,
    links: std::sync::Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl PgProxy {
    async fn start(target: String) -> PgProxy {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let down = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let links = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let (d, l) = (down.clone(), links.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if d.load(std::sync::atomic::Ordering::SeqCst) {
                    continue; // dropped: refused, as a stopped server
                }
                let target = target.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = tokio::net::TcpStream::connect(&target).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                l.lock().expect("links").push(link);
            }
        });
        PgProxy { port, down, links }
    }

    fn set_down(&self, down: bool) {
        self.down.store(down, std::sync::atomic::Ordering::SeqCst);
        if down {
            for link in self.links.lock().expect("links").drain(..) {
                link.abort();
            }
        }
    }
}

/// PostgreSQL stopped for 4 s while a burst of 60 calls arrives: the
/// daemon goes on reading and journaling, stores everything once the
/// database is back, and ends with exactly the records of a clean run
/// (recordings included), with no event lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_during_a_burst_loses_nothing() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    const CALLS: usize = 60;
    let session = interleaved_calls(CALLS, 7);
    let all_completed =
        |c: &[serde_json::Value]| c.len() == CALLS && c.iter().all(|r| r["status"] == "completed");

    // The clean run, on SQLite.
    let pbx = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let lite = format!("sqlite://{}", dir.path().join("calls.db").display());
    let child = cmd()
        .args(["listen", "--no-sync", "--database-url", &lite])
        .args(server_args(&pbx))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for("login", || !pbx.logins().is_empty()).await;
    for m in &session {
        pbx.emit_raw(m.clone()).await;
    }
    let want = wait_calls(&lite, "the clean run", all_completed).await;
    stop_cleanly(child).await;
    drop(pbx);

    let base = schema.base.clone();
    let target = base
        .split('@')
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or("127.0.0.1:5432")
        .to_owned();
    let proxy = PgProxy::start(target.clone()).await;
    let direct = schema.url();
    let via_proxy = direct.replacen(&target, &format!("127.0.0.1:{}", proxy.port), 1);
    let pbx = fake().await;
    let api = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let child = cmd()
        .args(["listen", "--no-sync", "--database-url", &via_proxy])
        .arg("--journal-dir")
        .arg(dir.path().join("pg-journal"))
        .args(["--api", &format!("127.0.0.1:{api}")])
        .args(server_args(&pbx))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for("login", || !pbx.logins().is_empty()).await;
    proxy.set_down(true);
    for m in &session {
        pbx.emit_raw(m.clone()).await;
    }
    // The outage shows in /readyz: degraded, and still ready (journaled).
    let mut seen = None;
    for _ in 0..40 {
        let (status, body) = http_get(api, "/readyz", None).await;
        if body.contains("\"degraded\"") {
            seen = Some(status);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(seen, Some(200), "readyz said degraded, still ready");
    tokio::time::sleep(Duration::from_secs(1)).await;
    proxy.set_down(false);
    let got = wait_calls(&direct, "the calls after the outage", all_completed).await;
    let (_, body) = http_get(api, "/readyz", None).await;
    assert!(body.contains("\"database\":\"ok\""), "back to ok: {body}");
    let err = stop_cleanly(child).await;
    assert!(
        err.contains("database unavailable"),
        "the outage was seen:\n{err}"
    );
    assert!(!err.contains("events lost"), "{err}");
    assert_eq!(essence_of(&got), essence_of(&want), "{err}");
    schema.drop_schema().await;
}

/// SIGKILL during a quiet conversation (no events for 3 s), and the call
/// ends while the daemon is down: after the restart, reconciliation ends
/// it no earlier than the kill — the journal's once-a-second marks say
/// until when the daemon saw it alive — not at its last event (which
/// would make it a call of no talk time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_that_ends_while_the_daemon_is_killed_keeps_its_talk_time() {
    let (pbx, _dir, db, child) = daemon().await;
    wait_synced(&pbx, "login").await;
    play_until_answered(&pbx, &db).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed = chrono::Utc::now();
    signal(&child, "-KILL");
    let _ = finish(child).await;
    // Restarted: the PBX no longer has the call (the fake lists no channels).
    let syncs = pbx.actions_named("CoreShowChannels").len();
    let child = cmd()
        .args(["listen", "--database-url", &db])
        .args(server_args(&pbx))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for("the sync after the restart", || {
        pbx.actions_named("CoreShowChannels").len() > syncs
    })
    .await;
    let got = wait_calls(&db, "the call ended by reconciliation", |c| {
        c.iter().any(|r| r["status"] == "completed")
    })
    .await;
    let err = stop_cleanly(child).await;
    let call = &got[0];
    assert_eq!(call["reconciled"], true, "{call:#?}");
    let ended: chrono::DateTime<chrono::Utc> = call["endedAt"]
        .as_str()
        .and_then(|t| t.parse().ok())
        .expect("endedAt");
    assert!(
        ended >= killed - chrono::Duration::milliseconds(1200) && ended <= killed,
        "ended {ended}, killed {killed}\n{call:#?}\n{err}"
    );
    assert!(call["talkTime"].as_i64().unwrap_or(0) >= 2, "{call:#?}");
}

/// SIGHUP reads the `[tracker]` section again: a call answered by 1001
/// after the reload goes to the user the new mapping names; one before it,
/// to the old one. A section that no longer parses is refused and the
/// running mapping kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_the_user_mapping() {
    let pbx = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bigchat-voice.toml");
    std::fs::write(&config, "[tracker.users]\n\"1001\" = 7\n").unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let child = cmd()
        .args(["--config", &config.display().to_string()])
        .args(["listen", "--no-sync", "--database-url", &db])
        .args(server_args(&pbx))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_for("login", || !pbx.logins().is_empty()).await;
    let calls = interleaved_calls(3, 1);
    // interleaved_calls(3, …) mixes three calls; send them one at a time.
    let by_call = |i: usize| -> Vec<Bytes> {
        let id = format!("{}.", 1_700_000_000 + i);
        calls
            .iter()
            .filter(|m| m.windows(id.len()).any(|w| w == id.as_bytes()))
            .cloned()
            .collect()
    };
    let answered_by = |c: &[serde_json::Value], i: usize| {
        let id = format!("{}.0", 1_700_000_000 + i);
        c.iter()
            .find(|r| r["uniqueId"] == id.as_str() && r["status"] == "completed")
            .map(|r| r["userId"].clone())
    };
    for m in by_call(0) {
        pbx.emit_raw(m).await;
    }
    let got = wait_calls(&db, "the first call", |c| answered_by(c, 0).is_some()).await;
    assert_eq!(answered_by(&got, 0), Some(serde_json::json!(7)));

    std::fs::write(&config, "[tracker.users]\n\"1001\" = 8\n").unwrap();
    signal(&child, "-HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for m in by_call(1) {
        pbx.emit_raw(m).await;
    }
    let got = wait_calls(&db, "the second call", |c| answered_by(c, 1).is_some()).await;
    assert_eq!(answered_by(&got, 1), Some(serde_json::json!(8)));

    std::fs::write(&config, "[tracker.users\n").unwrap();
    signal(&child, "-HUP");
    tokio::time::sleep(Duration::from_millis(500)).await;
    for m in by_call(2) {
        pbx.emit_raw(m).await;
    }
    let got = wait_calls(&db, "the third call", |c| answered_by(c, 2).is_some()).await;
    assert_eq!(answered_by(&got, 2), Some(serde_json::json!(8)), "kept");
    let err = stop_cleanly(child).await;
    assert!(err.contains("user mapping reloaded"), "{err}");
    assert!(err.contains("configuration not reloaded"), "{err}");
}

/// The SQLite file and its WAL made immutable for 2 s (`chattr +i`) while
/// a call arrives: writes fail, the daemon keeps the effects (and the
/// journal the frames) and stores them once the files are writable again;
/// the call ends complete, recording included. Needs root and a file
/// system with the immutable flag; says so and skips otherwise.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_file_read_only_for_a_while_is_waited_for() {
    let (pbx, dir, db, child) = daemon().await;
    wait_synced(&pbx, "sync after login").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let files: Vec<PathBuf> = ["calls.db", "calls.db-wal", "calls.db-shm"]
        .iter()
        .map(|f| dir.path().join(f))
        .filter(|p| p.exists())
        .collect();
    let chattr = |flag: &str| {
        std::process::Command::new("chattr")
            .arg(flag)
            .args(&files)
            .status()
            .is_ok_and(|s| s.success())
    };
    if !chattr("+i") {
        eprintln!("chattr +i is not available here (root and ext4 needed): skipped");
        stop_cleanly(child).await;
        return;
    }
    // Writable again even if the test fails (or the directory could not
    // be removed).
    struct Unfreeze(Vec<PathBuf>);
    impl Drop for Unfreeze {
        fn drop(&mut self) {
            let _ = std::process::Command::new("chattr")
                .arg("-i")
                .args(&self.0)
                .status();
        }
    }
    let _unfreeze = Unfreeze(files.clone());
    pbx.replay(
        captures().join("inbound-answered-recorded.server.ami"),
        ReplayOptions::default(),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(chattr("-i"), "chattr -i");
    let got = wait_completed(&db, "the call once the file is writable").await;
    assert_eq!(got.len(), 1, "{got:#?}");
    assert!(got[0]["recordingUrl"].is_string(), "{got:#?}");
    assert_eq!(got[0]["agentExtension"], "1001", "{got:#?}");
    let err = stop_cleanly(child).await;
    assert!(
        err.contains("will retry") || err.contains("unavailable"),
        "{err}"
    );
}

/// A GET over plain HTTP/1.1: (status, body).
async fn http_get(port: u16, path: &str, token: Option<&str>) -> (u16, String) {
    http(port, "GET", path, token, &[], None).await
}

/// One HTTP/1.1 request to the API on `port`: (status, body).
async fn http(
    port: u16,
    method: &str,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<&serde_json::Value>,
) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect to the API");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
    if let Some(t) = token {
        head.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    if method != "GET" {
        head.push_str(&format!(
            "Content-Type: application/json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    head.push_str("\r\n");
    head.push_str(&body);
    sock.write_all(head.as_bytes()).await.expect("send");
    let mut text = String::new();
    sock.read_to_string(&mut text).await.expect("read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// A port free now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

/// `listen --api`: `/healthz` answers without a token, `/readyz` and
/// `/metrics` need it; ready once logged in; the metrics count the call.
/// Beyond loopback without a token the daemon refuses to start (exit 2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_says_alive_ready_and_counts() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let pbx = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let child = cmd()
        .env("BIGCHAT_VOICE_API_TOKEN", "api-token-1")
        .args(["listen", "--database-url", &db])
        .args(["--api", &format!("127.0.0.1:{port}")])
        .args(server_args(&pbx))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_synced(&pbx, "login").await;
    let (status, body) = http_get(port, "/healthz", None).await;
    assert_eq!((status, body.trim()), (200, "ok"));
    assert_eq!(http_get(port, "/readyz", None).await.0, 401);
    assert_eq!(http_get(port, "/metrics", Some("wrong")).await.0, 401);
    let (status, body) = http_get(port, "/readyz", Some("api-token-1")).await;
    assert_eq!(status, 200, "{body}");
    let ready: serde_json::Value = serde_json::from_str(body.trim()).expect("json");
    assert_eq!(ready["ready"], true, "{ready}");
    assert_eq!(ready["servers"][0]["connected"], true, "{ready}");
    assert_eq!(ready["database"], "ok", "{ready}");
    pbx.replay(
        captures().join("inbound-answered-recorded.server.ami"),
        ReplayOptions::default(),
    )
    .await
    .unwrap();
    wait_completed(&db, "the call").await;
    let (status, metrics) = http_get(port, "/metrics", Some("api-token-1")).await;
    assert_eq!(status, 200);
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no {name} in\n{metrics}"))
    };
    assert!(
        value("bigchat_voice_frames_total{server=") > 50,
        "{metrics}"
    );
    assert!(
        value("bigchat_voice_effects_stored_total") >= 3,
        "{metrics}"
    );
    assert_eq!(value("bigchat_voice_live_calls{server="), 0, "{metrics}");
    assert_eq!(value("bigchat_voice_connected{server="), 1, "{metrics}");
    assert_eq!(value("bigchat_voice_events_lost_total"), 0, "{metrics}");
    let err = stop_cleanly(child).await;
    assert!(
        !err.contains("api-token-1"),
        "the token is never logged: {err}"
    );

    // Beyond loopback, no token: refused.
    let out = cmd()
        .args(["listen", "--database-url", &db, "--api", "0.0.0.0:0"])
        .args(server_args(&pbx))
        .output()
        .await
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs a token"));
}

/// `hangup CALL`: every channel the PBX lists for the call's Linkedid gets
/// a `Hangup` (the recorded `CoreShowChannels` reply of a real Asterisk);
/// a call the PBX does not have is refused (exit 6), and so is a `Hangup`
/// the PBX refuses, with its own message.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hangup_hangs_up_every_channel_of_the_call() {
    let channels = channels_of_call("1795516055.77");
    assert_eq!(channels.len(), 2);
    let pbx = FakeAsterisk::builder()
        .user("bigchat", SECRET)
        .reply(
            "CoreShowChannels",
            Reply::list("CoreShowChannelsComplete", channels),
        )
        .reply("Hangup", Reply::success(&[]))
        .start()
        .await
        .expect("fake asterisk");
    let out = cmd()
        .args(["hangup", "1795516055.77"])
        .args(server_args(&pbx))
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hung: Vec<String> = pbx
        .actions_named("Hangup")
        .iter()
        .filter_map(|a| a.message.get("Channel").map(|c| c.to_string()))
        .collect();
    assert_eq!(hung, ["PJSIP/agent1001-0000004e", "PJSIP/trunk-0000004d"]);
    assert!(stdout.contains("PJSIP/trunk-0000004d"), "{stdout}");

    let out = cmd()
        .args(["hangup", "1795599999.1"])
        .args(server_args(&pbx))
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no call"));

    pbx.set_reply("Hangup", Reply::error("No such channel"));
    let out = cmd()
        .args(["hangup", "1795516055.77"])
        .args(server_args(&pbx))
        .output()
        .await
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(6), "{err}");
    assert!(err.contains("No such channel"), "{err}");
}

/// The CoreShowChannel items a real Asterisk listed for a bridged call
/// (`protocol-misc`, its Linkedid `1795516055.77`), given the Linkedid
/// `linkedid`, without the capture's own ActionID (the fake answers with
/// the client's).
fn channels_of_call(linkedid: &str) -> Vec<ami_client::ami_proto::Message> {
    load_capture(
        &captures().join("protocol-misc.server.ami"),
        &ReplayOptions {
            pace: None,
            events_only: true,
        },
    )
    .expect("capture")
    .messages
    .into_iter()
    .filter_map(|m| {
        let text = String::from_utf8_lossy(&m.bytes).into_owned();
        let kept: String = text
            .split_inclusive("\r\n")
            .filter(|l| !l.starts_with("ActionID:"))
            .collect::<String>()
            .replace("1795516055.77", linkedid);
        ami_client::ami_proto::Message::parse(kept.as_bytes())
    })
    .filter(|m| m.is_event("CoreShowChannel"))
    .collect()
}

/// The recorded click-to-call (`outbound-click-to-call`) as a real
/// Asterisk reports it for an Originate with `ChannelId: {id}`: the first
/// channel's Uniqueid, which is also the call's Linkedid, is `id`. Split
/// after the parties are bridged: (up to the answer, the rest).
fn click_to_call_as(id: &str) -> (Vec<Bytes>, Vec<Bytes>) {
    let events: Vec<Bytes> = events_of("outbound-click-to-call")
        .into_iter()
        .filter(|m| {
            !m.starts_with(b"Event: FullyBooted") && !m.starts_with(b"Event: SuccessfulAuth")
        })
        .map(|m| {
            Bytes::from(
                String::from_utf8_lossy(&m)
                    .replace("1795515825.10", id)
                    .into_bytes(),
            )
        })
        .collect();
    let cut = after_bridge(&events);
    (events[..cut].to_vec(), events[cut..].to_vec())
}

fn json_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body.trim()).unwrap_or_else(|e| panic!("{e}: {body:?}"))
}

/// The control API end to end on the fake Asterisk: click-to-call with an
/// idempotency key that holds across a daemon restart, scoped tokens (a
/// company never sees or acts on another's call; a user only on its own),
/// list and get, blind and attended transfer from the agent's channel,
/// hang up, every bad request a 4xx naming the field, the PBX's refusal
/// with its own words, and 503 while the PBX is away.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_api_places_transfers_and_hangs_up_calls() {
    let pbx = fake().await;
    pbx.set_reply(
        "Originate",
        Reply::success(&[("Message", "Originate successfully queued")]),
    );
    for action in ["BlindTransfer", "Atxfer", "CancelAtxfer", "Hangup"] {
        pbx.set_reply(action, Reply::success(&[]));
    }
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let mut tokens = String::new();
    for (name, company, user) in [
        ("company1", 1, None),
        ("company2", 2, None),
        ("user7", 1, Some(7)),
        ("user8", 1, Some(8)),
    ] {
        let file = dir.path().join(format!("{name}.token"));
        std::fs::write(&file, format!("{name}-secret-token\n")).unwrap();
        tokens.push_str(&format!(
            "[[api.tokens]]\ntokenFile = {:?}\ncompanyId = {company}\n{}\n",
            file.display(),
            user.map_or(String::new(), |u| format!("userId = {u}"))
        ));
    }
    let config = dir.path().join("voice.toml");
    std::fs::write(
        &config,
        format!(
            "companyId = 1\n[tracker]\nusers = {{ \"1001\" = 7 }}\n\
             [control]\nqueueExtensions = {{ support = \"4000\" }}\n{tokens}"
        ),
    )
    .unwrap();
    let port = free_port();
    let start = || {
        cmd()
            .env("BIGCHAT_VOICE_API_TOKEN", "admin-secret-token")
            .args(["listen", "--database-url", &db, "--config"])
            .arg(&config)
            .args(["--api", &format!("127.0.0.1:{port}")])
            .args(server_args(&pbx))
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
    };
    let child = start();
    wait_synced(&pbx, "login").await;
    let admin = Some("admin-secret-token");
    let other_company = Some("company2-secret-token");
    let post = |path: &'static str,
                token: Option<&'static str>,
                key: Option<&'static str>,
                body: serde_json::Value| async move {
        let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        http(port, "POST", path, token, &headers, Some(&body)).await
    };
    let call_body =
        serde_json::json!({ "from": "1001", "to": "+55 11 99999-0002", "ticketId": null });

    // Bad requests: 4xx naming the field; nothing reaches the PBX.
    for (body, field) in [
        (serde_json::json!({ "from": "1001" }), "to"),
        (serde_json::json!({ "from": "1001", "to": "12" }), "to"),
        (
            serde_json::json!({ "from": "10 01", "to": "+5511999990002" }),
            "from",
        ),
        (
            serde_json::json!({ "from": "1001", "to": "+5511999990002", "colour": 1 }),
            "colour",
        ),
        (
            serde_json::json!({ "from": "1001", "to": "+5511999990002", "variables": { "SHELL(x)": "1" } }),
            "variables",
        ),
        (
            serde_json::json!({ "from": "1001", "to": "+5511999990002", "variables": { "BIGCHAT_TICKET": "7" } }),
            "reserved",
        ),
        (
            serde_json::json!({ "from": "1001", "to": "+5511999990002", "variables": { "__MIXMONITOR_FILENAME": "/x" } }),
            "reserved",
        ),
        (
            serde_json::json!({ "from": "1001", "to": "+5511999990002", "timeoutSecs": 0 }),
            "timeout",
        ),
        (
            serde_json::json!({ "from": "1001", "to": "+5511999990002", "ticketId": 999 }),
            "ticket",
        ),
    ] {
        let (status, reply) = post("/v1/calls", admin, None, body.clone()).await;
        assert!((400..500).contains(&status), "{body}: {status} {reply}");
        let reply = json_of(&reply);
        assert!(
            reply["error"].as_str().unwrap_or_default().contains(field),
            "{body}: {reply}"
        );
    }
    assert_eq!(
        post("/v1/calls", None, None, call_body.clone()).await.0,
        401
    );
    // Another company has no server here; a user may not call from
    // another user's extension.
    assert_eq!(
        post("/v1/calls", other_company, Some("k-1"), call_body.clone())
            .await
            .0,
        404
    );
    let (status, reply) = post(
        "/v1/calls",
        Some("user8-secret-token"),
        Some("k-1"),
        call_body.clone(),
    )
    .await;
    assert_eq!(status, 403, "{reply}");
    assert!(pbx.actions_named("Originate").is_empty());

    // Placed once, whatever the retries.
    let (status, reply) = post(
        "/v1/calls",
        Some("user7-secret-token"),
        Some("k-1"),
        call_body.clone(),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let placed = json_of(&reply);
    let id = placed["uniqueId"].as_str().expect("uniqueId").to_owned();
    assert_eq!(placed["replayed"], false);
    assert_eq!(placed["call"]["status"], "ringing", "{placed}");
    assert_eq!(placed["call"]["userId"], 7, "{placed}");
    let sent = pbx.actions_named("Originate");
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].get("ChannelId").as_deref(), Some(id.as_str()));
    assert_eq!(sent[0].get("Exten").as_deref(), Some("+5511999990002"));
    let (status, reply) = post("/v1/calls", admin, Some("k-1"), call_body.clone()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(json_of(&reply)["uniqueId"], id.as_str());
    assert_eq!(json_of(&reply)["replayed"], true);
    let other = serde_json::json!({ "from": "1001", "to": "+5511999990003" });
    let (status, reply) = post("/v1/calls", admin, Some("k-1"), other).await;
    assert_eq!(status, 422, "{reply}");
    assert_eq!(json_of(&reply)["code"], "key_reused");
    assert_eq!(pbx.actions_named("Originate").len(), 1);

    // The PBX reports the call as it reported the recorded one.
    let (answered, rest) = click_to_call_as(&id);
    for m in answered {
        pbx.emit_raw(m).await;
    }
    wait_calls(&db, "the placed call answered", |c| {
        c.iter()
            .any(|r| r["uniqueId"] == id.as_str() && r["status"] == "answered")
    })
    .await;

    // List and get, scoped.
    let path = format!("/v1/calls/{id}");
    let (status, reply) = http_get(port, &path, Some("company1-secret-token")).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(json_of(&reply)["call"]["agentExtension"], "1001");
    assert_eq!(http_get(port, &path, other_company).await.0, 404);
    assert_eq!(
        http_get(port, &path, Some("user8-secret-token")).await.0,
        404
    );
    assert_eq!(
        http_get(port, &path, Some("user7-secret-token")).await.0,
        200
    );
    assert_eq!(http_get(port, "/v1/calls/1795599999.1", admin).await.0, 404);
    let (status, reply) = http_get(port, "/v1/calls?status=answered&limit=10", admin).await;
    assert_eq!(status, 200, "{reply}");
    let listed = json_of(&reply);
    assert_eq!(
        listed["calls"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    let (_, reply) = http_get(port, "/v1/calls", other_company).await;
    assert_eq!(json_of(&reply)["calls"], serde_json::json!([]));
    let (_, reply) = http_get(port, "/v1/calls", Some("user8-secret-token")).await;
    assert_eq!(json_of(&reply)["calls"], serde_json::json!([]));
    for bad in ["status=nope", "limit=0", "since=yesterday", "colour=red"] {
        let (status, reply) = http_get(port, &format!("/v1/calls?{bad}"), admin).await;
        let field = bad.split('=').next().unwrap();
        assert_eq!(status, 400, "{bad}: {reply}");
        assert!(reply.contains(field), "{bad}: {reply}");
    }
    let (status, reply) = http_get(port, "/v1/servers", admin).await;
    assert_eq!(status, 200);
    assert_eq!(json_of(&reply)["servers"][0]["connected"], true, "{reply}");

    // Transfers act from the agent's channel, as the PBX lists it.
    pbx.set_reply(
        "CoreShowChannels",
        Reply::list("CoreShowChannelsComplete", channels_of_call(&id)),
    );
    let transfer = format!("/v1/calls/{id}/transfer");
    let transfer: &'static str = Box::leak(transfer.into_boxed_str());
    for (body, field) in [
        (serde_json::json!({ "kind": "blind" }), "extension"),
        (
            serde_json::json!({ "kind": "blind", "extension": "1002", "queue": "support" }),
            "extension",
        ),
        (
            serde_json::json!({ "kind": "sideways", "extension": "1002" }),
            "kind",
        ),
        (
            serde_json::json!({ "kind": "blind", "queue": "sales" }),
            "sales",
        ),
        (
            serde_json::json!({ "kind": "blind", "extension": "1002\r\nAction: Command" }),
            "extension",
        ),
    ] {
        let (status, reply) = post(transfer, admin, None, body.clone()).await;
        assert_eq!(status, 400, "{body}: {reply}");
        assert!(reply.contains(field), "{body}: {reply}");
    }
    assert_eq!(
        post(
            transfer,
            other_company,
            None,
            serde_json::json!({ "kind": "blind", "extension": "1002" })
        )
        .await
        .0,
        404
    );
    let (status, reply) = post(
        transfer,
        admin,
        None,
        serde_json::json!({ "kind": "blind", "extension": "1002" }),
    )
    .await;
    assert_eq!(status, 202, "{reply}");
    assert_eq!(json_of(&reply)["channel"], "PJSIP/agent1001-0000004e");
    let blind = pbx.actions_named("BlindTransfer");
    assert_eq!(blind.len(), 1);
    assert_eq!(
        blind[0].get("Channel").as_deref(),
        Some("PJSIP/agent1001-0000004e")
    );
    assert_eq!(blind[0].get("Exten").as_deref(), Some("1002"));
    let (status, reply) = post(
        transfer,
        Some("user7-secret-token"),
        None,
        serde_json::json!({ "kind": "attended", "queue": "support" }),
    )
    .await;
    assert_eq!(status, 202, "{reply}");
    let atxfer = pbx.actions_named("Atxfer");
    assert_eq!(atxfer.len(), 1);
    assert_eq!(atxfer[0].get("Exten").as_deref(), Some("4000"));
    assert_eq!(
        atxfer[0].get("Channel").as_deref(),
        Some("PJSIP/agent1001-0000004e")
    );
    let cancel: &'static str =
        Box::leak(format!("/v1/calls/{id}/transfer/cancel").into_boxed_str());
    let (status, reply) = post(cancel, admin, None, serde_json::json!({})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(pbx.actions_named("CancelAtxfer").len(), 1);
    // The PBX's refusal, in its own words.
    pbx.set_reply("BlindTransfer", Reply::error("Transfer not permitted"));
    let (status, reply) = post(
        transfer,
        admin,
        None,
        serde_json::json!({ "kind": "blind", "extension": "1002" }),
    )
    .await;
    assert_eq!(status, 409, "{reply}");
    assert!(reply.contains("Transfer not permitted"), "{reply}");

    // Hang up: every channel; the record ends from the PBX's events.
    let hangup: &'static str = Box::leak(format!("/v1/calls/{id}/hangup").into_boxed_str());
    assert_eq!(
        post(hangup, other_company, None, serde_json::json!({}))
            .await
            .0,
        404
    );
    let (status, reply) = post(hangup, admin, None, serde_json::json!({})).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        json_of(&reply)["channels"].as_array().map(Vec::len),
        Some(2),
        "{reply}"
    );
    pbx.set_reply(
        "CoreShowChannels",
        Reply::list("CoreShowChannelsComplete", vec![]),
    );
    for m in rest {
        pbx.emit_raw(m).await;
    }
    wait_calls(&db, "the placed call completed", |c| {
        c.iter()
            .any(|r| r["uniqueId"] == id.as_str() && r["status"] == "completed")
    })
    .await;

    // /readyz and /metrics speak of every company: the daemon's token only.
    assert_eq!(
        http_get(port, "/readyz", Some("company1-secret-token"))
            .await
            .0,
        403
    );
    assert_eq!(http_get(port, "/metrics", other_company).await.0, 403);
    let (status, reply) = post(
        "/v1/calls",
        admin,
        None,
        serde_json::json!({ "from": "1001", "to": "+5511999990002", "server": "nope" }),
    )
    .await;
    assert_eq!(status, 400, "{reply}");
    assert!(reply.contains("server"), "{reply}");

    // The key outlives the daemon.
    let err = stop_cleanly(child).await;
    assert!(
        !err.contains("secret-token"),
        "tokens are never logged: {err}"
    );
    let child = start();
    wait_for("the API again", || {
        std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
    })
    .await;
    wait_for("login again", || pbx.logins().len() >= 2).await;
    let (status, reply) = post("/v1/calls", admin, Some("k-1"), call_body.clone()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(json_of(&reply)["uniqueId"], id.as_str());
    assert_eq!(json_of(&reply)["call"]["status"], "completed");
    assert_eq!(
        pbx.actions_named("Originate").len(),
        1,
        "one call placed in all"
    );

    // The PBX away: 503, and the key is not used up.
    pbx.refuse_connections(true);
    pbx.close_all().await;
    for _ in 0..100 {
        let (_, reply) = http_get(port, "/v1/servers", admin).await;
        if json_of(&reply)["servers"][0]["connected"] == false {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (status, reply) = post("/v1/calls", admin, Some("k-2"), call_body.clone()).await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(json_of(&reply)["code"], "pbx_unreachable");
    // A retry of the first call is answered meanwhile (from the database).
    let (status, reply) = post("/v1/calls", admin, Some("k-1"), call_body.clone()).await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(json_of(&reply)["uniqueId"], id.as_str());
    pbx.refuse_connections(false);
    for _ in 0..300 {
        let (_, reply) = http_get(port, "/v1/servers", admin).await;
        if json_of(&reply)["servers"][0]["connected"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Back: the refused request was not used up, it places its call now.
    let (status, reply) = post("/v1/calls", admin, Some("k-2"), call_body.clone()).await;
    assert_eq!(status, 201, "{reply}");
    assert_ne!(json_of(&reply)["uniqueId"], id.as_str());
    assert_eq!(pbx.actions_named("Originate").len(), 2);
    let err = stop_cleanly(child).await;
    assert!(
        !err.contains("secret-token"),
        "tokens are never logged: {err}"
    );
}

/// The BigChat-side companion (`integrations/bigchat`, TypeScript) for
/// real: the daemon's signed webhook → the companion's router in a Node
/// process → its Socket.IO server → a socket.io client in the company's
/// rooms, which must receive the replayed call's events exactly once each
/// and in order; then click-to-call, blind transfer and hang-up from the
/// companion's typed client through the control API to the fake Asterisk,
/// which answers each action as a real Asterisk did in the recordings
/// (`outbound-click-to-call` with the call's id, `protocol-misc`'s channel
/// list), the outcome coming back as notifications.
///
/// Needs `npm ci && npm run build` in `integrations/bigchat` first (CI does
/// it; see the README).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bigchat_companion_emits_the_calls_and_drives_them() {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    let companion = Path::new(env!("CARGO_MANIFEST_DIR")).join("../integrations/bigchat");
    let script = companion.join("dist/test/e2e.js");
    assert!(
        script.exists(),
        "{} is missing: run `npm ci && npm run build` in {} first",
        script.display(),
        companion.display()
    );

    // The fake PBX answers as the recordings show: Originate → the
    // recorded click-to-call up to the answer (its first channel's
    // Uniqueid = the requested ChannelId); CoreShowChannels → the call's
    // channels while it is up; Hangup → the rest of the recording.
    #[derive(Default)]
    struct Pbx {
        live: Option<String>,
        rest: VecDeque<ami_client::ami_proto::Message>,
    }
    let state = Arc::new(Mutex::new(Pbx::default()));
    let parse = |b: Bytes| ami_client::ami_proto::Message::parse(&b).expect("recorded message");
    let handler_state = state.clone();
    let pbx = FakeAsterisk::builder()
        .user("bigchat", SECRET)
        .on_action(move |action| {
            let mut st = handler_state.lock().unwrap();
            match action.get("Action").map(|a| a.to_string()).as_deref() {
                Some("Originate") => {
                    let id = action
                        .get("ChannelId")
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    let (answered, rest) = click_to_call_as(&id);
                    st.live = Some(id);
                    st.rest = rest.into_iter().map(parse).collect();
                    let mut reply = vec![response(
                        "Success",
                        &[("Message", "Originate successfully queued")],
                    )];
                    reply.extend(answered.into_iter().map(parse));
                    Reply::Messages(reply)
                }
                Some("CoreShowChannels") => Reply::list(
                    "CoreShowChannelsComplete",
                    st.live.as_deref().map(channels_of_call).unwrap_or_default(),
                ),
                Some("BlindTransfer") => Reply::success(&[("Message", "Transfer succeeded")]),
                Some("Hangup") => {
                    let mut reply = vec![response("Success", &[("Message", "Channel Hungup")])];
                    st.live = None;
                    reply.extend(st.rest.drain(..));
                    Reply::Messages(reply)
                }
                _ => Reply::Default,
            }
        })
        .start()
        .await
        .expect("fake asterisk");

    let (hook, api) = (free_port(), free_port());
    let mut node = Command::new("node")
        .arg(&script)
        .current_dir(&companion)
        .env("HOOK_PORT", hook.to_string())
        .env("WEBHOOK_SECRET", "e2e-hook-secret")
        .env("API_URL", format!("http://127.0.0.1:{api}"))
        .env("API_TOKEN", "e2e-api-token")
        .env("COMPANY_ID", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (Node 20 is needed)");
    let mut lines = {
        use tokio::io::AsyncBufReadExt;
        tokio::io::BufReader::new(node.stdout.take().unwrap()).lines()
    };
    let mut seen = Vec::new();
    let ready = tokio::time::timeout(Duration::from_secs(60), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line.clone());
            if line == "READY" {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(ready, Ok(true), "the companion never got ready: {seen:?}");

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let daemon = cmd()
        .env("BIGCHAT_VOICE_WEBHOOK_SECRET", "e2e-hook-secret")
        .env("BIGCHAT_VOICE_API_TOKEN", "e2e-api-token")
        .args(["listen", "--database-url", &db])
        .args(["--api", &format!("127.0.0.1:{api}")])
        .args([
            "--webhook-url",
            &format!("http://127.0.0.1:{hook}/voice/webhook"),
        ])
        .args(server_args(&pbx))
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    wait_synced(&pbx, "login").await;
    pbx.replay(
        captures().join("inbound-answered-recorded.server.ami"),
        ReplayOptions::default(),
    )
    .await
    .unwrap();

    let outcome = tokio::time::timeout(Duration::from_secs(120), async {
        while let Ok(Some(line)) = lines.next_line().await {
            seen.push(line);
        }
        node.wait().await
    })
    .await;
    let mut err = String::new();
    if let Some(mut e) = node.stderr.take() {
        use tokio::io::AsyncReadExt;
        let _ = e.read_to_string(&mut err).await;
    }
    let daemon_log = stop_cleanly(daemon).await;
    let status = outcome
        .expect("the companion's script finished in time")
        .expect("wait");
    assert!(
        status.success(),
        "companion e2e failed ({status}):\n{}\n{err}\n--- daemon ---\n{daemon_log}",
        seen.join("\n")
    );
    // What the script drove reached the PBX as the actions it asked for.
    assert_eq!(pbx.actions_named("Originate").len(), 1, "one call placed");
    let blind = pbx.actions_named("BlindTransfer");
    assert_eq!(blind.len(), 1);
    assert_eq!(blind[0].get("Exten").as_deref(), Some("1002"));
    assert_eq!(
        blind[0].get("Channel").as_deref(),
        Some("PJSIP/agent1001-0000004e")
    );
    assert!(!pbx.actions_named("Hangup").is_empty());
}
