//! The store suite: every test runs on SQLite and on PostgreSQL
//! (`sqlite::…` and `postgres::…` test names).
//!
//! PostgreSQL: `postgres://postgres@127.0.0.1:5432/test` (override with
//! `BIGCHAT_VOICE_PG_URL`), one fresh schema per test. Unreachable → the
//! PostgreSQL tests fail, unless `BIGCHAT_VOICE_SKIP_PG=1`.

mod store_support;

use bigchat_voice::model::{Call, CallStatus, Direction, Effect};
use bigchat_voice::store::{AsteriskStatus, CallFilter, Store};
use store_support::*;

const COMPANY: i64 = 1;

async fn setup(backend: Backend) -> Option<(TestDb, i64)> {
    let db = TestDb::new(backend).await?;
    let ast = db
        .store
        .ensure_asterisk("pbx-1", "10.0.0.5", 5038, "bigchat", COMPANY)
        .await
        .expect("ensure asterisk");
    Some((db, ast))
}

async fn apply_all(db: &TestDb, ast: i64, effects: &[Effect]) {
    for e in effects {
        db.store.apply(ast, COMPANY, e).await.expect("apply");
    }
}

fn col<'a>(
    row: &'a std::collections::BTreeMap<String, Option<String>>,
    c: &str,
) -> Option<&'a str> {
    row.get(c)
        .unwrap_or_else(|| panic!("no column {c}"))
        .as_deref()
}

/// A mixed day: answered inbound with hold and recording, missed inbound,
/// outbound answered, outbound busy, a second call of the first contact.
fn scenario() -> Vec<Effect> {
    let a = inbound("1700000001.1", "+55 11 99999-0001", 0);
    let mut a_name = a.clone();
    a_name.caller_name = Some("Maria Silva".into());
    a_name.contact_name = Some("Maria Silva".into());
    let a_ans = answered(&a_name, 8, "1001", 7);
    let mut a_hold = a_ans.clone();
    a_hold.status = CallStatus::OnHold;
    let mut a_unhold = a_ans.clone();
    a_unhold.hold_time = 20;
    a_unhold.recording_file = Some("/var/spool/asterisk/monitor/a.wav".into());
    a_unhold.recording_url = Some("https://rec.example/company-1/2026/11/a.wav".into());
    let a_end = ended(&a_unhold, CallStatus::Completed, 200);

    let b = inbound("1700000002.5", "+55 21 3333-4444", 30);
    let b_end = ended(&b, CallStatus::NoAnswer, 55);

    let c = outbound("1700000003.9", "5511988887777", 100);
    let c_ans = answered(&c, 110, "1001", 7);
    let c_end = ended(&c_ans, CallStatus::Completed, 170);

    let d = outbound("1700000004.2", "+5511977776666", 300);
    let d_end = ended(&d, CallStatus::Busy, 305);

    let e = inbound("1700000005.7", "5511999990001", 400);
    let e_ans = answered(&e, 402, "1002", 8);
    let e_end = ended(&e_ans, CallStatus::Completed, 460);

    vec![
        Effect::CallStarted(a_name.clone()),
        Effect::CallStarted(b.clone()),
        Effect::CallUpdated(a_ans),
        Effect::CallUpdated(a_hold),
        Effect::CallUpdated(a_unhold),
        Effect::CallEnded(b_end),
        Effect::CallStarted(c.clone()),
        Effect::CallUpdated(c_ans),
        Effect::CallEnded(c_end),
        Effect::CallEnded(a_end),
        Effect::CallStarted(d.clone()),
        Effect::NeedsReconciliation {
            unique_ids: vec!["x".into()],
        },
        Effect::CallEnded(d_end),
        Effect::CallStarted(e.clone()),
        Effect::CallUpdated(e_ans),
        Effect::CallEnded(e_end),
        Effect::PbxRestarted { at: t(500) },
    ]
}

// ---------------------------------------------------------------- tests --

async fn contact_numbers_normalise_to_one_contact(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let mut first = inbound("u1", "+55 11 99999-0001", 0);
    first.contact_name = Some("Maria".into());
    let second = inbound("u2", "5511999990001", 100);
    let third = inbound("u3", "+5511999990001", 200);
    let mut ids = Vec::new();
    for c in [first, second, third] {
        let a = db
            .store
            .apply(ast, COMPANY, &Effect::CallStarted(c))
            .await
            .unwrap();
        ids.push(a.contact_id.expect("contact"));
    }
    assert_eq!(ids, vec![ids[0]; 3], "one contact for the three spellings");
    let contacts = db.dump_table("Contacts").await;
    assert_eq!(contacts.len(), 1);
    assert_eq!(
        col(&contacts[0], "number"),
        Some("5511999990001"),
        "digits only, as BigChat stores numbers"
    );
    assert_eq!(col(&contacts[0], "name"), Some("Maria"));
    assert_eq!(col(&contacts[0], "companyId"), Some("1"));
    for n in ["5511999990001", "+55 (11) 99999-0001"] {
        let c = db
            .store
            .find_contact(COMPANY, n)
            .await
            .unwrap()
            .expect("found");
        assert_eq!(c.id, ids[0]);
    }
    assert!(
        db.store
            .find_contact(2, "5511999990001")
            .await
            .unwrap()
            .is_none()
    );

    // No caller-ID name: the name is the number. Another company: its own contact.
    let other = inbound("u4", "+55 31 2222-1111", 300);
    let a = db
        .store
        .apply(ast, 2, &Effect::CallStarted(other))
        .await
        .unwrap();
    assert!(a.contact_created && a.ticket_created);
    let c = db
        .store
        .find_contact(2, "553122221111")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (c.name.as_str(), c.number.as_str()),
        ("553122221111", "553122221111")
    );
    db.finish().await;
}

