//! Black-box tests: the `bigchat-voice` binary, run as ops run it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use assert_cmd::cargo::CommandCargoExt;

fn bin() -> Command {
    let mut c = Command::cargo_bin("bigchat-voice").expect("binary built");
    // A clean environment: nothing from the developer's shell leaks in.
    for (k, _) in std::env::vars() {
        if k.starts_with("BIGCHAT_VOICE_") || k == "DATABASE_URL" || k == "RUST_LOG" {
            c.env_remove(k);
        }
    }
    c
}

fn captures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../testdata/captures")
}

fn expected(name: &str) -> Option<Vec<serde_json::Value>> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../testdata/expected")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(p).ok()?;
    serde_json::from_str(&text).ok()
}

fn text(o: &[u8]) -> String {
    String::from_utf8_lossy(o).into_owned()
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("binary runs")
}

#[test]
fn help_lists_the_commands() {
    let out = run(bin().arg("--help"));
    assert!(out.status.success());
    let help = text(&out.stdout);
    for cmd in [
        "listen",
        "originate",
        "sync",
        "events",
        "calls",
        "db",
        "check",
        "discover",
    ] {
        assert!(help.contains(cmd), "help lacks {cmd}: {help}");
    }
}

#[test]
fn unknown_flag_is_a_usage_error() {
    let out = run(bin().args(["calls", "--no-such-flag"]));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--no-such-flag"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn malformed_config_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("bad.toml");
    std::fs::write(&cfg, "companyId = \"one\"\n[[asterisk]\n").unwrap();
    let out = run(bin().arg("--config").arg(&cfg).arg("calls"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("bad.toml"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(&cfg, "no_such_key = 1\n").unwrap();
    let out = run(bin().arg("--config").arg(&cfg).arg("calls"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no_such_key"),
        "{}",
        text(&out.stderr)
    );
    // Two companies for one daemon: refused, not silently overridden.
    std::fs::write(&cfg, "companyId = 1\n[tracker]\ncompanyId = 5\n").unwrap();
    let out = run(bin().arg("--config").arg(&cfg).arg("calls"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("[tracker] companyId = 5"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn missing_secret_is_a_clear_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let out = run(bin().args([
        "listen",
        "--database-url",
        &db,
        "--ami-host",
        "127.0.0.1",
        "--ami-username",
        "bigchat",
    ]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("BIGCHAT_VOICE_AMI_SECRET"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn unreachable_pbx_exits_3() {
    // A port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let out = run(bin()
        .args([
            "listen",
            "--database-url",
            &db,
            "--ami-host",
            "127.0.0.1",
            "--ami-username",
            "bigchat",
        ])
        .args(["--ami-port", &port.to_string()])
        .env("BIGCHAT_VOICE_AMI_SECRET", "s3cret-value"));
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("127.0.0.1"), "{err}");
    assert!(!err.contains("s3cret-value"), "secret leaked: {err}");
}

#[test]
fn originate_refuses_injection_before_connecting() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    const TO: &str = "+5511999990002";
    // Each is a usage error (exit 2) found before anything is contacted
    // (the AMI port is closed: reaching it would exit 3).
    let cases: [&[&str]; 7] = [
        &[
            "--from",
            "1001",
            "--to",
            "+5511999990002\r\nAction: Command",
        ],
        &["--from", "1001", "--to", "abc"],
        &["--from", "10 01", "--to", TO],
        &["--from", "1001", "--to", TO, "--var", "A=1\nAction: Logoff"],
        // A dialplan function instead of a variable.
        &[
            "--from",
            "1001",
            "--to",
            TO,
            "--wait",
            "--var",
            "FILE(/etc/passwd)=x",
        ],
        // Timeouts that would overflow the wait, or mean nothing.
        &[
            "--from",
            "1001",
            "--to",
            TO,
            "--wait",
            "--timeout",
            "18446744073709551615s",
        ],
        &["--from", "1001", "--to", TO, "--wait", "--timeout", "0s"],
    ];
    for case in cases {
        let out = run(bin()
            .args(["originate", "--database-url", &db])
            .args(["--ami-host", "127.0.0.1", "--ami-port", "1"])
            .args(["--ami-username", "bigchat"])
            .args(case)
            .env("BIGCHAT_VOICE_AMI_SECRET", "x"));
        assert_eq!(
            out.status.code(),
            Some(2),
            "{case:?}: {}",
            text(&out.stderr)
        );
    }
}

fn call_captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(captures())
        .unwrap()
        .filter_map(|e| {
            let n = e.ok()?.file_name().to_string_lossy().into_owned();
            let name = n.strip_suffix(".server.ami")?.to_owned();
            expected(&name).map(|_| name)
        })
        .collect();
    names.sort();
    assert!(names.len() >= 10, "{names:?}");
    names
}

fn calls_json(db: &str) -> Vec<serde_json::Value> {
    let out = run(bin().args(["calls", "--json", "--limit", "1000", "--database-url", db]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect()
}

/// Every shared capture replayed through `listen --replay` into SQLite
/// gives the expected call records; replaying again changes nothing.
#[test]
fn replay_every_capture_into_sqlite_is_exact_and_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("calls.db").display());
    let mut want_total = 0;
    for name in call_captures() {
        let file = captures().join(format!("{name}.server.ami"));
        let out = run(bin()
            .args(["listen", "--database-url", &db, "--replay"])
            .arg(&file));
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        let expected = expected(&name).unwrap();
        for call in &expected {
            let id = call["uniqueId"].as_str().unwrap();
            assert!(
                text(&out.stdout).contains(id),
                "{name}: summary lacks {id}: {}",
                text(&out.stdout)
            );
        }
        want_total += expected.len();
    }
    let first = calls_json(&db);
    assert_eq!(first.len(), want_total);
    for name in call_captures() {
        for want in expected(&name).unwrap() {
            let id = want["uniqueId"].as_str().unwrap();
            let got = first
                .iter()
                .find(|c| c["uniqueId"] == id)
                .unwrap_or_else(|| panic!("{name}: no record {id}"));
            for field in [
                "direction",
                "status",
                "callerId",
                "calledNumber",
                "duration",
                "talkTime",
            ] {
                assert_eq!(got[field], want[field], "{name} {id}: {field}");
            }
        }
    }
    // Again: same rows.
    for name in call_captures() {
        let file = captures().join(format!("{name}.server.ami"));
        let out = run(bin()
            .args(["listen", "--database-url", &db, "--replay"])
            .arg(&file));
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
    }
    assert_eq!(calls_json(&db), first);

    // The table view reads.
    let out = run(bin().args(["calls", "--database-url", &db, "--status", "completed"]));
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("completed"));
    let out = run(bin().args(["calls", "--database-url", &db, "--status", "nonsense"]));
    assert_eq!(out.status.code(), Some(2));
}

/// The annotated example configuration in the repository is valid.
#[test]
fn example_config_parses() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}", dir.path().join("x.db").display());
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../bigchat-voice.example.toml");
    // `calls` only reads: a database that does not exist is not created.
    let out = run(bin()
        .arg("--config")
        .arg(&example)
        .args(["calls", "--database-url", &db]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("database not found"),
        "{}",
        text(&out.stderr)
    );
    assert!(!dir.path().join("x.db").exists());
    let out =
        run(bin()
            .arg("--config")
            .arg(&example)
            .args(["db", "migrate", "--database-url", &db]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let out = run(bin()
        .arg("--config")
        .arg(&example)
        .args(["calls", "--database-url", &db]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    // A mistyped directory is refused even by the daemon's own opening.
    let typo = format!("sqlite://{}", dir.path().join("typo/x.db").display());
    let out = run(bin().args(["calls", "--database-url", &typo]));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let out = run(bin().args(["db", "migrate", "--database-url", &typo]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(dir.path().join("typo/x.db").exists());
}

#[test]
fn events_with_a_malformed_match_is_a_usage_error() {
    let out = run(bin()
        .args(["events", "--match", "Linkedid"])
        .args(["--ami-host", "127.0.0.1", "--ami-port", "1"])
        .args(["--ami-username", "bigchat"])
        .env("BIGCHAT_VOICE_AMI_SECRET", "x"));
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("NAME=VALUE"),
        "{}",
        text(&out.stderr)
    );
}

/// A fake FreePBX for `discover`: PJSIP phones 1001-1003 and a provider
/// trunk registered outbound, a queue; no chan_sip (the fake answers
/// `Invalid/unknown command` to what it does not know, as Asterisk does).
async fn discover_pbx() -> ami_client::testkit::FakeAsterisk {
    use ami_client::testkit::{FakeAsterisk, Reply, event};
    let phones = ["1001", "1002", "1003"];
    FakeAsterisk::builder()
        .user("bigchat", "bigchat-secret")
        .on_action(move |action| {
            let name = action
                .action_name()
                .map(|v| v.to_string())
                .unwrap_or_default();
            match name.as_str() {
                "PJSIPShowEndpoints" => {
                    let mut items: Vec<_> = phones
                        .iter()
                        .map(|n| {
                            event(
                                "EndpointList",
                                &[
                                    ("ObjectType", "endpoint"),
                                    ("ObjectName", n),
                                    ("Aor", n),
                                    ("Auths", n),
                                    ("OutboundAuths", ""),
                                ],
                            )
                        })
                        .collect();
                    items.push(event(
                        "EndpointList",
                        &[
                            ("ObjectType", "endpoint"),
                            ("ObjectName", "provider"),
                            ("Aor", "provider"),
                            ("Auths", ""),
                            ("OutboundAuths", "provider"),
                        ],
                    ));
                    Reply::list("EndpointListComplete", items)
                }
                "PJSIPShowEndpoint" => {
                    let ep = action
                        .get("Endpoint")
                        .map(|v| v.to_string())
                        .unwrap_or_default();
                    let items = if ep == "provider" {
                        vec![
                            event(
                                "EndpointDetail",
                                &[
                                    ("ObjectName", "provider"),
                                    ("Context", "from-pstn"),
                                    ("OutboundAuth", "provider"),
                                ],
                            ),
                            event(
                                "AorDetail",
                                &[
                                    ("ObjectName", "provider"),
                                    ("MaxContacts", "0"),
                                    ("TotalContacts", "1"),
                                    ("ContactsRegistered", "0"),
                                ],
                            ),
                        ]
                    } else if phones.contains(&ep.as_str()) {
                        let cid = format!("\"Agent {ep}\" <{ep}>");
                        vec![
                            event(
                                "EndpointDetail",
                                &[
                                    ("ObjectName", &ep),
                                    ("Context", "from-internal"),
                                    ("Callerid", &cid),
                                ],
                            ),
                            event(
                                "AorDetail",
                                &[
                                    ("ObjectName", &ep),
                                    ("MaxContacts", "1"),
                                    ("TotalContacts", "1"),
                                    ("ContactsRegistered", "1"),
                                ],
                            ),
                        ]
                    } else {
                        return Reply::error(&format!("Unable to retrieve endpoint {ep}"));
                    };
                    Reply::list("EndpointDetailComplete", items)
                }
                "PJSIPShowRegistrationsOutbound" => Reply::list(
                    "OutboundRegistrationDetailComplete",
                    vec![event(
                        "OutboundRegistrationDetail",
                        &[
                            ("ObjectName", "provider"),
                            ("ServerUri", "sip:sip.provider.example"),
                            ("Endpoint", "provider"),
                            ("Status", "Registered"),
                        ],
                    )],
                ),
                "QueueStatus" => Reply::list(
                    "QueueStatusComplete",
                    vec![
                        event(
                            "QueueParams",
                            &[("Queue", "support"), ("Strategy", "ringall")],
                        ),
                        event(
                            "QueueMember",
                            &[
                                ("Queue", "support"),
                                ("Name", "1001"),
                                ("Location", "PJSIP/1001"),
                            ],
                        ),
                    ],
                ),
                _ => Reply::Default,
            }
        })
        .start()
        .await
        .expect("fake asterisk")
}

fn discover_cmd(port: u16) -> tokio::process::Command {
    let mut c = bin();
    c.args([
        "discover",
        "--ami-host",
        "127.0.0.1",
        "--ami-username",
        "bigchat",
    ])
    .args(["--ami-port", &port.to_string()])
    .env("BIGCHAT_VOICE_AMI_SECRET", "bigchat-secret");
    tokio::process::Command::from(c)
}

#[derive(serde::Deserialize)]
struct TrackerFile {
    tracker: bigchat_voice::tracker::TrackerConfig,
}

/// `discover` proposes the section from the PBX, with reasons, to stdout;
/// `--output` writes it only to a new file (or with `--force`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_proposes_the_tracker_section_and_never_overwrites() {
    let pbx = discover_pbx().await;
    let out = discover_cmd(pbx.port()).output().await.unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}\n{stdout}", text(&out.stderr));
    for want in [
        "[tracker]",
        "\"PJSIP/provider\",",
        "registers to sip:sip.provider.example (registration provider, its endpoint: Registered)",
        "\"from-pstn\",",
        "\"1001-1003\",",
        "# \"1002\" = USER_ID  # PJSIP/1002, caller id \"Agent 1002\" <1002>",
        "# \"support\" = QUEUE_ID  # strategy ringall; members: 1001 (PJSIP/1001)",
        "chan_sip: not loaded",
    ] {
        assert!(stdout.contains(want), "lacks {want:?}:\n{stdout}");
    }
    let cfg = toml::from_str::<TrackerFile>(&stdout)
        .expect("parses")
        .tracker;
    assert_eq!(cfg.trunks, ["PJSIP/provider"]);
    assert!(cfg.is_internal_extension("1003") && !cfg.is_internal_extension("1004"));
    // Only reading actions were sent.
    let asked: Vec<String> = pbx.actions().iter().map(|a| a.name()).collect();
    for action in &asked {
        assert!(
            ["Challenge", "Login", "Logoff"].contains(&action.as_str())
                || action.starts_with("PJSIPShow")
                || action.starts_with("SIPshow")
                || ["SIPpeers", "QueueStatus"].contains(&action.as_str()),
            "{action} in {asked:?}"
        );
    }
    assert_eq!(pbx.actions_named("PJSIPShowEndpoint").len(), 4, "{asked:?}");

    // --output: a new file gets it; an existing one is refused untouched,
    // before the PBX is asked anything.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("tracker.toml");
    let out = discover_cmd(pbx.port())
        .arg("--output")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout);
    std::fs::write(&file, "# mine\n").unwrap();
    let before = pbx.actions_named("PJSIPShowEndpoints").len();
    let out = discover_cmd(pbx.port())
        .arg("--output")
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&file).unwrap(), "# mine\n");
    assert_eq!(pbx.actions_named("PJSIPShowEndpoints").len(), before);
    let out = discover_cmd(pbx.port())
        .args(["--force", "--output"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), stdout);
}

/// An AMI user without the rights to list anything: exit 6, saying which
/// right to add, and nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_without_rights_says_which_to_add() {
    use ami_client::testkit::{FakeAsterisk, Reply};
    let pbx = FakeAsterisk::builder()
        .user("bigchat", "bigchat-secret")
        .on_action(|action| {
            let name = action
                .action_name()
                .map(|v| v.to_string())
                .unwrap_or_default();
            if name.starts_with("PJSIP") || name.starts_with("SIP") {
                Reply::error("Permission denied")
            } else {
                Reply::Default
            }
        })
        .start()
        .await
        .expect("fake asterisk");
    let out = discover_cmd(pbx.port()).output().await.unwrap();
    assert_eq!(out.status.code(), Some(6), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("`system`"),
        "{}",
        text(&out.stderr)
    );
    assert!(out.stdout.is_empty());
}

/// Completions and the man page come from the command line's definition
/// and need no configuration.
#[test]
fn completions_and_man_page_are_generated() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = run(bin().current_dir(dir.path()).args(["completions", shell]));
        assert!(out.status.success(), "{shell}: {}", text(&out.stderr));
        let script = text(&out.stdout);
        for sub in ["listen", "originate", "discover", "calls"] {
            assert!(script.contains(sub), "{shell} completion lacks {sub}");
        }
    }
    let out = run(bin().args(["completions", "tcsh"]));
    assert_eq!(out.status.code(), Some(2));
    let out = run(bin().arg("man"));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let page = text(&out.stdout);
    assert!(page.contains(".TH bigchat-voice 1"), "{page}");
    assert!(
        page.contains("listen") && page.contains("discover"),
        "{page}"
    );
}
