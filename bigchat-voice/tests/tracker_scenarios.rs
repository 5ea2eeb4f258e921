//! Hand-written event sequences for what the captures do not hold (hold,
//! transfer, voicemail, failures), and for robustness: duplicates, joins
//! mid-call, lost events, restarts, the live-call cap.

mod tracker_support;

use ami_proto::Message;
use bigchat_voice::model::{Call, CallStatus, Direction, Effect};
use bigchat_voice::tracker::{Marker, Tracker, TrackerConfig};
use chrono::{DateTime, Utc};
use tracker_support::build::*;
use tracker_support::*;

type Script = Vec<(Message, DateTime<Utc>)>;

fn trunk() -> Ch {
    Ch::trunk("100.1", "100.1", "+55 11 99999-0001")
}
fn agent1001() -> Ch {
    Ch::agent("PJSIP/agent1001-00000002", "1001", "100.2", "100.1")
}
fn agent1002() -> Ch {
    Ch::agent("PJSIP/agent1002-00000003", "1002", "100.3", "100.1")
}

/// Caller rings 2 s, agent 1001 answers; returns the script so far.
fn answered_inbound() -> Script {
    let (tr, a) = (trunk(), agent1001());
    vec![
        (on("Newchannel", &tr), t(0)),
        (on("Newchannel", &a), t(0)),
        (dial("DialBegin", Some(&tr), &a, None), t(0)),
        (dial("DialState", Some(&tr), &a, Some("RINGING")), t(0)),
        (
            dial(
                "DialEnd",
                Some(&tr.clone().up()),
                &a.clone().up(),
                Some("ANSWER"),
            ),
            t(2),
        ),
        (bridge_enter(&a.clone().up(), "b1"), t(2)),
        (bridge_enter(&tr.clone().up(), "b1"), t(2)),
    ]
}

fn hangups(at: i64) -> Script {
    vec![
        (hangup(&agent1001().up(), "16"), t(at)),
        (hangup(&trunk().up(), "16"), t(at)),
    ]
}

fn run_script(tracker: &mut Tracker, script: &Script) -> Vec<Effect> {
    let effects = feed(tracker, script);
    assert_well_formed(&effects);
    effects
}