async fn ticket_reused_while_open_or_pending(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let a = inbound("u1", "+5511999990001", 0);
    let first = db
        .store
        .apply(ast, COMPANY, &Effect::CallStarted(a.clone()))
        .await
        .unwrap();
    let ticket = first.ticket.clone().expect("ticket row");
    assert!(first.ticket_created && first.contact_created && first.record_created);
    assert_eq!(ticket.status, "pending");
    assert_eq!(ticket.last_message.as_deref(), Some("Incoming call"));
    assert_eq!(ticket.call_type.as_deref(), Some("inbound"));
    assert_eq!(ticket.asterisk_id, Some(ast));
    assert_eq!(ticket.user_id, None);
    assert_eq!(ticket.uuid.len(), 36);
    // Pending: a second call reuses it.
    let b = inbound("u2", "5511999990001", 50);
    let second = db
        .store
        .apply(ast, COMPANY, &Effect::CallStarted(b.clone()))
        .await
        .unwrap();
    assert_eq!(second.ticket_id, Some(ticket.id));
    assert!(!second.ticket_created && !second.contact_created);
    // Open (answered): a third call reuses it too and keeps it open.
    db.store
        .apply(
            ast,
            COMPANY,
            &Effect::CallUpdated(answered(&b, 55, "1001", 7)),
        )
        .await
        .unwrap();
    let c = inbound("u3", "+5511999990001", 90);
    let third = db
        .store
        .apply(ast, COMPANY, &Effect::CallStarted(c))
        .await
        .unwrap();
    assert_eq!(third.ticket_id, Some(ticket.id));
    let t3 = db.store.ticket(ticket.id).await.unwrap().unwrap();
    assert_eq!(t3.status, "open");
    assert_eq!(t3.user_id, Some(7));
    assert_eq!(t3.last_message.as_deref(), Some("Incoming call"));
    assert_eq!(db.count("Tickets").await, 1);
    db.finish().await;
}

async fn closed_ticket_reopened_as_pending(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let a = inbound("u1", "+5511999990001", 0);
    let first = db
        .store
        .apply(ast, COMPANY, &Effect::CallStarted(a.clone()))
        .await
        .unwrap();
    let tid = first.ticket_id.unwrap();
    db.store
        .apply(
            ast,
            COMPANY,
            &Effect::CallUpdated(answered(&a, 5, "1001", 7)),
        )
        .await
        .unwrap();
    // The agent closes the ticket in BigChat.
    db.exec(&format!(
        "UPDATE \"Tickets\" SET \"status\" = 'closed' WHERE \"id\" = {tid}"
    ))
    .await;
    let b = outbound("u2", "5511999990001", 100);
    let second = db
        .store
        .apply(ast, COMPANY, &Effect::CallStarted(b))
        .await
        .unwrap();
    assert_eq!(
        second.ticket_id,
        Some(tid),
        "latest closed ticket is reopened"
    );
    let t = second.ticket.expect("ticket changed");
    assert_eq!(t.status, "pending");
    assert_eq!(t.user_id, None);
    assert_eq!(t.last_message.as_deref(), Some("Calling…"));
    assert_eq!(t.call_type.as_deref(), Some("outbound"));
    assert!(t.from_me);
    // The contact's ticket on a WhatsApp connection is never reused or
    // touched: BigChat keeps one ticket per contact per connection.
    let contact = second.contact_id.unwrap();
    db.exec(
        "INSERT INTO \"Whatsapps\" (\"name\", \"status\", \"provider\", \"isDefault\", \"companyId\", \
         \"createdAt\", \"updatedAt\") VALUES ('Vendas', 'CONNECTED', 'stable', TRUE, 1, \
         '2026-11-24T10:00:00+00:00', '2026-11-24T10:00:00+00:00')",
    )
    .await;
    db.exec(&format!(
        "INSERT INTO \"Tickets\" (\"status\", \"lastMessage\", \"contactId\", \"whatsappId\", \
         \"isGroup\", \"companyId\", \"fromMe\", \"createdAt\", \"updatedAt\") VALUES ('open', 'Oi!', \
         {contact}, (SELECT \"id\" FROM \"Whatsapps\" WHERE \"name\" = 'Vendas'), FALSE, 1, FALSE, \
         '2026-11-24T11:00:00+00:00', '2026-11-24T11:00:00+00:00')"
    ))
    .await;
    let whatsapp_ticket = db.dump_table("Tickets").await.pop().expect("ticket");
    let c = inbound("u3", "5511999990001", 200);
    let third = db
        .store
        .apply(ast, COMPANY, &Effect::CallStarted(c))
        .await
        .unwrap();
    assert_eq!(third.ticket_id, Some(tid), "the voice ticket again");
    assert!(!third.ticket_created);
    let after = db.dump_table("Tickets").await;
    assert_eq!(after.len(), 2);
    assert_eq!(
        after.last(),
        Some(&whatsapp_ticket),
        "WhatsApp ticket untouched"
    );
    db.finish().await;
}

async fn call_lifecycle_moves_record_and_ticket(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let a = inbound("1700000001.1", "+5511999990001", 0);
    let started = db
        .store
        .apply(ast, COMPANY, &Effect::CallStarted(a.clone()))
        .await
        .unwrap();
    let rec = started.record.clone().expect("record");
    assert_eq!(
        (
            rec.status.as_str(),
            rec.direction.as_str(),
            rec.unique_id.as_str()
        ),
        ("ringing", "inbound", "1700000001.1")
    );
    assert_eq!(rec.started_at, t(0));
    assert_eq!(rec.ticket_id, started.ticket_id);
    assert_eq!(rec.contact_id, started.contact_id);
    assert_eq!((rec.asterisk_id, rec.company_id), (ast, COMPANY));

    let ans = answered(&a, 12, "1001", 7);
    let up = db
        .store
        .apply(ast, COMPANY, &Effect::CallUpdated(ans.clone()))
        .await
        .unwrap();
    let rec = up.record.expect("record changed");
    assert_eq!(rec.status, "answered");
    assert_eq!(rec.answered_at, Some(t(12)));
    assert_eq!(rec.agent_extension.as_deref(), Some("1001"));
    assert_eq!(rec.user_id, Some(7));
    let ticket = up.ticket.expect("ticket changed");
    assert_eq!(
        (
            ticket.status.as_str(),
            ticket.user_id,
            ticket.last_message.as_deref()
        ),
        ("open", Some(7), Some("Call answered"))
    );

    let mut hold = ans.clone();
    hold.status = CallStatus::OnHold;
    let h = db
        .store
        .apply(ast, COMPANY, &Effect::CallUpdated(hold))
        .await
        .unwrap();
    assert_eq!(h.record.unwrap().status, "on_hold");
    assert_eq!(
        h.ticket.unwrap().last_message.as_deref(),
        Some("Call on hold")
    );

    let mut xfer = answered(&a, 12, "1002", 8);
    xfer.status = CallStatus::Transferred;
    xfer.hold_time = 10;
    let x = db
        .store
        .apply(ast, COMPANY, &Effect::CallUpdated(xfer.clone()))
        .await
        .unwrap();
    let tk = x.ticket.unwrap();
    assert_eq!(tk.user_id, Some(8), "the ticket follows the new agent");
    assert_eq!(tk.last_message.as_deref(), Some("Call transferred to 1002"));

    let mut fin = ended(&xfer, CallStatus::Completed, 204);
    fin.recording_url = Some("https://rec.example/a.wav".into());
    let e = db
        .store
        .apply(ast, COMPANY, &Effect::CallEnded(fin))
        .await
        .unwrap();
    assert!(e.message_created);
    let rec = e.record.expect("final record");
    assert_eq!(rec.status, "completed");
    assert_eq!(rec.ended_at, Some(t(204)));
    assert_eq!((rec.duration, rec.hold_time, rec.talk_time), (204, 10, 182));
    assert_eq!(
        rec.recording_url.as_deref(),
        Some("https://rec.example/a.wav")
    );
    let tk = e.ticket.expect("ticket changed");
    assert_eq!(tk.last_message.as_deref(), Some("Call ended 3:24"));
    assert_eq!(tk.status, "open");
    assert_eq!(tk.unread_messages, 0);
    assert!(db.store.live_calls(ast).await.unwrap().is_empty());
    db.finish().await;
}

