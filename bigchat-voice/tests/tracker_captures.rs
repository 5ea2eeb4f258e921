//! Transcript tests: every shared capture with calls, replayed through the
//! tracker with its real arrival times, must give the call records derived
//! in `testdata/expected/NAME.json`, and agree with Asterisk's own CDR rows.

mod tracker_support;

use bigchat_voice::model::{Call, CallStatus, Direction, Effect};
use chrono::{DateTime, Utc};
use serde_json::Value;
use tracker_support::*;

fn expected(name: &str) -> Vec<Value> {
    let text = std::fs::read_to_string(testdata().join("expected").join(format!("{name}.json")))
        .expect("expected json");
    serde_json::from_str(&text).expect("json")
}

fn secs(t: DateTime<Utc>) -> f64 {
    t.timestamp_micros() as f64 / 1e6
}

/// Times within 5 ms: the expected values are timeline `at`s (ms); the
/// timestamps capture's events carry their own `Timestamp` (µs), which the
/// tracker prefers and which lags `at` by under 2 ms.
fn assert_time(name: &str, field: &str, got: Option<DateTime<Utc>>, want: &Value) {
    match (got, want.as_f64()) {
        (None, None) => {}
        (Some(g), Some(w)) => assert!(
            (secs(g) - w).abs() < 0.005,
            "{name}: {field} = {} (want {w})",
            secs(g)
        ),
        (g, _) => panic!("{name}: {field} = {g:?}, want {want}"),
    }
}

fn opt_str(v: &Value) -> Option<&str> {
    v.as_str()
}

fn check_against_expected(name: &str, call: &Call, want: &Value) {
    let s = |k: &str| want[k].as_str().unwrap_or_default().to_owned();
    let i = |k: &str| want[k].as_i64().expect(k);
    assert_eq!(call.unique_id, s("uniqueId"), "{name}");
    assert_eq!(call.direction.as_str(), s("direction"), "{name}: direction");
    assert_eq!(call.caller_id, s("callerId"), "{name}: callerId");
    assert_eq!(
        call.called_number,
        s("calledNumber"),
        "{name}: calledNumber"
    );
    assert_eq!(call.status.as_str(), s("status"), "{name}: status");
    assert_time(name, "startedAt", Some(call.started_at), &want["startedAt"]);
    assert_time(name, "answeredAt", call.answered_at, &want["answeredAt"]);
    assert_time(name, "endedAt", call.ended_at, &want["endedAt"]);
    assert_eq!(call.duration, i("duration"), "{name}: duration");
    assert_eq!(call.hold_time, i("holdTime"), "{name}: holdTime");
    assert_eq!(call.talk_time, i("talkTime"), "{name}: talkTime");
    assert_eq!(
        call.agent_extension.as_deref(),
        opt_str(&want["agentExtension"]),
        "{name}: agentExtension"
    );
    // No extension map configured: the agent is known by extension only.
    assert_eq!(call.user_id, None, "{name}: userId");
    assert_eq!(
        call.recording_file.as_deref(),
        opt_str(&want["recordingFile"]),
        "{name}: recordingFile"
    );
    let want_url = opt_str(&want["recordingFile"]).map(|f| {
        format!(
            "recordings/company-1/2026/11/{}",
            f.rsplit('/').next().unwrap_or_default()
        )
    });
    assert_eq!(call.recording_url, want_url, "{name}: recordingUrl");
    // The contact is the outside party.
    let contact = match call.direction {
        Direction::Inbound => &call.caller_id,
        Direction::Outbound => &call.called_number,
        other => panic!("{name}: a call with a customer taken for {other:?}"),
    };
    assert_eq!(&call.contact_number, contact, "{name}: contactNumber");
    assert!(
        !call.reconciled,
        "{name}: closed by events, not reconciliation"
    );
}

/// The CDR's main row: the answered one, else the first.
fn check_against_cdr(name: &str, call: &Call) {
    let rows = cdr_rows(name);
    assert!(!rows.is_empty(), "{name}: no CDR");
    assert!(
        rows.iter().all(|r| r.linkedid == call.unique_id),
        "{name}: linkedid"
    );
    let main = rows
        .iter()
        .find(|r| r.disposition == "ANSWERED")
        .unwrap_or(&rows[0]);
    let within_1s = |field: &str, ours: DateTime<Utc>, cdr: DateTime<Utc>| {
        let d = (ours - cdr).num_milliseconds();
        // CDR times are whole seconds, truncated: ours - cdr is in [0, 1 s).
        assert!(
            (0..1000).contains(&d),
            "{name}: {field} differs from CDR by {d} ms"
        );
    };
    within_1s("start", call.started_at, main.start);
    within_1s("end", call.ended_at.expect("ended"), main.end);
    assert_eq!(call.duration, main.duration, "{name}: duration vs CDR");
    match (call.answered_at, main.answer) {
        (None, None) => assert_eq!(main.billsec, 0),
        (Some(ours), Some(cdr)) if call.direction == Direction::Inbound => {
            within_1s("answer", ours, cdr);
            assert_eq!(call.talk_time, main.billsec, "{name}: talkTime vs billsec");
        }
        (Some(ours), Some(cdr)) => {
            // Click-to-call: the CDR's party A is the agent's channel, so its
            // answer is the agent's; the customer answers later and billsec
            // includes the customer's ringing.
            assert!(ours >= cdr, "{name}: customer answered before the agent");
            assert!(main.billsec >= call.talk_time, "{name}: billsec < talkTime");
            let from_agent_answer = (call.ended_at.expect("ended") - cdr).num_milliseconds() / 1000;
            assert!(
                (main.billsec - from_agent_answer).abs() <= 1,
                "{name}: billsec {} vs end - agent answer {from_agent_answer}",
                main.billsec
            );
        }
        (a, b) => panic!("{name}: answered {a:?} but CDR answer {b:?}"),
    }
    let dispositions: &[&str] = match call.status {
        CallStatus::Completed => &["ANSWERED"],
        CallStatus::Busy => &["BUSY"],
        CallStatus::NoAnswer => &["NO ANSWER", "CANCEL"],
        // A failed Originate is "NO ANSWER" on the agent's leg for Asterisk.
        CallStatus::Failed => &["FAILED", "CONGESTION", "NO ANSWER"],
        other => panic!("{name}: unexpected final status {other:?}"),
    };
    assert!(
        dispositions.contains(&main.disposition.as_str()),
        "{name}: status {:?} vs disposition {}",
        call.status,
        main.disposition
    );
}