fn last_ended(effects: &[Effect]) -> Call {
    effects
        .iter()
        .rev()
        .find_map(|e| match e {
            Effect::CallEnded(c) => Some(c.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no CallEnded in {effects:#?}"))
}

fn statuses(effects: &[Effect]) -> Vec<CallStatus> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallStarted(c) | Effect::CallUpdated(c) | Effect::CallEnded(c) => {
                Some(c.status)
            }
            _ => None,
        })
        .collect()
}

fn tracker() -> Tracker {
    let mut cfg = TrackerConfig::default();
    cfg.users.insert("1001".into(), 11);
    cfg.users.insert("1002".into(), 12);
    Tracker::new(cfg)
}

#[test]
fn hold_and_unhold_count_as_hold_time() {
    let mut s = answered_inbound();
    let a = agent1001().up();
    s.push((on_with("Hold", &a, &[("MusicClass", "default")]), t(5)));
    s.push((on_with("Hold", &a, &[("MusicClass", "default")]), t(5))); // repeated
    s.push((on("Unhold", &a), t(8)));
    s.push((on("Unhold", &a), t(8))); // repeated
    s.push((on("Hold", &a), t(9)));
    s.push((on("Unhold", &a), t(10)));
    s.extend(hangups(13));
    let effects = run_script(&mut tracker(), &s);
    assert_eq!(
        statuses(&effects),
        vec![
            CallStatus::Ringing,
            CallStatus::Answered,
            CallStatus::OnHold,
            CallStatus::Answered,
            CallStatus::OnHold,
            CallStatus::Answered,
            CallStatus::Completed
        ]
    );
    let c = last_ended(&effects);
    assert_eq!((c.duration, c.hold_time, c.talk_time), (13, 4, 7));
    assert_eq!(c.user_id, Some(11));
    assert_eq!(c.contact_number, "+5511999990001");
}

#[test]
fn hung_up_while_on_hold_closes_the_hold() {
    let mut s = answered_inbound();
    s.push((on("Hold", &agent1001().up()), t(5)));
    s.extend(hangups(9));
    let c = last_ended(&run_script(&mut tracker(), &s));
    assert_eq!((c.duration, c.hold_time, c.talk_time), (9, 4, 3));
    assert_eq!(c.status, CallStatus::Completed);
}

#[test]
fn blind_transfer_goes_on_with_the_new_agent() {
    let mut s = answered_inbound();
    let (tr, a, b) = (trunk().up(), agent1001().up(), agent1002());
    // Asterisk sends an Unhold for the transferer without a Hold first.
    s.push((on("Unhold", &a), t(4)));
    let mut bt = kv(&[("Result", "Success")]);
    for (k, v) in [
        ("TransfererChannel", a.name),
        ("TransfererUniqueid", a.uid),
        ("TransfererLinkedid", a.lid),
        ("TransfereeChannel", tr.name),
        ("TransfereeUniqueid", tr.uid),
        ("TransfereeLinkedid", tr.lid),
    ] {
        bt.push((k.into(), v.into()));
    }
    bt.extend(kv(&[
        ("IsExternal", "Yes"),
        ("Context", "agents"),
        ("Extension", "1002"),
    ]));
    s.push((ev("BlindTransfer", bt), t(5)));
    s.push((hangup(&a, "16"), t(5)));
    s.push((on("Newchannel", &b), t(5)));
    s.push((dial("DialBegin", Some(&tr), &b, None), t(5)));
    s.push((
        dial("DialEnd", Some(&tr), &b.clone().up(), Some("ANSWER")),
        t(7),
    ));
    s.push((bridge_enter(&b.clone().up(), "b2"), t(7)));
    s.push((hangup(&b.clone().up(), "16"), t(12)));
    s.push((hangup(&tr, "16"), t(12)));
    let effects = run_script(&mut tracker(), &s);
    assert_eq!(
        statuses(&effects),
        vec![
            CallStatus::Ringing,
            CallStatus::Answered,
            CallStatus::Transferred,
            CallStatus::Transferred,
            CallStatus::Completed
        ]
    );
    let Effect::CallUpdated(after) = &effects[3] else {
        panic!("{effects:#?}")
    };
    assert_eq!(after.agent_extension.as_deref(), Some("1002"));
    assert_eq!(after.user_id, Some(12));
    let c = last_ended(&effects);
    assert_eq!(c.agent_extension.as_deref(), Some("1002"));
    assert_eq!((c.duration, c.talk_time), (12, 10));
    assert_eq!(c.answered_at, Some(t(2)), "the first answer counts");
}

/// Caller rings the agent, the dial ends with `status`, then `tail` runs.
fn unanswered(status: &str, tail: Vec<(Message, DateTime<Utc>)>) -> Call {
    let (tr, a) = (trunk(), agent1001());
    let mut s: Script = vec![
        (on("Newchannel", &tr), t(0)),
        (on("Newchannel", &a), t(0)),
        (dial("DialBegin", Some(&tr), &a, None), t(0)),
        (dial("DialEnd", Some(&tr), &a, Some(status)), t(4)),
        (hangup(&a, "0"), t(4)),
    ];
    s.extend(tail);
    s.push((hangup(&tr, "16"), t(6)));
    let c = last_ended(&run_script(&mut tracker(), &s));
    assert_eq!(c.duration, 6);
    assert_eq!(
        (c.talk_time, c.answered_at, &c.agent_extension),
        (0, None, &None)
    );
    c
}

#[test]
fn unanswered_outcomes() {
    assert_eq!(unanswered("BUSY", vec![]).status, CallStatus::Busy);
    assert_eq!(unanswered("NOANSWER", vec![]).status, CallStatus::NoAnswer);
    assert_eq!(unanswered("CANCEL", vec![]).status, CallStatus::NoAnswer);
    assert_eq!(unanswered("CONGESTION", vec![]).status, CallStatus::Failed);
    assert_eq!(unanswered("CHANUNAVAIL", vec![]).status, CallStatus::Failed);
    let vm = on_with(
        "Newexten",
        &trunk(),
        &[
            ("Extension", "4000"),
            ("Application", "VoiceMail"),
            ("AppData", "1001@default"),
        ],
    );
    let c = unanswered("NOANSWER", vec![(vm, t(5))]);
    assert_eq!(c.status, CallStatus::Voicemail);
    assert!(c.recording_file.is_none());
}

#[test]
fn recording_is_kept_only_for_answered_calls() {
    let rec = |ch: &Ch| {
        on_with(
            "VarSet",
            ch,
            &[
                ("Variable", "MIXMONITOR_FILENAME"),
                ("Value", "/var/spool/asterisk/monitor/100.1.wav"),
            ],
        )
    };
    // Unanswered: the file holds no audio (MixMonitor option b).
    let c = unanswered("NOANSWER", vec![(rec(&trunk()), t(1))]);
    assert_eq!(c.recording_file, None);
    // Answered: learned while ringing, attached at the answer.
    let mut s = answered_inbound();
    s.insert(2, (rec(&trunk()), t(0)));
    s.extend(hangups(9));
    let effects = run_script(&mut tracker(), &s);
    let Some(Effect::CallUpdated(c)) = effects.get(1) else {
        panic!("{effects:#?}")
    };
    assert_eq!(c.status, CallStatus::Answered);
    assert_eq!(
        c.recording_url.as_deref(),
        Some("recordings/company-1/2026/11/100.1.wav")
    );
}

#[test]
fn duplicated_events_change_nothing() {
    let mut s = answered_inbound();
    s.push((on("Hold", &agent1001().up()), t(5)));
    s.push((on("Unhold", &agent1001().up()), t(6)));
    s.extend(hangups(9));
    let once = run_script(&mut tracker(), &s);
    // Every event twice in a row.
    let doubled: Script = s.iter().flat_map(|x| [x.clone(), x.clone()]).collect();
    assert_eq!(run_script(&mut tracker(), &doubled), once);
    // The whole call again after it ended (replay after a reconnect).
    let mut t2 = tracker();
    run_script(&mut t2, &s);
    let again = run_script(&mut t2, &s);
    assert!(again.is_empty(), "{again:#?}");
}

#[test]
fn joined_mid_call() {
    // The tracker starts while the call is already up: the first thing it
    // sees is the agent's leg entering the bridge.
    let a = Ch {
        connected: "+5511999990001",
        ..agent1001().up()
    };
    let s: Script = vec![
        (bridge_enter(&a, "b1"), t(10)),
        (bridge_enter(&trunk().up(), "b1"), t(10)),
        (on("Hold", &a), t(11)),
        (on("Unhold", &a), t(12)),
        (hangup(&a, "16"), t(20)),
        (hangup(&trunk().up(), "16"), t(20)),
    ];
    let effects = run_script(&mut tracker(), &s);
    let Some(Effect::CallStarted(c)) = effects.first() else {
        panic!("{effects:#?}")
    };
    assert_eq!(c.direction, Direction::Inbound);
    assert_eq!(c.status, CallStatus::Answered);
    assert_eq!(c.agent_extension.as_deref(), Some("1001"));
    assert_eq!(c.caller_id, "+5511999990001");
    let c = last_ended(&effects);
    assert_eq!(c.status, CallStatus::Completed);
    assert_eq!((c.duration, c.hold_time, c.talk_time), (10, 1, 9));

    // A hangup alone never creates a call.
    let mut t2 = tracker();
    assert!(t2.handle(&hangup(&trunk(), "16"), t(1)).is_empty());
    assert!(t2.live_calls().is_empty());
}

#[test]
fn lost_events_ask_for_reconciliation() {
    let mut tr = tracker();
    assert!(tr.handle_marker(Marker::Reconnected, t(0)).is_empty());
    run_script(&mut tr, &answered_inbound());
    for marker in [Marker::Lagged { missed: 3 }, Marker::Reconnected] {
        assert_eq!(
            tr.handle_marker(marker, t(3)),
            vec![Effect::NeedsReconciliation {
                unique_ids: vec!["100.1".into()]
            }]
        );
    }
    // The PBX no longer has it: close it.
    let closed = tr.close_call("100.1", t(30));
    let c = last_ended(&closed);
    assert!(c.reconciled);
    assert_eq!((c.status, c.duration), (CallStatus::Completed, 30));
    assert!(tr.live_calls().is_empty());
    assert!(tr.close_call("100.1", t(31)).is_empty());
}

#[test]
fn shutdown_ends_live_calls() {
    let mut tr = tracker();
    let mut before = run_script(&mut tr, &answered_inbound());
    // A second call, still ringing.
    let t2 = Ch::trunk("200.1", "200.1", "+5511999990009");
    before.extend(run_script(&mut tr, &vec![(on("Newchannel", &t2), t(3))]));
    let effects = tr.handle(
        &system("Shutdown", &[("Shutdown", "Cleanly"), ("Restart", "True")]),
        t(10),
    );
    before.extend(effects.iter().cloned());
    assert_well_formed(&before);
    let ended: Vec<(String, CallStatus)> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallEnded(c) => Some((c.unique_id.clone(), c.status)),
            _ => None,
        })
        .collect();
    assert_eq!(
        ended,
        vec![
            ("100.1".to_owned(), CallStatus::Completed),
            ("200.1".to_owned(), CallStatus::Failed)
        ]
    );
    assert_eq!(effects.last(), Some(&Effect::PbxRestarted { at: t(10) }));
    assert!(tr.live_calls().is_empty());
    // The login after the restart reports Uptime 0: not a second restart.
    let fb = system(
        "FullyBooted",
        &[("Status", "Fully Booted"), ("Uptime", "0")],
    );
    assert!(tr.handle(&fb, t(12)).is_empty());
}