async fn exactly_one_message_and_tracking_per_call(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let a = inbound("u1", "+5511999990001", 0);
    let ans = answered(&a, 10, "1001", 7);
    let mut fin = ended(&ans, CallStatus::Completed, 192);
    fin.recording_url = Some("https://rec.example/u1.wav".into());
    let missed = ended(
        &inbound("u2", "+552133334444", 300),
        CallStatus::NoAnswer,
        330,
    );
    let out = ended(
        &answered(&outbound("u3", "+5511977776666", 400), 405, "1001", 7),
        CallStatus::Completed,
        465,
    );
    let busy = ended(
        &outbound("u4", "+5511977776666", 500),
        CallStatus::Busy,
        502,
    );
    let effects = vec![
        Effect::CallStarted(a),
        Effect::CallUpdated(ans),
        Effect::CallEnded(fin.clone()),
        Effect::CallEnded(fin.clone()),
        Effect::CallEnded(missed.clone()),
        Effect::CallEnded(out),
        Effect::CallEnded(busy),
        Effect::CallEnded(missed),
    ];
    apply_all(&db, ast, &effects).await;
    let msgs = db.dump_table("Messages").await;
    assert_eq!(msgs.len(), 4, "one message per call: {msgs:#?}");
    let bodies: Vec<_> = msgs
        .iter()
        .map(|m| col(m, "body").unwrap().to_string())
        .collect();
    assert_eq!(
        bodies,
        vec![
            "Inbound call from 5511999990001 answered by 1001, 3:12",
            "Missed call from 552133334444",
            "Outbound call to 5511977776666 by 1001, answered, 1:05",
            "Outbound call to 5511977776666 by 1001, busy",
        ]
    );
    let ids: Vec<_> = msgs.iter().map(|m| col(m, "id").unwrap()).collect();
    let want: Vec<String> = ["u1", "u2", "u3", "u4"]
        .iter()
        .map(|u| format!("asterisk-{ast}-{u}"))
        .collect();
    assert_eq!(ids, want, "deterministic message ids");
    let types: Vec<_> = msgs.iter().map(|m| col(m, "mediaType").unwrap()).collect();
    assert_eq!(types, ["audio", "call_log", "audio", "audio"]);
    for m in &msgs {
        assert!(col(m, "callRecordId").is_some());
        assert_eq!(col(m, "ack"), Some("3"));
    }
    // The message is dated by the call: created when it started.
    assert!(col(&msgs[0], "createdAt").unwrap().contains("10:00:00"));
    assert!(col(&msgs[0], "updatedAt").unwrap().contains("10:03:12"));
    // An absolute recording URL cannot be a BigChat mediaUrl (BigChat
    // prefixes its own public/ URL); it stays on the call record.
    assert_eq!(col(&msgs[0], "mediaUrl"), None);
    assert_eq!(col(&msgs[1], "mediaUrl"), None);
    let from_me: Vec<_> = msgs
        .iter()
        .map(|m| col(m, "fromMe").unwrap().to_string())
        .collect();
    let (f, tr) = match backend {
        Backend::Sqlite => ("0", "1"),
        Backend::Postgres | Backend::BigChat => ("false", "true"),
    };
    assert_eq!(from_me, vec![f, f, tr, tr]);

    let trak = db.dump_table("TicketTraking").await;
    assert_eq!(trak.len(), 4);
    let rec = &db.store.recent_calls(&CallFilter::default()).await.unwrap();
    let first = rec.iter().find(|r| r.unique_id == "u1").unwrap();
    assert_eq!(
        col(&trak[0], "callRecordId"),
        Some(first.id.to_string().as_str())
    );
    assert_eq!(col(&trak[0], "userId"), Some("7"));
    let voice = db
        .dump_table("Asterisks")
        .await
        .into_iter()
        .find_map(|a| col(&a, "whatsappId").map(str::to_string))
        .expect("the server has its voice connection");
    assert_eq!(col(&trak[0], "whatsappId"), Some(voice.as_str()));
    assert!(col(&trak[0], "queuedAt").unwrap().contains("10:00:00"));
    assert!(col(&trak[0], "startedAt").unwrap().contains("10:00:10"));
    assert!(col(&trak[0], "finishedAt").unwrap().contains("10:03:12"));
    assert_eq!(
        col(&trak[1], "startedAt"),
        None,
        "missed call never started"
    );

    // Ticket of the missed call: one unread, readable last message.
    let missed_rec = rec.iter().find(|r| r.unique_id == "u2").unwrap();
    let tk = db
        .store
        .ticket(missed_rec.ticket_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (tk.unread_messages, tk.last_message.as_deref()),
        (1, Some("Missed call"))
    );
    let busy_rec = rec.iter().find(|r| r.unique_id == "u4").unwrap();
    let tk = db
        .store
        .ticket(busy_rec.ticket_id.unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(tk.last_message.as_deref(), Some("Busy"));
    db.finish().await;
}

async fn replay_twice_leaves_identical_rows(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let effects = scenario();
    apply_all(&db, ast, &effects).await;
    let once = db.dump().await;
    assert_eq!(once["CallRecords"].len(), 5);
    assert_eq!(once["Messages"].len(), 5);
    assert_eq!(once["Contacts"].len(), 4);
    for e in &effects {
        let applied = db.store.apply(ast, COMPANY, e).await.unwrap();
        assert!(
            applied.is_noop(),
            "replayed {e:?} changed rows: {applied:?}"
        );
    }
    let twice = db.dump().await;
    assert_eq!(once, twice, "a replay must not change a single value");

    // The same effects into a fresh database give the same content.
    let Some((fresh, ast2)) = setup(backend).await else {
        return;
    };
    assert_eq!(ast, ast2);
    apply_all(&fresh, ast2, &effects).await;
    assert_eq!(db.dump_content().await, fresh.dump_content().await);
    fresh.finish().await;
    db.finish().await;
}

async fn out_of_order_effects_converge(backend: Backend) {
    let effects = scenario();
    let Some((in_order, ast)) = setup(backend).await else {
        return;
    };
    apply_all(&in_order, ast, &effects).await;

    // Joined mid-call / replay: the ends first, then everything (old starts
    // and updates arriving after the end must not undo it).
    let Some((late, ast2)) = setup(backend).await else {
        return;
    };
    let ends: Vec<Effect> = effects
        .iter()
        .filter(|e| matches!(e, Effect::CallEnded(_)))
        .cloned()
        .collect();
    apply_all(&late, ast2, &ends).await;
    apply_all(&late, ast2, &effects).await;
    let (a, b) = (in_order.dump_content().await, late.dump_content().await);
    // Creation order (and so ids) differs; compare contents.
    assert_eq!(sorted(&a["CallRecords"]), sorted(&b["CallRecords"]));
    assert_eq!(sorted(&a["Contacts"]), sorted(&b["Contacts"]));
    assert_eq!(sorted(&a["Tickets"]), sorted(&b["Tickets"]));
    assert_eq!(sorted(&a["Messages"]), sorted(&b["Messages"]));
    assert_eq!(sorted(&a["TicketTraking"]), sorted(&b["TicketTraking"]));
    in_order.finish().await;
    late.finish().await;
}

type Rows = Vec<std::collections::BTreeMap<String, Option<String>>>;

/// Rows without their surrogate keys, sorted (row ids depend on the order
/// rows were created in, which legitimately differs).
fn sorted(rows: &Rows) -> Vec<Vec<(String, Option<String>)>> {
    let mut v = strip_ids(rows);
    v.sort();
    v
}

fn strip_ids(rows: &Rows) -> Vec<Vec<(String, Option<String>)>> {
    rows.iter()
        .map(|r| {
            r.iter()
                .filter(|(k, _)| {
                    !matches!(k.as_str(), "id" | "ticketId" | "contactId" | "callRecordId")
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .collect()
}

async fn ended_before_started_converges(backend: Backend) {
    let a = inbound("u1", "+5511999990001", 0);
    let ans = answered(&a, 10, "1001", 7);
    let fin = ended(&ans, CallStatus::Completed, 202);
    let Some((x, ast)) = setup(backend).await else {
        return;
    };
    apply_all(
        &x,
        ast,
        &[
            Effect::CallStarted(a.clone()),
            Effect::CallUpdated(ans.clone()),
            Effect::CallEnded(fin.clone()),
        ],
    )
    .await;
    let Some((y, ast2)) = setup(backend).await else {
        return;
    };
    // Only the end is seen (joined mid-call), then the rest arrives late.
    let e = y
        .store
        .apply(ast2, COMPANY, &Effect::CallEnded(fin.clone()))
        .await
        .unwrap();
    assert!(e.record_created && e.message_created && e.ticket_created);
    let tk = e.ticket.unwrap();
    assert_eq!((tk.status.as_str(), tk.user_id), ("open", Some(7)));
    let late_start = y
        .store
        .apply(ast2, COMPANY, &Effect::CallStarted(a))
        .await
        .unwrap();
    assert!(late_start.is_noop());
    let late_update = y
        .store
        .apply(ast2, COMPANY, &Effect::CallUpdated(ans))
        .await
        .unwrap();
    assert!(
        late_update.is_noop(),
        "a live update never reopens an ended call"
    );
    assert_eq!(x.dump_content().await, y.dump_content().await);
    x.finish().await;
    y.finish().await;
}

async fn reconciliation_closes_live_records(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let a = answered(&inbound("u1", "+5511999990001", 0), 5, "1001", 7);
    let b = inbound("u2", "+552133334444", 20);
    apply_all(
        &db,
        ast,
        &[
            Effect::CallStarted(a.clone()),
            Effect::CallUpdated(a.clone()),
        ],
    )
    .await;
    apply_all(&db, ast, &[Effect::CallStarted(b.clone())]).await;
    let done = ended(
        &inbound("u3", "+5511977776666", 30),
        CallStatus::NoAnswer,
        40,
    );
    apply_all(&db, ast, &[Effect::CallEnded(done)]).await;
    let live: Vec<_> = db.store.live_calls(ast).await.unwrap();
    let ids: Vec<_> = live.iter().map(|r| r.unique_id.as_str()).collect();
    assert_eq!(ids, vec!["u1", "u2"]);

    let closed = db
        .store
        .close_reconciled(ast, COMPANY, "u1", t(65))
        .await
        .unwrap()
        .unwrap();
    let rec = closed.record.unwrap();
    assert_eq!(rec.status, "completed");
    assert!(rec.reconciled);
    assert_eq!(rec.ended_at, Some(t(65)));
    assert_eq!((rec.duration, rec.talk_time), (65, 60));
    assert!(closed.message_created);
    let closed_b = db
        .store
        .close_reconciled(ast, COMPANY, "u2", t(60))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(closed_b.record.unwrap().status, "no_answer");
    assert!(
        db.store
            .close_reconciled(ast, COMPANY, "u2", t(70))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        db.store
            .close_reconciled(ast, COMPANY, "nope", t(70))
            .await
            .unwrap()
            .is_none()
    );
    assert!(db.store.live_calls(ast).await.unwrap().is_empty());
    assert_eq!(db.count("Messages").await, 3);
    db.finish().await;
}

async fn recent_calls_filters(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    apply_all(&db, ast, &scenario()).await;
    let all = db.store.recent_calls(&CallFilter::default()).await.unwrap();
    let order: Vec<_> = all.iter().map(|r| r.unique_id.as_str()).collect();
    assert_eq!(
        order,
        vec![
            "1700000005.7",
            "1700000004.2",
            "1700000003.9",
            "1700000002.5",
            "1700000001.1"
        ]
    );
    let f = |filter: CallFilter| {
        let store = &db.store;
        async move {
            store
                .recent_calls(&filter)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.unique_id)
                .collect::<Vec<_>>()
        }
    };
    let completed = f({
        let mut c = bigchat_voice::store::CallFilter::default();
        c.status = Some(CallStatus::Completed);
        c
    })
    .await;
    assert_eq!(
        completed,
        vec!["1700000005.7", "1700000003.9", "1700000001.1"]
    );
    let outbound = f({
        let mut c = bigchat_voice::store::CallFilter::default();
        c.direction = Some(Direction::Outbound);
        c
    })
    .await;
    assert_eq!(outbound, vec!["1700000004.2", "1700000003.9"]);
    let agent = f({
        let mut c = bigchat_voice::store::CallFilter::default();
        c.agent_extension = Some("1002".into());
        c
    })
    .await;
    assert_eq!(agent, vec!["1700000005.7"]);
    let by_user = f({
        let mut c = bigchat_voice::store::CallFilter::default();
        c.user_id = Some(7);
        c.company_id = Some(COMPANY);
        c.asterisk_id = Some(ast);
        c
    })
    .await;
    assert_eq!(by_user.len(), 3);
    let range = f({
        let mut c = bigchat_voice::store::CallFilter::default();
        c.since = Some(t(30));
        c.until = Some(t(300));
        c
    })
    .await;
    assert_eq!(range, vec!["1700000003.9", "1700000002.5"]);
    let limited = f({
        let mut c = bigchat_voice::store::CallFilter::default();
        c.limit = Some(2);
        c
    })
    .await;
    assert_eq!(limited.len(), 2);
    let none = f({
        let mut c = bigchat_voice::store::CallFilter::default();
        c.company_id = Some(99);
        c
    })
    .await;
    assert!(none.is_empty());
    db.finish().await;
}

async fn asterisk_rows_and_status(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let again = db
        .store
        .ensure_asterisk("pbx-1", "10.0.0.5", 5038, "bigchat", COMPANY)
        .await
        .unwrap();
    assert_eq!(again, ast);
    let moved = db
        .store
        .ensure_asterisk("pbx-1", "10.0.0.6", 5039, "bigchat2", COMPANY)
        .await
        .unwrap();
    assert_eq!(moved, ast);
    let other = db
        .store
        .ensure_asterisk("pbx-2", "10.0.0.7", 5038, "bigchat", COMPANY)
        .await
        .unwrap();
    assert_ne!(other, ast);
    let row = db
        .store
        .set_asterisk_status(ast, AsteriskStatus::Connecting)
        .await
        .unwrap();
    assert_eq!(
        (
            row.status.as_str(),
            row.host.as_str(),
            row.port,
            row.protocol.as_str()
        ),
        ("CONNECTING", "10.0.0.6", 5039, "ami")
    );
    let row = db
        .store
        .set_asterisk_status(ast, AsteriskStatus::Connected)
        .await
        .unwrap();
    assert_eq!(row.status, "CONNECTED");
    let same = db
        .store
        .set_asterisk_status(ast, AsteriskStatus::Connected)
        .await
        .unwrap();
    assert_eq!(
        same.updated_at, row.updated_at,
        "no change, no new updatedAt"
    );
    let rows = db.dump_table("Asterisks").await;
    assert!(
        rows.iter().all(|r| col(r, "password").is_none()),
        "never a secret"
    );
    assert!(
        db.store
            .set_asterisk_status(9999, AsteriskStatus::Connected)
            .await
            .is_err()
    );
    db.finish().await;
}

async fn data_errors_are_not_retryable(backend: Backend) {
    let Some((db, _ast)) = setup(backend).await else {
        return;
    };
    // An effect for an Asterisk id that does not exist violates a foreign key.
    let err = db
        .store
        .apply(
            424242,
            COMPANY,
            &Effect::CallStarted(inbound("u1", "+551100000000", 0)),
        )
        .await
        .expect_err("unknown asteriskId");
    assert!(!err.is_retryable(), "{err:?}");
    assert_eq!(
        db.count("Contacts").await,
        0,
        "the transaction was rolled back"
    );
    db.finish().await;
}

async fn apply_many_is_all_or_nothing(backend: Backend) {
    use bigchat_voice::store::writer::Job;
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let job = |asterisk_id, effect| Job::new(asterisk_id, COMPANY, effect);
    // The second job violates a foreign key: nothing of the batch is kept.
    let batch = vec![
        job(ast, Effect::CallStarted(inbound("u1", "+5511999990001", 0))),
        job(
            4242,
            Effect::CallStarted(inbound("u2", "+5511999990002", 0)),
        ),
    ];
    let err = db.store.apply_many(&batch).await.expect_err("refused");
    assert!(!err.is_retryable());
    assert_eq!(db.count("CallRecords").await, 0);
    assert_eq!(db.count("Contacts").await, 0);

    // A whole scenario in one transaction equals applying it effect by effect.
    let effects = scenario();
    let jobs: Vec<Job> = effects.iter().map(|e| job(ast, e.clone())).collect();
    let applied = db.store.apply_many(&jobs).await.unwrap();
    assert_eq!(applied.len(), jobs.len());
    assert!(applied[0].record_created);
    let Some((single, ast2)) = setup(backend).await else {
        return;
    };
    apply_all(&single, ast2, &effects).await;
    // (PostgreSQL sequences are not rolled back: compare without surrogate keys.)
    let (a, b) = (db.dump_content().await, single.dump_content().await);
    for table in TABLES {
        assert_eq!(sorted(&a[table]), sorted(&b[table]), "{table}");
    }
    // And replaying the batch changes nothing.
    let before = db.dump().await;
    let again = db.store.apply_many(&jobs).await.unwrap();
    assert!(again.iter().all(|a| a.is_noop()));
    assert_eq!(before, db.dump().await);
    single.finish().await;
    db.finish().await;
}

/// A late effect that knows nothing of the answer (a tracker that rejoined
/// the call after a restart) never erases the answer already stored.
async fn stored_answer_is_never_forgotten(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let a = inbound("1700000009.1", "+55 11 99999-0009", 0);
    let a_ans = answered(&a, 5, "1001", 7);
    apply_all(
        &db,
        ast,
        &[Effect::CallStarted(a.clone()), Effect::CallUpdated(a_ans)],
    )
    .await;
    // The late view: never saw the answer, ends as not answered.
    let late_end = ended(&a, CallStatus::NoAnswer, 65);
    apply_all(&db, ast, &[Effect::CallEnded(late_end)]).await;
    let rows = db
        .store
        .recent_calls(&CallFilter::default())
        .await
        .expect("calls");
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    assert_eq!(r.status, "completed");
    assert_eq!(r.answered_at, Some(t(5)));
    assert_eq!(r.agent_extension.as_deref(), Some("1001"));
    assert_eq!(r.talk_time, 60);
    db.finish().await;
}

/// A click-to-call whose Originate failed before any channel existed: the
/// record made when it was placed ends `failed`, once, with its message;
/// unknown, answered or already ended records are left alone.
async fn failed_originate_ends_the_placed_record(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let placed = outbound("bcv-1.1", "+5511988887777", 0);
    db.store
        .apply(ast, COMPANY, &Effect::CallStarted(placed.clone()))
        .await
        .expect("placed");
    let failed = Effect::OriginateFailed {
        unique_id: "bcv-1.1".into(),
        at: t(3),
    };
    let a = db.store.apply(ast, COMPANY, &failed).await.expect("failed");
    let r = a.record.expect("the record changed");
    assert_eq!((r.status.as_str(), r.duration), ("failed", 3));
    assert_eq!(r.ended_at, Some(t(3)));
    assert!(!r.reconciled);
    assert!(a.message_created);
    assert!(
        db.store
            .apply(ast, COMPANY, &failed)
            .await
            .expect("again")
            .is_noop()
    );

    // Unknown id: nothing.
    let unknown = Effect::OriginateFailed {
        unique_id: "bcv-9.9".into(),
        at: t(3),
    };
    assert!(
        db.store
            .apply(ast, COMPANY, &unknown)
            .await
            .expect("unknown")
            .is_noop()
    );
    // Answered: the agent picked up, the failure report is not about this call.
    let other = outbound("bcv-2.1", "+5511988887777", 10);
    let answered_call = answered(&other, 12, "1001", 7);
    for e in [
        Effect::CallStarted(other),
        Effect::CallUpdated(answered_call),
    ] {
        db.store.apply(ast, COMPANY, &e).await.expect("apply");
    }
    let late = Effect::OriginateFailed {
        unique_id: "bcv-2.1".into(),
        at: t(13),
    };
    assert!(
        db.store
            .apply(ast, COMPANY, &late)
            .await
            .expect("late")
            .is_noop()
    );
    assert_eq!(db.count("CallRecords").await, 2);
    assert_eq!(db.count("Messages").await, 1);
    db.finish().await;
}

/// Effects carry the journal position of their frame: replaying the
/// journal after a restart re-sends effects already stored, and those
/// change nothing (an older state never overwrites a newer one, nothing is
/// reported as changed, so nothing is published twice), while the first
/// effect beyond the stored position is applied.
async fn journal_positions_make_replays_noops(backend: Backend) {
    use bigchat_voice::store::writer::Job;
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let a = inbound("u1", "+5511999990001", 0);
    let ans = answered(&a, 10, "1001", 7);
    let rec = {
        let mut c = ans.clone();
        c.recording_url = Some("recordings/u1.wav".into());
        c.recording_file = Some("/var/spool/asterisk/monitor/u1.wav".into());
        c
    };
    let fin = ended(&rec, CallStatus::Completed, 70);
    let job = |effect, seq| Job::new(ast, COMPANY, effect).at_position(seq);
    let first = [
        job(Effect::CallStarted(a.clone()), 101),
        job(Effect::CallUpdated(ans.clone()), 102),
        job(Effect::CallUpdated(rec.clone()), 103),
    ];
    for j in &first {
        db.store
            .apply_many(std::slice::from_ref(j))
            .await
            .expect("apply");
    }
    let before = db.dump_content().await;
    // The restart: the same frames again, in one batch and one by one.
    let replayed = db.store.apply_many(&first).await.expect("replay");
    assert!(
        replayed
            .iter()
            .all(|a| a.record.is_none() && !a.message_created),
        "nothing changed: {replayed:?}"
    );
    for j in &first {
        let again = db
            .store
            .apply_many(std::slice::from_ref(j))
            .await
            .expect("replay");
        assert!(
            again[0].record.is_none(),
            "position {:?} applied twice",
            j.position
        );
    }
    assert_eq!(db.dump_content().await, before, "the recording was kept");
    // Without positions, the older update would have taken the recording
    // away: the positions are what keeps it.
    let ended = db
        .store
        .apply_many(&[job(Effect::CallEnded(fin.clone()), 104)])
        .await
        .expect("end");
    assert!(ended[0].record.is_some() && ended[0].message_created);
    let row = db
        .store
        .recent_calls(&Default::default())
        .await
        .expect("calls");
    assert_eq!(row.len(), 1);
    assert_eq!(row[0].journal_seq, Some(104));
    assert_eq!(row[0].recording_url.as_deref(), Some("recordings/u1.wav"));
    assert_eq!(row[0].status, "completed");
    // Something without a journal (`sync`, say) writes without a position
    // and keeps the stored one.
    let reconciled = {
        let mut c = fin.clone();
        c.reconciled = true;
        c
    };
    db.store
        .apply(ast, COMPANY, &Effect::CallEnded(reconciled))
        .await
        .expect("apply");
    let row = db
        .store
        .recent_calls(&Default::default())
        .await
        .expect("calls");
    assert_eq!(row[0].journal_seq, Some(104));
    assert!(row[0].reconciled);
    // Two effects at one position (a frame that starts and ends a call,
    // beyond the index bits): both are applied, the end is not skipped.
    let b = inbound("u2", "+5511999990002", 100);
    let b_end = store_support::ended(&b, CallStatus::NoAnswer, 130);
    db.store
        .apply_many(&[
            job(Effect::CallStarted(b), 500),
            job(Effect::CallEnded(b_end), 500),
        ])
        .await
        .expect("start and end");
    let rows = db
        .store
        .recent_calls(&Default::default())
        .await
        .expect("calls");
    let u2 = rows.iter().find(|r| r.unique_id == "u2").expect("u2");
    assert_eq!(u2.status, "no_answer");
    db.finish().await;
}

/// Originate idempotency keys: one claim per (company, key), even when
/// claimed concurrently; a second claim finds the first call and whether
/// it was the same request; a released key can be claimed again; two
/// companies' keys never meet. Also: `CallFilter::unique_id`.
async fn originate_keys_are_claimed_once(backend: Backend) {
    use bigchat_voice::store::{OriginateClaim, OriginateKey};
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let store = &db.store;
    let claims = futures::future::join_all((0..8).map(|i| {
        let id = format!("call-{i}");
        async move {
            store
                .claim_originate_key(&OriginateKey::new(COMPANY, "k-1", "h-1", ast, &id))
                .await
                .expect("claim")
        }
    }))
    .await;
    let won: Vec<_> = claims
        .iter()
        .filter(|c| **c == OriginateClaim::Claimed)
        .collect();
    assert_eq!(won.len(), 1, "{claims:?}");
    let first = claims
        .iter()
        .find_map(|c| match c {
            OriginateClaim::Taken { unique_id, .. } => Some(unique_id.clone()),
            _ => None,
        })
        .expect("taken");
    // The same request again: the first call, as a retry.
    assert_eq!(
        store
            .claim_originate_key(&OriginateKey::new(COMPANY, "k-1", "h-1", ast, "call-w"))
            .await
            .expect("claim"),
        OriginateClaim::Taken {
            same_request: true,
            asterisk_id: ast,
            unique_id: first.clone()
        }
    );
    assert_eq!(
        store
            .find_originate_key(COMPANY, "k-1", "h-1")
            .await
            .expect("find"),
        Some(OriginateClaim::Taken {
            same_request: true,
            asterisk_id: ast,
            unique_id: first.clone()
        })
    );
    assert_eq!(
        store
            .find_originate_key(COMPANY, "k-9", "h-1")
            .await
            .expect("find"),
        None
    );
    let again = store
        .claim_originate_key(&OriginateKey::new(COMPANY, "k-1", "h-2", ast, "call-x"))
        .await
        .expect("claim");
    assert_eq!(
        again,
        OriginateClaim::Taken {
            same_request: false,
            asterisk_id: ast,
            unique_id: first.clone()
        }
    );
    // Another company's key of the same name is its own.
    assert_eq!(
        store
            .claim_originate_key(&OriginateKey::new(COMPANY + 1, "k-1", "h-1", ast, "call-y"))
            .await
            .expect("claim"),
        OriginateClaim::Claimed
    );
    // Released (only by the call it names), then free again.
    store
        .release_originate_key(COMPANY, "k-1", "call-x")
        .await
        .expect("release");
    assert!(matches!(
        store
            .claim_originate_key(&OriginateKey::new(COMPANY, "k-1", "h-1", ast, "call-z"))
            .await
            .expect("claim"),
        OriginateClaim::Taken { .. }
    ));
    store
        .release_originate_key(COMPANY, "k-1", &first)
        .await
        .expect("release");
    assert_eq!(
        store
            .claim_originate_key(&OriginateKey::new(COMPANY, "k-1", "h-1", ast, "call-z"))
            .await
            .expect("claim"),
        OriginateClaim::Claimed
    );
    // One call by id.
    apply_all(
        &db,
        ast,
        &[
            Effect::CallStarted(inbound("u1", "+5511999990001", 0)),
            Effect::CallStarted(inbound("u2", "+5511999990002", 5)),
        ],
    )
    .await;
    let rows = store
        .recent_calls(&{
            let mut c = bigchat_voice::store::CallFilter::default();
            c.unique_id = Some("u2".into());
            c
        })
        .await
        .expect("calls");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].unique_id, "u2");
    db.finish().await;
}

/// A call between two extensions: recorded, with no contact, no ticket
/// and no message; the record keeps why it is internal.
async fn internal_calls_have_no_contact_and_no_ticket(backend: Backend) {
    let Some((db, ast)) = setup(backend).await else {
        return;
    };
    let contacts = db.count("Contacts").await;
    let tickets = db.count("Tickets").await;
    let messages = db.count("Messages").await;
    let mut call = {
        let mut c = Call::ringing("1700000100.1", Direction::Internal, t(0));
        c.direction = Direction::Internal;
        c.caller_id = "201".into();
        c.called_number = "202".into();
        c.contact_number = String::new();
        c.agent_extension = Some("201".into());
        c.classification = Some("internal: SIP/201-00000001 rang SIP/202-00000002".into());
        c
    };
    apply_all(&db, ast, &[Effect::CallStarted(call.clone())]).await;
    call = answered(&call, 5, "201", 7);
    let end = ended(&call, CallStatus::Completed, 65);
    apply_all(
        &db,
        ast,
        &[Effect::CallUpdated(call), Effect::CallEnded(end)],
    )
    .await;
    let rows = db
        .store
        .recent_calls(&{
            let mut c = CallFilter::default();
            c.direction = Some(Direction::Internal);
            c
        })
        .await
        .expect("calls");
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.direction.as_str(), row.status.as_str()),
        ("internal", "completed")
    );
    assert_eq!((row.contact_id, row.ticket_id), (None, None));
    assert_eq!(row.duration, 65);
    assert_eq!(
        row.classification.as_deref(),
        Some("internal: SIP/201-00000001 rang SIP/202-00000002")
    );
    let back = row.to_call().expect("to_call");
    assert_eq!(
        (back.direction, back.contact_number.as_str()),
        (Direction::Internal, "")
    );
    assert_eq!(db.count("Contacts").await, contacts);
    assert_eq!(db.count("Tickets").await, tickets);
    assert_eq!(db.count("Messages").await, messages);
    db.finish().await;
}