#[test]
fn every_capture_gives_the_expected_calls() {
    let names = captures_with_calls();
    assert!(names.len() >= 12, "expected JSONs: {names:?}");
    for name in &names {
        let effects = run(name);
        assert_well_formed(&effects);
        let calls = ended(&effects);
        let want = expected(name);
        assert_eq!(
            calls.len(),
            want.len(),
            "{name}: calls {:?}",
            calls.keys().collect::<Vec<_>>()
        );
        for w in &want {
            let id = w["uniqueId"].as_str().expect("uniqueId");
            let call = calls
                .get(id)
                .unwrap_or_else(|| panic!("{name}: no call {id}"));
            check_against_expected(name, call, w);
            check_against_cdr(name, call);
            println!(
                "{name}: {} {} {} -> {} status={} dur={} talk={} hold={} agent={:?} rec={:?}",
                call.unique_id,
                call.direction.as_str(),
                call.caller_id,
                call.called_number,
                call.status.as_str(),
                call.duration,
                call.talk_time,
                call.hold_time,
                call.agent_extension,
                call.recording_url
            );
        }
    }
}

#[test]
fn effects_follow_the_call_life() {
    // Inbound answered: started ringing, then answered (with the
    // recording), then completed.
    let effects = run("inbound-answered-recorded");
    let kinds: Vec<(&str, CallStatus)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallStarted(c) => Some(("started", c.status)),
            Effect::CallUpdated(c) => Some(("updated", c.status)),
            Effect::CallEnded(c) => Some(("ended", c.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("started", CallStatus::Ringing),
            ("updated", CallStatus::Answered),
            ("ended", CallStatus::Completed)
        ]
    );
    let Effect::CallStarted(started) = &effects[0] else {
        panic!("{effects:?}")
    };
    assert_eq!(started.contact_number, "+5511999990001");
    assert_eq!(started.called_number, "4000");
    assert!(started.recording_file.is_none(), "not answered yet");

    // Click-to-call: reported once the customer's number is known (when the
    // agent picks up), still ringing; answered when the customer answers.
    let effects = run("outbound-click-to-call");
    let Some(Effect::CallStarted(c)) = effects.first() else {
        panic!("{effects:?}")
    };
    assert_eq!(c.status, CallStatus::Ringing);
    assert_eq!(c.direction, Direction::Outbound);
    assert_eq!(c.called_number, "+5511999990002");
    assert_eq!(c.contact_number, "+5511999990002");
    assert_eq!(c.agent_extension.as_deref(), Some("1001"));
    let answered: Vec<&Call> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallUpdated(c) if c.status == CallStatus::Answered => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(answered.len(), 1, "{effects:#?}");
    assert_eq!(
        answered[0].answered_at.map(|t| t.timestamp_millis()),
        Some(1_795_515_829_541)
    );
}

#[test]
fn captures_without_calls_give_no_call_effects() {
    for name in [
        "login-bad-secret",
        "login-md5",
        "readonly-permission-denied",
        "restart-during-call-after",
    ] {
        let effects = run(name);
        assert!(
            effects.iter().all(|e| unique_id(e).is_none()),
            "{name}: {effects:?}"
        );
        assert!(
            !effects
                .iter()
                .any(|e| matches!(e, Effect::PbxRestarted { .. })),
            "{name}: a FullyBooted alone is not a restart"
        );
    }
}

#[test]
fn replaying_a_capture_twice_changes_nothing() {
    for name in captures_with_calls() {
        let items = load(&name);
        let mut t = bigchat_voice::tracker::Tracker::new(Default::default());
        let first = feed(&mut t, &items);
        let again: Vec<_> = feed(&mut t, &items)
            .into_iter()
            .filter(|e| unique_id(e).is_some())
            .collect();
        assert!(!first.is_empty(), "{name}");
        assert!(again.is_empty(), "{name}: replay gave {again:#?}");
        assert!(t.live_calls().is_empty(), "{name}");
    }
}