#[test]
fn fully_booted_uptime_drop_is_a_restart() {
    let fb = |u: &str| system("FullyBooted", &[("Status", "Fully Booted"), ("Uptime", u)]);
    let mut tr = tracker();
    assert!(tr.handle(&fb("100"), t(0)).is_empty());
    run_script(&mut tr, &answered_inbound());
    // Reconnected 30 s later to the same process: nothing.
    assert!(tr.handle(&fb("130"), t(30)).is_empty());
    assert_eq!(tr.live_calls().len(), 1);
    // Uptime 5 at t=40: a new process that started at t=35.
    let effects = tr.handle(&fb("5"), t(40));
    let c = last_ended(&effects);
    assert_eq!(
        (c.status, c.ended_at, c.reconciled),
        (CallStatus::Completed, Some(t(35)), true)
    );
    assert_eq!(effects.last(), Some(&Effect::PbxRestarted { at: t(40) }));
    // Garbage uptimes are ignored.
    assert!(tr.handle(&fb("soon"), t(41)).is_empty());
}

#[test]
fn restart_captures_end_the_call_once() {
    // As recorded: the hangups arrive before Shutdown, so the call ends by
    // its events, and the Shutdown only reports the restart.
    let mut tr = Tracker::new(TrackerConfig::default());
    let mut effects = feed(&mut tr, &load("restart-during-call"));
    effects.extend(feed(&mut tr, &load("restart-during-call-after")));
    assert_well_formed(&effects);
    let restarts = effects
        .iter()
        .filter(|e| matches!(e, Effect::PbxRestarted { .. }))
        .count();
    assert_eq!(restarts, 1);
    let c = last_ended(&effects);
    assert_eq!(
        (c.status, c.duration, c.talk_time),
        (CallStatus::Completed, 3, 2)
    );
    assert!(!c.reconciled);

    // Had the connection dropped before the hangups and the Shutdown, the
    // re-login's FullyBooted (Uptime 0) reveals the restart and ends it.
    let before: Script = load("restart-during-call")
        .into_iter()
        .take_while(|(m, _)| !m.is_event("SoftHangupRequest"))
        .collect();
    let mut tr = Tracker::new(TrackerConfig::default());
    let mut effects = feed(&mut tr, &before);
    assert_eq!(tr.live_calls().len(), 1);
    effects.extend(feed(&mut tr, &load("restart-during-call-after")));
    assert_well_formed(&effects);
    let c = last_ended(&effects);
    assert_eq!(c.status, CallStatus::Completed);
    assert!(c.reconciled);
    assert!(c.ended_at.expect("ended") >= c.answered_at.expect("answered"));
    assert!(matches!(effects.last(), Some(Effect::PbxRestarted { .. })));
    assert!(tr.live_calls().is_empty());
}