/// SQLite's migration 5 makes `CallRecords` again: the records keep their
/// ids and every message and tracking row still points at its record.
#[tokio::test]
async fn the_sqlite_table_rebuild_keeps_every_link() {
    let Some((db, ast)) = setup(Backend::Sqlite).await else {
        return;
    };
    apply_all(&db, ast, &scenario()).await;
    let links = |rows: Vec<std::collections::BTreeMap<String, Option<String>>>| {
        let mut v: Vec<(Option<String>, Option<String>)> = rows
            .into_iter()
            .map(|r| {
                (
                    r.get("id").cloned().flatten(),
                    r.get("callRecordId").cloned().flatten(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let messages = links(db.dump_table("Messages").await);
    let traking = links(db.dump_table("TicketTraking").await);
    assert!(messages.iter().all(|(_, r)| r.is_some()) && !messages.is_empty());
    let records = db.dump_table("CallRecords").await;
    db.exec_sqlite_script(include_str!(
        "../migrations/sqlite/20261201000005_internal_calls.sql"
    ))
    .await;
    assert_eq!(links(db.dump_table("Messages").await), messages);
    assert_eq!(links(db.dump_table("TicketTraking").await), traking);
    assert_eq!(db.dump_table("CallRecords").await, records);
    // The store goes on writing into the new table.
    apply_all(
        &db,
        ast,
        &[Effect::CallStarted(inbound(
            "1700000200.1",
            "+5511900000001",
            500,
        ))],
    )
    .await;
    assert_eq!(db.count("CallRecords").await, records.len() + 1);
    db.finish().await;
}

macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Sqlite).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::Postgres).await;
                }
            )*
        }
        /// The same suite in attach mode, on BigChat's real schema.
        mod bigchat {
            $(
                #[tokio::test]
                async fn $name() {
                    super::$name(super::Backend::BigChat).await;
                }
            )*
        }
    };
}

