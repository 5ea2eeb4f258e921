//! The reconciliation plan, decided from recordings: a call the tracker
//! follows and the PBX no longer lists, a call the PBX lists that nobody
//! knew, a record only the database holds.

mod tracker_support;

use bigchat_voice::model::{Call, CallStatus, Direction, Effect};
use bigchat_voice::pipeline::reconcile::plan;
use bigchat_voice::store::CallRecordRow;
use bigchat_voice::tracker::{Tracker, TrackerConfig};
use chrono::{DateTime, Duration, Utc};
use tracker_support::load;

/// The recorded inbound call, followed up to its answer (and its
/// recording): live in the tracker. Returns the tracker and the time of
/// the last event.
fn answered_call() -> (Tracker, DateTime<Utc>) {
    let capture = load("inbound-answered-recorded");
    let cut = capture
        .iter()
        .position(|(m, _)| m.is_event("BridgeEnter"))
        .expect("a BridgeEnter")
        + 2;
    let mut tracker = Tracker::new(TrackerConfig::default());
    let mut last = DateTime::UNIX_EPOCH;
    for (msg, at) in &capture[..cut] {
        tracker.handle(msg, *at);
        last = *at;
    }
    assert_eq!(tracker.live_calls().len(), 1);
    (tracker, last)
}

/// The `CoreShowChannel` items of the recorded `CoreShowChannels` reply
/// (one call of two channels, Linkedid `1795516055.77`).
fn pbx_channels() -> Vec<ami_proto::Message> {
    load("protocol-misc")
        .into_iter()
        .map(|(m, _)| m)
        .filter(|m| m.is_event("CoreShowChannel"))
        .collect()
}

fn db_row(unique_id: &str, updated_at: DateTime<Utc>) -> CallRecordRow {
    let mut call = Call::ringing(
        unique_id,
        Direction::Inbound,
        updated_at - Duration::seconds(30),
    );
    call.status = CallStatus::Answered;
    call.caller_id = "+5511999990099".into();
    call.called_number = "4000".into();
    call.answered_at = Some(updated_at - Duration::seconds(20));
    call.agent_extension = Some("1001".into());
    let mut row = CallRecordRow::from_call(&call, 9, 1, 1, updated_at);
    row.ticket_id = Some(1);
    row.contact_id = Some(1);
    row
}

/// Gone from the PBX while the daemon could not see: ended when it was last
/// seen alive (not now), completed (it was answered), recording kept,
/// flagged reconciled.
#[test]
fn a_followed_call_gone_from_the_pbx_ends_when_last_seen() {
    let (mut tracker, last) = answered_call();
    let lost_at = last + Duration::seconds(8);
    let now = last + Duration::seconds(60);
    let p = plan(&mut tracker, &[], &[], Some(lost_at), now);
    let ended: Vec<_> = p
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallEnded(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(ended.len(), 1, "{:?}", p.effects);
    let call = ended[0];
    assert_eq!(call.ended_at, Some(lost_at));
    assert_eq!(call.status, CallStatus::Completed);
    assert!(call.reconciled);
    assert!(call.recording_file.is_some(), "{call:?}");
    assert!(call.talk_time >= 8, "{call:?}");
    assert!(tracker.live_calls().is_empty());
    assert_eq!((p.summary.pbx_calls, p.summary.created), (0, 0));
    // Without a "last seen", now; and never later than now.
    let (mut tracker, _) = answered_call();
    let p = plan(&mut tracker, &[], &[], None, now);
    assert!(
        p.effects
            .iter()
            .any(|e| matches!(e, Effect::CallEnded(c) if c.ended_at == Some(now)))
    );
    let (mut tracker, _) = answered_call();
    let p = plan(&mut tracker, &[], &[], Some(now + Duration::hours(1)), now);
    assert!(
        p.effects
            .iter()
            .any(|e| matches!(e, Effect::CallEnded(c) if c.ended_at == Some(now)))
    );
}

/// A call the PBX lists that neither the tracker nor the database knew is
/// created (flagged reconciled); the followed call, still listed by the
/// PBX... is not, so it ends; a record only the database holds is closed
/// at its own last change.
#[test]
fn unknown_calls_are_created_and_database_only_records_closed() {
    let (mut tracker, last) = answered_call();
    let now = last + Duration::seconds(60);
    let stale = db_row("1795510000.5", last - Duration::seconds(5));
    let followed = db_row("1795515777.0", last);
    let p = plan(
        &mut tracker,
        &[stale.clone(), followed],
        &pbx_channels(),
        Some(last),
        now,
    );
    assert_eq!(p.summary.pbx_calls, 1);
    assert_eq!(p.summary.created, 1, "{:?}", p.summary);
    assert_eq!(p.summary.db_live, 2);
    assert_eq!(
        p.summary.closed, 2,
        "the followed call and the stale record"
    );
    let started: Vec<_> = p
        .effects
        .iter()
        .filter_map(|e| match e {
            Effect::CallStarted(c) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(started.len(), 1, "{:?}", p.effects);
    assert_eq!(started[0].unique_id, "1795516055.77");
    assert!(started[0].reconciled);
    // Only the stale record is closed by the database: the followed one
    // ends with what the tracker knew.
    assert_eq!(p.close, vec![(stale.unique_id.clone(), stale.updated_at)]);
    let live: Vec<_> = tracker
        .live_calls()
        .iter()
        .map(|c| c.unique_id.clone())
        .collect();
    assert_eq!(live, vec!["1795516055.77".to_owned()]);
}

/// Planning twice changes nothing the second time.
#[test]
fn a_second_plan_has_nothing_to_do() {
    let (mut tracker, last) = answered_call();
    let now = last + Duration::seconds(60);
    let channels = pbx_channels();
    plan(&mut tracker, &[], &channels, Some(last), now);
    let again = plan(&mut tracker, &[], &channels, None, now);
    assert!(
        !again
            .effects
            .iter()
            .any(|e| matches!(e, Effect::CallStarted(_) | Effect::CallEnded(_))),
        "{:?}",
        again.effects
    );
    assert_eq!(again.summary.created, 0);
    assert!(again.close.is_empty());
}