#[test]
fn live_calls_are_capped() {
    let cfg = TrackerConfig {
        max_live_calls: 2,
        ..TrackerConfig::default()
    };
    let mut tr = Tracker::new(cfg);
    let chans = [
        Ch::trunk("1.1", "1.1", "+551"),
        Ch::trunk("2.1", "2.1", "+552"),
        Ch::trunk("3.1", "3.1", "+553"),
    ];
    let mut effects = Vec::new();
    for (i, ch) in chans.iter().enumerate() {
        effects.extend(tr.handle(&on("Newchannel", ch), t(i as i64)));
    }
    assert!(effects.contains(&Effect::NeedsReconciliation {
        unique_ids: vec!["1.1".into()]
    }));
    let live: Vec<&str> = tr
        .live_calls()
        .iter()
        .map(|c| c.unique_id.as_str())
        .collect();
    assert_eq!(live, vec!["2.1", "3.1"]);
    // The forgotten call's later events are ignored.
    assert!(tr.handle(&hangup(&chans[0], "16"), t(5)).is_empty());
}

#[test]
fn agent_to_agent_calls_are_not_reported() {
    let a = Ch {
        exten: "1002",
        ..Ch::agent("PJSIP/agent1001-00000009", "1001", "300.1", "300.1")
    };
    let b = Ch::agent("PJSIP/agent1002-0000000a", "1002", "300.2", "300.1");
    let s: Script = vec![
        (on("Newchannel", &a), t(0)),
        (on("Newchannel", &b), t(0)),
        (dial("DialBegin", Some(&a), &b, None), t(0)),
        (
            dial("DialEnd", Some(&a), &b.clone().up(), Some("ANSWER")),
            t(1),
        ),
        (hangup(&b, "16"), t(3)),
        (hangup(&a, "16"), t(3)),
    ];
    let effects = run_script(&mut tracker(), &s);
    assert!(effects.is_empty(), "{effects:#?}");

    // Asked for, the same call is recorded as internal, with no contact.
    let cfg = TrackerConfig {
        internal_calls: true,
        ..TrackerConfig::default()
    };
    let effects = run_script(&mut Tracker::new(cfg.clone()), &s);
    // Reported when it ends (a trunk leg could still make it outbound).
    assert_eq!(
        statuses(&effects),
        [CallStatus::Answered, CallStatus::Completed]
    );
    let c = last_ended(&effects);
    assert_eq!(c.direction, Direction::Internal);
    assert_eq!(
        (
            c.caller_id.as_str(),
            c.called_number.as_str(),
            c.contact_number.as_str()
        ),
        ("1001", "1002", "")
    );
    assert_eq!(c.agent_extension.as_deref(), Some("1001"));
    assert_eq!((c.duration, c.talk_time), (3, 2));
    assert!(
        c.classification
            .as_deref()
            .is_some_and(|w| w.starts_with("internal: PJSIP/agent1001-00000009 rang")),
        "{c:?}"
    );
}