suite!(
    contact_numbers_normalise_to_one_contact,
    ticket_reused_while_open_or_pending,
    closed_ticket_reopened_as_pending,
    call_lifecycle_moves_record_and_ticket,
    exactly_one_message_and_tracking_per_call,
    replay_twice_leaves_identical_rows,
    out_of_order_effects_converge,
    ended_before_started_converges,
    reconciliation_closes_live_records,
    recent_calls_filters,
    asterisk_rows_and_status,
    data_errors_are_not_retryable,
    apply_many_is_all_or_nothing,
    stored_answer_is_never_forgotten,
    failed_originate_ends_the_placed_record,
    journal_positions_make_replays_noops,
    originate_keys_are_claimed_once,
    internal_calls_have_no_contact_and_no_ticket,
);

#[tokio::test]
async fn unsupported_url_is_rejected() {
    let err = bigchat_voice::store::AnyStore::connect("mysql://x")
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        bigchat_voice::store::StoreError::InvalidUrl { .. }
    ));
}

#[tokio::test]
async fn memory_sqlite_works() {
    let store = bigchat_voice::store::AnyStore::connect("sqlite::memory:")
        .await
        .unwrap();
    let ast = store.ensure_asterisk("m", "h", 5038, "u", 1).await.unwrap();
    let a = store
        .apply(
            ast,
            1,
            &Effect::CallStarted(inbound("u1", "+5511999990001", 0)),
        )
        .await
        .unwrap();
    assert!(a.record_created);
    assert_eq!(store.live_calls(ast).await.unwrap().len(), 1);
}

