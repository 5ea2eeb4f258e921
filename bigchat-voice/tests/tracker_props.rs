//! Properties: interleaved calls never contaminate each other, and no
//! sequence of events makes the tracker panic or break the effect grammar.

mod tracker_support;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use ami_proto::Message;
use bigchat_voice::model::Effect;
use bigchat_voice::tracker::{Marker, Tracker, TrackerConfig};
use chrono::{DateTime, Utc};
use proptest::prelude::*;
use tracker_support::build::*;
use tracker_support::*;

type Transcript = Vec<(Message, DateTime<Utc>)>;

/// The call captures that can share one AMI session. Left out:
/// `restart-during-call` (its Shutdown ends every call, by design) and
/// `outbound-originate-unreachable`, whose failed `OriginateResponse`
/// names only the endpoint (`PJSIP/agent1002`, `Uniqueid: <unknown>`), as
/// does the one of `outbound-originate-failed`: with two such Originates
/// to the same endpoint in flight, AMI itself does not say which failed
/// (the connector avoids that by passing `ChannelId`). `FullyBooted` is
/// dropped: each capture's login reports its own uptime.
fn transcripts() -> &'static Vec<(String, Transcript)> {
    static T: OnceLock<Vec<(String, Transcript)>> = OnceLock::new();
    T.get_or_init(|| {
        captures_with_calls()
            .into_iter()
            .filter(|n| n != "restart-during-call" && n != "outbound-originate-unreachable")
            .map(|n| {
                let items = load(&n)
                    .into_iter()
                    .filter(|(m, _)| !m.is_event("FullyBooted"))
                    .collect();
                (n, items)
            })
            .collect()
    })
}

/// Effects per call, in order.
fn per_call(effects: &[Effect]) -> BTreeMap<String, Vec<Effect>> {
    let mut out: BTreeMap<String, Vec<Effect>> = BTreeMap::new();
    for e in effects {
        if let Some(id) = unique_id(e) {
            out.entry(id.to_owned()).or_default().push(e.clone());
        }
    }
    out
}