/// A call between two extensions joined mid-way (its start unseen, e.g.
/// after a restart) is not taken for an inbound call: internal, reported
/// only when asked for.
#[test]
fn an_agent_to_agent_call_joined_mid_way_is_internal() {
    let b = Ch {
        connected: "1001",
        ..Ch::agent("PJSIP/agent1002-0000000a", "1002", "320.2", "320.1").up()
    };
    let s: Script = vec![(on("Newstate", &b), t(0)), (hangup(&b, "16"), t(30))];
    let effects = run_script(&mut tracker(), &s);
    assert!(effects.is_empty(), "{effects:#?}");
    let cfg = TrackerConfig {
        internal_calls: true,
        ..TrackerConfig::default()
    };
    let effects = run_script(&mut Tracker::new(cfg), &s);
    let c = last_ended(&effects);
    assert_eq!(
        (c.direction, c.status),
        (Direction::Internal, CallStatus::Completed)
    );
    assert_eq!(
        (c.caller_id.as_str(), c.called_number.as_str()),
        ("1001", "1002")
    );
    assert_eq!(c.contact_number, "");
}

/// With internal calls recorded, a call that rings another phone first and
/// then reaches a trunk (follow-me to a mobile) is outbound, reported once.
#[test]
fn an_internal_call_that_reaches_a_trunk_is_outbound() {
    let a = Ch {
        exten: "1002",
        ..Ch::agent("PJSIP/agent1001-00000009", "1001", "310.1", "310.1")
    };
    let b = Ch::agent("PJSIP/agent1002-0000000a", "1002", "310.2", "310.1");
    let mobile = Ch {
        name: "PJSIP/trunk-0000000b",
        cid: "+5511911112222",
        exten: "+5511911112222",
        state: 0,
        ..Ch::trunk("310.3", "310.1", "+5511911112222")
    };
    let s: Script = vec![
        (on("Newchannel", &a), t(0)),
        (on("Newchannel", &b), t(0)),
        (dial("DialBegin", Some(&a), &b, None), t(0)),
        (dial("DialEnd", Some(&a), &b, Some("NOANSWER")), t(10)),
        (hangup(&b, "19"), t(10)),
        (on("Newchannel", &mobile), t(10)),
        (dial("DialBegin", Some(&a), &mobile, None), t(10)),
        (
            dial("DialEnd", Some(&a), &mobile.clone().up(), Some("ANSWER")),
            t(14),
        ),
        (hangup(&mobile, "16"), t(20)),
        (hangup(&a, "16"), t(20)),
    ];
    let cfg = TrackerConfig {
        internal_calls: true,
        ..TrackerConfig::default()
    };
    let effects = run_script(&mut Tracker::new(cfg), &s);
    let started: Vec<&Call> = effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallStarted(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{effects:#?}");
    assert_eq!(started[0].direction, Direction::Outbound);
    let c = last_ended(&effects);
    assert_eq!(
        (c.direction, c.status),
        (Direction::Outbound, CallStatus::Completed)
    );
    assert_eq!(c.contact_number, "+5511911112222");
    assert_eq!(c.agent_extension.as_deref(), Some("1001"));
}

#[test]
fn agent_dials_out_from_the_phone() {
    let a = Ch {
        exten: "+55 11 98888-0000",
        ..Ch::agent("PJSIP/agent1001-00000009", "1001", "400.1", "400.1")
    };
    let cust = Ch {
        name: "PJSIP/trunk-0000000a",
        cid: "+5511988880000",
        ..Ch::trunk("400.2", "400.1", "")
    };
    let s: Script = vec![
        (on("Newchannel", &a), t(0)),
        (on("Newchannel", &cust), t(0)),
        (dial("DialBegin", Some(&a), &cust, None), t(0)),
        (
            dial("DialEnd", Some(&a), &cust.clone().up(), Some("ANSWER")),
            t(3),
        ),
        (hangup(&cust, "16"), t(10)),
        (hangup(&a, "16"), t(10)),
    ];
    let effects = run_script(&mut tracker(), &s);
    let c = last_ended(&effects);
    assert_eq!(c.direction, Direction::Outbound);
    assert_eq!(
        (c.caller_id.as_str(), c.called_number.as_str()),
        ("1001", "+5511988880000")
    );
    assert_eq!(c.contact_number, "+5511988880000");
    assert_eq!(
        (c.agent_extension.as_deref(), c.user_id),
        (Some("1001"), Some(11))
    );
    assert_eq!(
        (c.status, c.duration, c.talk_time),
        (CallStatus::Completed, 10, 7)
    );
    // Busy customer.
    let s: Script = vec![
        (on("Newchannel", &a), t(0)),
        (on("Newchannel", &cust), t(0)),
        (dial("DialBegin", Some(&a), &cust, None), t(0)),
        (dial("DialEnd", Some(&a), &cust, Some("BUSY")), t(1)),
        (hangup(&cust, "17"), t(1)),
        (hangup(&a, "16"), t(2)),
    ];
    assert_eq!(
        last_ended(&run_script(&mut tracker(), &s)).status,
        CallStatus::Busy
    );
}

#[test]
fn events_time_comes_from_timestamp_when_present() {
    let mut tr = tracker();
    let m = {
        let mut h = kv(&[("Timestamp", "1795515100.250000")]);
        h.extend(
            on("Newchannel", &trunk())
                .headers()
                .skip(2)
                .map(|h| (h.name.to_string(), h.value.to_string())),
        );
        ev("Newchannel", h)
    };
    let effects = tr.handle(&m, t(0));
    let Some(Effect::CallStarted(c)) = effects.first() else {
        panic!("{effects:#?}")
    };
    assert_eq!(c.started_at.timestamp_millis(), 1_795_515_100_250);
}

#[test]
fn announced_originate_is_reported_at_once() {
    let items = load("outbound-click-to-call");
    let mut tr = Tracker::new(TrackerConfig::default());
    tr.expect_originate("1795515825.10", "+55 11 99999-0002");
    let effects = feed(&mut tr, &items);
    assert_well_formed(&effects);
    let Some(Effect::CallStarted(c)) = effects.first() else {
        panic!("{effects:#?}")
    };
    // Reported on the agent channel's Newchannel, before the agent answers.
    assert_eq!(c.started_at.timestamp_millis(), 1_795_515_825_529);
    assert_eq!(
        (c.status, c.direction),
        (CallStatus::Ringing, Direction::Outbound)
    );
    assert_eq!(c.called_number, "+5511999990002");
    // Same final record as without the announcement, but for the reason
    // the direction was known.
    let mut announced = last_ended(&effects);
    assert_eq!(
        announced.classification.take().as_deref(),
        Some("outbound: click-to-call placed by the connector")
    );
    let mut unannounced = last_ended(&run("outbound-click-to-call"));
    assert!(
        unannounced
            .classification
            .take()
            .is_some_and(|w| w.contains("reached +5511999990002 in the dialplan")),
    );
    assert_eq!(announced, unannounced);
    // An announcement that never matches is bounded and harmless.
    for i in 0..2000 {
        tr.expect_originate(&format!("x.{i}"), "1");
    }
    assert!(feed(&mut tr, &load("inbound-busy")).len() >= 2);
}

/// Reconciliation after a restart of the connector: `CoreShowChannels`
/// lists both legs of a call in one bridge, so it was answered while we
/// were away; its end is then `completed`, not `no_answer`.
#[test]
fn core_show_channels_with_a_shared_bridge_means_answered() {
    let mut tracker = Tracker::new(TrackerConfig::default());
    let (tr, a) = (trunk().up(), agent1001().up());
    let script: Script = vec![
        (
            on_with(
                "CoreShowChannel",
                &tr,
                &[("BridgeId", "b9"), ("Duration", "00:00:30")],
            ),
            t(30),
        ),
        (
            on_with(
                "CoreShowChannel",
                &a,
                &[("BridgeId", "b9"), ("Duration", "00:00:25")],
            ),
            t(30),
        ),
    ];
    let effects = run_script(&mut tracker, &script);
    let live = tracker.live_call("100.1").expect("the call is followed");
    assert_eq!(live.status, CallStatus::Answered, "{effects:?}");
    assert_eq!(live.agent_extension.as_deref(), Some("1001"));
    let end = feed(&mut tracker, &hangups(40));
    let ended = end
        .iter()
        .find_map(|e| match e {
            Effect::CallEnded(c) => Some(c),
            _ => None,
        })
        .expect("the call ends");
    assert_eq!(ended.status, CallStatus::Completed);

    // Channels of a call not in a bridge stay ringing.
    let mut tracker = Tracker::new(TrackerConfig::default());
    let ringing: Script = vec![(
        on_with(
            "CoreShowChannel",
            &trunk(),
            &[("BridgeId", ""), ("Duration", "00:00:03")],
        ),
        t(3),
    )];
    run_script(&mut tracker, &ringing);
    assert!(
        tracker
            .live_call("100.1")
            .is_none_or(|c| c.status == CallStatus::Ringing)
    );
}

/// Queue ringall: one member's phone is busy, the other rings until the
/// caller gives up. Nobody answered: `no_answer`, not `busy`.
#[test]
fn an_abandoned_queue_call_is_no_answer_even_if_a_member_was_busy() {
    let (tr, a1, a2) = (trunk(), agent1001(), agent1002());
    let script: Script = vec![
        (on("Newchannel", &tr), t(0)),
        (
            on_with("QueueCallerJoin", &tr, &[("Queue", "support")]),
            t(0),
        ),
        (on("Newchannel", &a1), t(0)),
        (on("Newchannel", &a2), t(0)),
        (dial("DialBegin", Some(&tr), &a1, None), t(0)),
        (dial("DialBegin", Some(&tr), &a2, None), t(0)),
        (dial("DialEnd", Some(&tr), &a1, Some("BUSY")), t(1)),
        (hangup(&a1, "17"), t(1)),
        (
            on_with("QueueCallerAbandon", &tr, &[("Queue", "support")]),
            t(20),
        ),
        (dial("DialEnd", Some(&tr), &a2, Some("CANCEL")), t(20)),
        (hangup(&a2, "0"), t(20)),
        (hangup(&tr, "16"), t(20)),
    ];
    let c = last_ended(&run_script(&mut tracker(), &script));
    assert_eq!(c.status, CallStatus::NoAnswer);
    assert_eq!(c.queue.as_deref(), Some("support"));

    // Every member busy: the call was busy.
    let all_busy: Script = vec![
        (on("Newchannel", &tr), t(0)),
        (on("Newchannel", &a1), t(0)),
        (on("Newchannel", &a2), t(0)),
        (dial("DialBegin", Some(&tr), &a1, None), t(0)),
        (dial("DialBegin", Some(&tr), &a2, None), t(0)),
        (dial("DialEnd", Some(&tr), &a1, Some("BUSY")), t(1)),
        (dial("DialEnd", Some(&tr), &a2, Some("BUSY")), t(1)),
        (hangup(&a1, "17"), t(1)),
        (hangup(&a2, "17"), t(1)),
        (hangup(&tr, "17"), t(2)),
    ];
    assert_eq!(
        last_ended(&run_script(&mut tracker(), &all_busy)).status,
        CallStatus::Busy
    );
}

/// A repeated event about a channel that already hung up (replay after a
/// reconnect) must not put it back into its call: the call still ends when
/// its last real channel hangs up, and nothing stays live.
#[test]
fn an_event_after_a_channel_hung_up_does_not_revive_it() {
    let mut tr = tracker();
    let mut s = answered_inbound();
    s.push((hangup(&agent1001().up(), "16"), t(5)));
    s.push((bridge_enter(&agent1001().up(), "b1"), t(5))); // duplicate
    s.push((on("Newstate", &agent1001().up()), t(5))); // duplicate
    s.push((hangup(&trunk().up(), "16"), t(6)));
    let effects = run_script(&mut tr, &s);
    let c = last_ended(&effects);
    assert_eq!((c.status, c.duration), (CallStatus::Completed, 6));
    assert!(tr.live_calls().is_empty(), "{:?}", tr.live_calls());
}

/// Joining mid-call, the PBX may list the younger leg first: the call is
/// dated by its oldest leg whatever the order.
#[test]
fn a_joined_call_is_dated_by_its_oldest_leg() {
    for agent_first in [true, false] {
        let mut tracker = Tracker::new(TrackerConfig::default());
        let trunk_row = (
            on_with(
                "CoreShowChannel",
                &trunk().up(),
                &[("BridgeId", "b9"), ("Duration", "00:00:30")],
            ),
            t(100),
        );
        let agent_row = (
            on_with(
                "CoreShowChannel",
                &agent1001().up(),
                &[("BridgeId", "b9"), ("Duration", "00:00:25")],
            ),
            t(100),
        );
        let script: Script = if agent_first {
            vec![agent_row, trunk_row]
        } else {
            vec![trunk_row, agent_row]
        };
        run_script(&mut tracker, &script);
        let live = tracker.live_call("100.1").expect("followed");
        assert_eq!(live.started_at, t(70), "agent listed first: {agent_first}");
        let ended = last_ended(&feed(&mut tracker, &hangups(110)));
        assert_eq!(ended.duration, 40, "agent listed first: {agent_first}");
    }
}

/// An Originate that fails before any channel exists (the agent's phone is
/// not registered): the tracker has nothing to follow, so it reports the
/// failure by the Originate's ChannelId for the store to end the record
/// made when the call was placed. A `<unknown>` id reports nothing.
#[test]
fn an_originate_failing_without_channels_is_reported() {
    let mut tr = tracker();
    let failure = |uid: &str| {
        system(
            "OriginateResponse",
            &[
                ("Response", "Failure"),
                ("Channel", "PJSIP/1002"),
                ("Context", "outbound"),
                ("Exten", "+5511988887777"),
                ("Reason", "0"),
                ("Uniqueid", uid),
            ],
        )
    };
    let effects = run_script(&mut tr, &vec![(failure("bcv-1.1"), t(3))]);
    assert_eq!(
        effects,
        vec![Effect::OriginateFailed {
            unique_id: "bcv-1.1".into(),
            at: t(3)
        }]
    );
    assert!(run_script(&mut tr, &vec![(failure("<unknown>"), t(4))]).is_empty());
    assert!(tr.live_calls().is_empty());
}

/// A click-to-call between two extensions: the recorded click-to-call with
/// its customer leg (`PJSIP/trunk`, `+5511999990002`) made an agent's phone
/// (`PJSIP/1002`, extension `1002`), as a PBX reports a call from 1001 to
/// 1002. Both sides answered and talked: `completed`, never `failed`.
#[test]
fn a_click_to_call_between_two_extensions_completes_when_answered() {
    let items: Vec<(Message, DateTime<Utc>)> = load("outbound-click-to-call")
        .into_iter()
        .map(|(m, at)| {
            let text = String::from_utf8_lossy(m.raw())
                .replace("PJSIP/trunk", "PJSIP/1002")
                .replace("+5511999990002", "1002")
                .replace("from-trunk", "agents");
            (Message::parse(text.as_bytes()).expect("message"), at)
        })
        .collect();
    let mut tr = Tracker::new(TrackerConfig::default());
    tr.expect_originate("1795515825.10", "1002");
    let effects = feed(&mut tr, &items);
    assert_well_formed(&effects);
    let end = last_ended(&effects);
    assert_eq!(end.status, CallStatus::Completed, "{effects:#?}");
    assert_eq!(end.direction, Direction::Outbound);
    assert_eq!(end.called_number, "1002");
    assert_eq!(end.agent_extension.as_deref(), Some("1001"));
    assert!(end.answered_at.is_some() && end.talk_time > 0, "{end:?}");
    // Unannounced (Originate from elsewhere): the same.
    let mut tr = Tracker::new(TrackerConfig::default());
    let unannounced = last_ended(&feed(&mut tr, &items));
    assert_eq!(unannounced.status, CallStatus::Completed);
}