/// `Applied` without what legitimately differs between two fresh databases
/// (wall-clock `createdAt`/`updatedAt`, the random ticket uuid).
fn stable(mut a: bigchat_voice::store::Applied) -> bigchat_voice::store::Applied {
    let epoch = chrono::DateTime::UNIX_EPOCH;
    if let Some(r) = a.record.as_mut() {
        (r.created_at, r.updated_at) = (epoch, epoch);
    }
    for t in [a.ticket.as_mut(), a.ticket_before.as_mut()]
        .into_iter()
        .flatten()
    {
        (t.created_at, t.updated_at, t.uuid) = (epoch, epoch, String::new());
    }
    if let Some(c) = a.contact.as_mut() {
        (c.created_at, c.updated_at) = (epoch, epoch);
    }
    a
}

/// A file database writes effects through the store's direct connection,
/// an in-memory one through sqlx's pool: same effects, same results, same
/// rows (read back through the pool), one by one and in one batch.
#[tokio::test]
async fn sqlite_file_and_memory_paths_agree() {
    let file = TestDb::new(Backend::Sqlite).await.expect("sqlite");
    let memory = bigchat_voice::store::AnyStore::connect("sqlite::memory:")
        .await
        .expect("memory");
    let mut results = Vec::new();
    for store in [&file.store, &memory] {
        let ast = store
            .ensure_asterisk("pbx-1", "10.0.0.5", 5038, "bigchat", COMPANY)
            .await
            .expect("asterisk");
        let effects = scenario();
        let (first, rest) = effects.split_at(7);
        let mut applied = Vec::new();
        for e in first {
            applied.push(stable(store.apply(ast, COMPANY, e).await.expect("apply")));
        }
        let jobs: Vec<_> = rest
            .iter()
            .map(|e| bigchat_voice::store::writer::Job::new(ast, COMPANY, e.clone()))
            .collect();
        applied.extend(
            store
                .apply_many(&jobs)
                .await
                .expect("batch")
                .into_iter()
                .map(stable),
        );
        let rows: Vec<_> = store
            .recent_calls(&CallFilter::default())
            .await
            .expect("rows")
            .into_iter()
            .map(|mut r| {
                let epoch = chrono::DateTime::UNIX_EPOCH;
                (r.created_at, r.updated_at) = (epoch, epoch);
                r
            })
            .collect();
        assert_eq!(rows.len(), 5);
        results.push((applied, rows));
    }
    assert_eq!(results[0], results[1]);
    assert!(results[0].0.iter().any(|a| a.message_created));
    file.finish().await;
}