fn alone() -> &'static BTreeMap<String, Vec<Effect>> {
    static A: OnceLock<BTreeMap<String, Vec<Effect>>> = OnceLock::new();
    A.get_or_init(|| {
        let mut all = BTreeMap::new();
        for (_, items) in transcripts() {
            let mut t = Tracker::new(TrackerConfig::default());
            all.extend(per_call(&feed(&mut t, items)));
        }
        all
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn interleaved_captures_give_the_same_calls(picks in prop::collection::vec(any::<u16>(), 4000)) {
        let ts = transcripts();
        let mut pos = vec![0usize; ts.len()];
        let mut merged: Transcript = Vec::new();
        let mut picks = picks.into_iter();
        loop {
            let open: Vec<usize> = (0..ts.len()).filter(|&i| pos[i] < ts[i].1.len()).collect();
            if open.is_empty() {
                break;
            }
            let i = open[usize::from(picks.next().unwrap_or(0)) % open.len()];
            merged.push(ts[i].1[pos[i]].clone());
            pos[i] += 1;
        }
        let mut t = Tracker::new(TrackerConfig::default());
        let effects = feed(&mut t, &merged);
        assert_well_formed(&effects);
        let got = per_call(&effects);
        prop_assert_eq!(got.len(), alone().len());
        for (id, want) in alone() {
            prop_assert_eq!(got.get(id), Some(want), "call {}", id);
        }
        prop_assert!(t.live_calls().is_empty());
    }
}

fn arb_channel() -> impl Strategy<Value = Ch> {
    let names = prop::sample::select(vec![
        "PJSIP/trunk-00000001",
        "PJSIP/agent\u{e9}1001-05",
        "PJSIP/\u{e9}",
        "PJSIP/agent1001-00000002",
        "PJSIP/agent1002-00000003",
        "Local/1001@agents-00000004;1",
        "Local/1001@agents-00000004;2",
        "",
        "garbage",
    ]);
    let ids = prop::sample::select(vec![
        "1.1",
        "1.2",
        "1.3",
        "2.1",
        "2.2",
        "<unknown>",
        "",
        "none",
    ]);
    let nums = prop::sample::select(vec![
        "+5511999990001",
        "1001",
        "1002",
        "<unknown>",
        "",
        "s",
        "x\u{e9}",
    ]);
    let ctxs = prop::sample::select(vec!["from-trunk", "agents", "outbound", ""]);
    (
        names,
        ids.clone(),
        ids,
        nums.clone(),
        nums.clone(),
        ctxs,
        nums,
        0u8..10,
    )
        .prop_map(
            |(name, uid, lid, cid, connected, context, exten, state)| Ch {
                name,
                uid,
                lid,
                cid,
                connected,
                context,
                exten,
                state,
            },
        )
}

#[derive(Debug, Clone)]
#[allow(clippy::large_enum_variant)] // test data, built once
enum Step {
    Event(&'static str, Ch, Option<Ch>, &'static str),
    System(&'static str, &'static str),
    Marker(bool),
}

fn arb_step() -> impl Strategy<Value = Step> {
    let names = prop::sample::select(vec![
        "Newchannel",
        "Newstate",
        "Newexten",
        "NewCallerid",
        "NewConnectedLine",
        "VarSet",
        "DialBegin",
        "DialState",
        "DialEnd",
        "BridgeEnter",
        "BridgeLeave",
        "Hold",
        "Unhold",
        "Hangup",
        "HangupRequest",
        "MixMonitorStart",
        "BlindTransfer",
        "AttendedTransfer",
        "OriginateResponse",
        "QueueCallerJoin",
        "QueueCallerAbandon",
        "AgentConnect",
        "CoreShowChannel",
        "Status",
        "Cdr",
        "RTCPSent",
    ]);
    let extras = prop::sample::select(vec![
        "ANSWER",
        "BUSY",
        "NOANSWER",
        "CANCEL",
        "CONGESTION",
        "CHANUNAVAIL",
        "GOTO:a^b^1",
        "Success",
        "Failure",
        "VoiceMail",
        "MIXMONITOR_FILENAME",
        "",
        "16",
        "18446744073709551615",
        "9223372036854775807",
        "99:99:99",
        "1e300",
        "99999999999",
    ]);
    prop_oneof![
        8 => (names, arb_channel(), prop::option::of(arb_channel()), extras)
            .prop_map(|(n, c, d, x)| Step::Event(n, c, d, x)),
        1 => (
            prop::sample::select(vec!["FullyBooted", "Shutdown"]),
            prop::sample::select(vec![
                "0",
                "5",
                "100",
                "-1",
                "x",
                "",
                "18446744073709551615",
                "9223372036854775807",
            ]),
        )
            .prop_map(|(n, u)| Step::System(n, u)),
        1 => any::<bool>().prop_map(Step::Marker),
    ]
}

fn message(step: &Step, timestamp: Option<&str>) -> Option<Message> {
    match step {
        Step::Event(name, ch, dest, extra) => {
            let mut h: Vec<(String, String)> = on(name, ch)
                .headers()
                .skip(2)
                .map(|h| (h.name.to_string(), h.value.to_string()))
                .collect();
            if let Some(d) = dest {
                h.extend(
                    on(name, d)
                        .headers()
                        .skip(2)
                        .map(|x| (format!("Dest{}", x.name), x.value.to_string())),
                );
                h.extend(
                    on(name, d)
                        .headers()
                        .skip(2)
                        .map(|x| (format!("Transferer{}", x.name), x.value.to_string())),
                );
            }
            for k in [
                "DialStatus",
                "Result",
                "Response",
                "Application",
                "Variable",
                "Value",
                "Cause",
                "BridgeUniqueid",
                "Seconds",
                "Duration",
                "Exten",
                "Interface",
            ] {
                h.push((k.to_owned(), (*extra).to_owned()));
            }
            if let Some(ts) = timestamp {
                h.push(("Timestamp".to_owned(), ts.to_owned()));
            }
            Some(ev(name, h))
        }
        Step::System(name, uptime) => Some(system(
            name,
            &[
                ("Uptime", uptime),
                ("Shutdown", "Cleanly"),
                ("Restart", "True"),
            ],
        )),
        Step::Marker(_) => None,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn any_event_soup_is_handled(steps in prop::collection::vec((arb_step(), 0i64..100), 0..120)) {
        let cfg = TrackerConfig { max_live_calls: 3, remember_ended_calls: 4, ..TrackerConfig::default() };
        let mut t = Tracker::new(cfg);
        let mut effects = Vec::new();
        let mut clock = 0;
        for (step, secs) in &steps {
            // Time never goes backwards here (it may stand still).
            clock += secs % 5;
            let secs = &clock;
            match (step, message(step, None)) {
                (Step::Marker(lagged), _) => {
                    let m = if *lagged { Marker::Lagged { missed: 1 } } else { Marker::Reconnected };
                    effects.extend(t.handle_marker(m, t0(*secs)));
                }
                (_, Some(m)) => t.handle_into(&m, t0(*secs), &mut effects),
                (_, None) => {}
            }
            prop_assert!(t.live_calls().len() <= 3);
        }
        // Calls may come back after being forgotten (bounded memory), so
        // only the per-life grammar of the effects is checked here.
        for e in &effects {
            if let Effect::CallEnded(c) = e {
                prop_assert!(c.status.is_final());
                prop_assert!(c.duration >= 0 && c.talk_time >= 0 && c.hold_time >= 0);
                prop_assert!(c.talk_time + c.hold_time <= c.duration + 1);
            }
        }
    }
}

fn t0(secs: i64) -> DateTime<Utc> {
    t(secs)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

    /// Garbage `Timestamp` headers (time jumping around, out of range) may
    /// give odd times but never a panic or a negative duration.
    #[test]
    fn garbage_timestamps_never_panic(
        steps in prop::collection::vec(
            (
                arb_step(),
                prop::sample::select(vec![
                    "0", "1e300", "-5", "NaN", "inf", "1795515000.5", "17.x", "",
                    "9223372036854775807", "1795514000",
                ]),
            ),
            0..120,
        )
    ) {
        let cfg = TrackerConfig { max_live_calls: 3, remember_ended_calls: 4, ..TrackerConfig::default() };
        let mut t = Tracker::new(cfg);
        let mut effects = Vec::new();
        for (i, (step, ts)) in steps.iter().enumerate() {
            if let Some(m) = message(step, Some(ts)) {
                t.handle_into(&m, t0(i as i64), &mut effects);
            }
        }
        for e in &effects {
            if let Effect::CallEnded(c) = e {
                prop_assert!(c.duration >= 0 && c.talk_time >= 0 && c.hold_time >= 0);
            }
        }
    }
}