/// An SQLite file that is not the connector's is refused as it was: not
/// switched to WAL, no table added.
#[tokio::test]
async fn a_foreign_sqlite_file_is_refused_untouched() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("other.db");
    let other = rusqlite::Connection::open(&path).expect("open");
    other
        .execute_batch(
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY); INSERT INTO invoices VALUES (1);",
        )
        .expect("someone else's table");
    drop(other);
    let url = format!("sqlite://{}", path.display());
    let err = bigchat_voice::store::AnyStore::connect(&url)
        .await
        .expect_err("refused");
    assert!(
        err.to_string()
            .contains("neither empty nor a BigChat database"),
        "{err}"
    );
    let other = rusqlite::Connection::open(&path).expect("open");
    let mode: String = other
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "delete", "switched to WAL");
    let tables: i64 = other
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'",
            [],
            |r| r.get(0),
        )
        .expect("tables");
    assert_eq!(tables, 1);
}

/// A mistyped SQLite path is not a new database: the daemon creates the
/// file only in a directory that exists, read-only tools create nothing,
/// and `db migrate` (FileAndDirectory) creates both.
#[tokio::test]
async fn sqlite_paths_that_do_not_exist_are_refused_unless_asked() {
    use bigchat_voice::store::{AnyStore, Creation, StoreError};
    let dir = tempfile::tempdir().expect("tempdir");
    let nested = dir.path().join("typo").join("voice.db");
    let url = format!("sqlite://{}", nested.display());
    let err = AnyStore::connect(&url)
        .await
        .expect_err("missing directory");
    assert!(
        matches!(&err, StoreError::NotFound { what } if what.contains("typo")),
        "{err:?}"
    );
    assert!(!dir.path().join("typo").exists(), "nothing created");

    let flat = dir.path().join("voice.db");
    let flat_url = format!("sqlite://{}", flat.display());
    let err = AnyStore::connect_with(&flat_url, Creation::Nothing)
        .await
        .expect_err("missing file");
    assert!(matches!(err, StoreError::NotFound { .. }), "{err:?}");
    assert!(!flat.exists(), "nothing created");

    let store = AnyStore::connect(&flat_url)
        .await
        .expect("file in a directory that exists");
    store.close().await;
    let store = AnyStore::connect_with(&flat_url, Creation::Nothing)
        .await
        .expect("an existing file opens");
    store.close().await;
    let store = AnyStore::connect_with(&url, Creation::FileAndDirectory)
        .await
        .expect("db migrate creates the directory");
    store.close().await;
    assert!(nested.exists());
}
