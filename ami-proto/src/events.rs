//! Typed, borrowing views of the events a call tracker needs.
//!
//! Each view wraps a `&Message` whose `Event:` matches; every field is an
//! `Option<Value>` read on demand, and [`message()`](Newchannel::message)
//! still reaches any header the view does not name.
//!
//! ```
//! use ami_proto::{Event, Message, DialStatus};
//! let m = Message::parse(b"Event: DialEnd\r\nChannel: PJSIP/trunk-1\r\n\
//!     DestChannel: PJSIP/agent-2\r\nDestUniqueid: 7.2\r\nDialStatus: ANSWER\r\n\r\n").unwrap();
//! match Event::from_message(&m) {
//!     Some(Event::DialEnd(e)) => {
//!         assert_eq!(e.dial_status(), Some(DialStatus::Answer));
//!         assert_eq!(e.dest().uniqueid().unwrap(), "7.2");
//!     }
//!     other => panic!("{other:?}"),
//! }
//! ```

use crate::blocks::{BridgeBlock, ChannelBlock};
use crate::message::Message;
use crate::value::Value;

macro_rules! event_views {
    ($(
        $(#[$doc:meta])*
        $name:ident = $wire:literal {
            $( $(#[$fdoc:meta])* $field:ident => $key:literal ),* $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            #[derive(Clone, Copy, Debug)]
            pub struct $name<'a>(&'a Message);

            impl<'a> $name<'a> {
                /// The event name on the wire.
                pub const NAME: &'static str = $wire;

                /// The view, if `msg` is this event.
                pub fn from_message(msg: &'a Message) -> Option<Self> {
                    if msg.is_event($wire) { Some($name(msg)) } else { None }
                }

                /// The whole message, for headers the view does not name.
                pub fn message(&self) -> &'a Message {
                    self.0
                }

                /// The unprefixed channel block (absent on events without one).
                pub fn channel(&self) -> ChannelBlock<'a> {
                    ChannelBlock::new(self.0, "")
                }

                $(
                    $(#[$fdoc])*
                    #[inline]
                    pub fn $field(&self) -> Option<Value<'a>> {
                        self.0.get($key)
                    }
                )*
            }
        )*

        /// Any event, typed when this crate knows it.
        #[derive(Clone, Copy, Debug)]
        #[non_exhaustive]
        pub enum Event<'a> {
            $(
                #[doc = concat!("`", $wire, "`")]
                $name($name<'a>),
            )*
            /// An event this crate has no view for.
            Other(&'a Message),
        }

        impl<'a> Event<'a> {
            /// Classifies `msg`; `None` if it is not an event.
            pub fn from_message(msg: &'a Message) -> Option<Event<'a>> {
                let name = msg.event_name()?;
                let n = name.as_bytes();
                $(
                    if n.len() == $wire.len() && n.eq_ignore_ascii_case($wire.as_bytes()) {
                        return Some(Event::$name($name(msg)));
                    }
                )*
                Some(Event::Other(msg))
            }

            /// The underlying message.
            pub fn message(&self) -> &'a Message {
                match self {
                    $( Event::$name(e) => e.0, )*
                    Event::Other(m) => m,
                }
            }
        }
    };
}

event_views! {
    /// A channel was created (its first snapshot).
    Newchannel = "Newchannel" {}
    /// A channel's state changed (e.g. to `Ringing` or `Up`).
    Newstate = "Newstate" {}
    /// Caller ID changed.
    NewCallerid = "NewCallerid" {
        /// `CID-CallingPres`, e.g. `0 (Presentation Allowed, Not Screened)`.
        cid_calling_pres => "CID-CallingPres",
    }
    /// Connected line changed.
    NewConnectedLine = "NewConnectedLine" {}
    /// The channel moved in the dialplan.
    Newexten = "Newexten" {
        /// Deprecated copy of `Exten`.
        extension => "Extension",
        /// Application being run, e.g. `Dial`, `VoiceMail`, `Queue`.
        application => "Application",
        /// Its arguments.
        app_data => "AppData",
    }
    /// A channel (or global, with `Channel: none`) variable was set.
    VarSet = "VarSet" {
        /// Variable name, e.g. `MIXMONITOR_FILENAME`.
        variable => "Variable",
        /// Value (C-escaped by Asterisk).
        value => "Value",
    }
    /// A dial attempt began. The caller block is absent for Originate.
    DialBegin = "DialBegin" {
        /// What was dialled after `Tech/`.
        dial_string => "DialString",
    }
    /// A dial attempt progressed (`RINGING`, `PROCEEDING`, `PROGRESS`).
    DialState = "DialState" {
        /// Raw `DialStatus`.
        dial_status_raw => "DialStatus",
        /// Call forward target, if any.
        forward => "Forward",
    }
    /// A dial attempt ended.
    DialEnd = "DialEnd" {
        /// Raw `DialStatus`.
        dial_status_raw => "DialStatus",
        /// Call forward target, if any.
        forward => "Forward",
    }
    /// A bridge was created.
    BridgeCreate = "BridgeCreate" {}
    /// A channel entered a bridge.
    BridgeEnter = "BridgeEnter" {
        /// Uniqueid of the channel this one replaces, if any.
        swap_uniqueid => "SwapUniqueid",
    }
    /// A channel left a bridge.
    BridgeLeave = "BridgeLeave" {}
    /// A bridge was destroyed.
    BridgeDestroy = "BridgeDestroy" {}
    /// A channel was put on hold.
    Hold = "Hold" {
        /// Music-on-hold class.
        music_class => "MusicClass",
    }
    /// A channel was taken off hold.
    Unhold = "Unhold" {}
    /// A hangup was queued on the channel (usually the far end hung up).
    HangupRequest = "HangupRequest" {
        /// Q.850 cause, if given.
        cause_raw => "Cause",
    }
    /// Asterisk itself asked the channel to hang up.
    SoftHangupRequest = "SoftHangupRequest" {
        /// `AST_SOFTHANGUP_*` bitmask (not a Q.850 cause).
        cause_raw => "Cause",
    }
    /// A channel hung up.
    Hangup = "Hangup" {
        /// Raw `Cause`.
        cause_raw => "Cause",
        /// Text of the cause, e.g. `Normal Clearing`.
        cause_txt => "Cause-txt",
        /// Technology-specific cause (22.7+), when non-zero.
        tech_cause => "TechCause",
    }
    /// MixMonitor started recording the channel (16.17/18.3+).
    MixMonitorStart = "MixMonitorStart" {}
    /// MixMonitor stopped (not sent when the call simply ends).
    MixMonitorStop = "MixMonitorStop" {}
    /// A blind transfer happened.
    BlindTransfer = "BlindTransfer" {
        /// `Success`, `Fail`, `Invalid`, `Not Permitted`.
        result => "Result",
        /// `Yes` if initiated from outside Asterisk (e.g. SIP REFER).
        is_external => "IsExternal",
        /// Target context.
        context => "Context",
        /// Target extension.
        extension => "Extension",
    }
    /// An attended transfer happened.
    AttendedTransfer = "AttendedTransfer" {
        /// `Success`, `Fail`, …
        result => "Result",
        /// `Bridge`, `App`, `Link`, `Threeway`, `Fail`.
        dest_type => "DestType",
        /// Resulting bridge (DestType Bridge/Threeway).
        dest_bridge_uniqueid => "DestBridgeUniqueid",
        /// Application (DestType App).
        dest_app => "DestApp",
        /// `Yes` if initiated from outside Asterisk.
        is_external => "IsExternal",
    }
    /// The two halves of a Local channel were bridged.
    LocalBridge = "LocalBridge" {
        /// Context.
        context => "Context",
        /// Extension.
        exten => "Exten",
        /// `Yes` if the Local channel may optimise itself away.
        local_optimization => "LocalOptimization",
    }
    /// Outcome of an asynchronous Originate.
    OriginateResponse = "OriginateResponse" {
        /// `Success` or `Failure`.
        response => "Response",
        /// Real channel name on success, requested `Tech/data` on failure.
        channel_name => "Channel",
        /// Target context.
        context => "Context",
        /// Target extension.
        exten => "Exten",
        /// Target application.
        application => "Application",
        /// Application data.
        data => "Data",
        /// Raw reason code.
        reason_raw => "Reason",
        /// Uniqueid of the channel (`<unknown>` on failure).
        uniqueid => "Uniqueid",
        /// Caller number.
        caller_id_num => "CallerIDNum",
        /// Caller name.
        caller_id_name => "CallerIDName",
    }
    /// A caller joined a queue.
    QueueCallerJoin = "QueueCallerJoin" {
        /// Queue name.
        queue => "Queue",
        /// Position in the queue.
        position => "Position",
        /// Callers in the queue.
        count => "Count",
    }
    /// A caller left a queue (answered or not).
    QueueCallerLeave = "QueueCallerLeave" {
        /// Queue name.
        queue => "Queue",
        /// Position in the queue.
        position => "Position",
        /// Callers in the queue.
        count => "Count",
    }
    /// A caller hung up while waiting in a queue.
    QueueCallerAbandon = "QueueCallerAbandon" {
        /// Queue name.
        queue => "Queue",
        /// Position when leaving.
        position => "Position",
        /// Position when joining.
        original_position => "OriginalPosition",
        /// Seconds waited.
        hold_time => "HoldTime",
    }
    /// A queue member's phone is being rung.
    AgentCalled = "AgentCalled" {
        /// Queue name.
        queue => "Queue",
        /// Member interface, e.g. `PJSIP/agent1001`.
        interface => "Interface",
        /// Member name.
        member_name => "MemberName",
    }
    /// A queue member answered.
    AgentConnect = "AgentConnect" {
        /// Queue name.
        queue => "Queue",
        /// Member interface.
        interface => "Interface",
        /// Member name.
        member_name => "MemberName",
        /// Seconds the caller waited.
        hold_time => "HoldTime",
        /// Seconds the member's phone rang.
        ring_time => "RingTime",
    }
    /// A queue call with a member ended.
    AgentComplete = "AgentComplete" {
        /// Queue name.
        queue => "Queue",
        /// Member interface.
        interface => "Interface",
        /// Member name.
        member_name => "MemberName",
        /// Seconds the caller waited.
        hold_time => "HoldTime",
        /// Seconds of talk.
        talk_time => "TalkTime",
        /// `caller`, `agent` or `transfer`.
        reason => "Reason",
    }
    /// A queue member did not answer.
    AgentRingNoAnswer = "AgentRingNoAnswer" {
        /// Queue name.
        queue => "Queue",
        /// Member interface.
        interface => "Interface",
        /// Member name.
        member_name => "MemberName",
        /// Milliseconds it rang (milliseconds here, unlike AgentConnect).
        ring_time => "RingTime",
    }
    /// A CDR from cdr_manager (no channel block).
    Cdr = "Cdr" {
        /// Account code.
        account_code => "AccountCode",
        /// Source number.
        source => "Source",
        /// Destination extension.
        destination => "Destination",
        /// Destination context.
        destination_context => "DestinationContext",
        /// Caller ID string.
        caller_id => "CallerID",
        /// Channel name.
        channel_name => "Channel",
        /// Destination channel name.
        destination_channel => "DestinationChannel",
        /// Last application.
        last_application => "LastApplication",
        /// Its data.
        last_data => "LastData",
        /// Start, local `YYYY-MM-DD HH:MM:SS`.
        start_time => "StartTime",
        /// Answer time (empty if unanswered).
        answer_time => "AnswerTime",
        /// End time.
        end_time => "EndTime",
        /// Seconds from start to end.
        duration => "Duration",
        /// Seconds from answer to end.
        billable_seconds => "BillableSeconds",
        /// `ANSWERED`, `NO ANSWER`, `BUSY`, `FAILED`, `CONGESTION`, `CANCEL`.
        disposition => "Disposition",
        /// AMA flags.
        ama_flags => "AMAFlags",
        /// Uniqueid (spelt `UniqueID` here).
        unique_id => "UniqueID",
        /// User field.
        user_field => "UserField",
    }
    /// One live channel, in reply to `CoreShowChannels`.
    CoreShowChannel = "CoreShowChannel" {
        /// Current application.
        application => "Application",
        /// Its data.
        application_data => "ApplicationData",
        /// Age as `HH:MM:SS`.
        duration => "Duration",
        /// Bridge id (spelt `BridgeId` here).
        bridge_id => "BridgeId",
    }
    /// One channel, in reply to `Status`.
    Status = "Status" {
        /// Channel technology type.
        channel_type => "Type",
        /// Dialed number id.
        dnid => "DNID",
        /// Bridge id (spelt `BridgeID` here).
        bridge_id => "BridgeID",
        /// Current application.
        application => "Application",
        /// Its data.
        data => "Data",
        /// Seconds since the channel was created.
        seconds => "Seconds",
    }
    /// Asterisk finished booting; also sent right after every login.
    FullyBooted = "FullyBooted" {
        /// Raw `Uptime` (seconds).
        uptime_raw => "Uptime",
        /// Seconds since the last reload.
        last_reload => "LastReload",
        /// `Fully Booted`.
        status => "Status",
    }
    /// Asterisk is shutting down.
    Shutdown = "Shutdown" {
        /// `Cleanly` or `Uncleanly`.
        shutdown => "Shutdown",
        /// `True` if it restarts.
        restart => "Restart",
    }
}

/// How a dial attempt ended (`DialStatus`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialStatus<'a> {
    /// The callee answered.
    Answer,
    /// The callee was busy.
    Busy,
    /// No answer in time.
    NoAnswer,
    /// Cancelled (caller hung up, or another leg answered).
    Cancel,
    /// Network congestion.
    Congestion,
    /// The channel could not be reached.
    ChanUnavail,
    /// Aborted.
    Abort,
    /// Dialplan continued (`CONTINUE`).
    Continue,
    /// Pre-bridge GoSub result: `GOTO:<ctx^exten^prio>` (the part after `GOTO:`).
    Goto(Value<'a>),
    /// Progress: ringing.
    Ringing,
    /// Progress: proceeding.
    Proceeding,
    /// Progress: early media.
    Progress,
    /// Anything else (`TORTURE`, `DONTCALL`, future values).
    Other(Value<'a>),
}

impl<'a> DialStatus<'a> {
    /// Reads a `DialStatus` value.
    pub fn parse(v: Value<'a>) -> DialStatus<'a> {
        let b = v.as_bytes();
        let is = |s: &str| b.eq_ignore_ascii_case(s.as_bytes());
        if is("ANSWER") {
            DialStatus::Answer
        } else if is("BUSY") {
            DialStatus::Busy
        } else if is("NOANSWER") {
            DialStatus::NoAnswer
        } else if is("CANCEL") {
            DialStatus::Cancel
        } else if is("CONGESTION") {
            DialStatus::Congestion
        } else if is("CHANUNAVAIL") {
            DialStatus::ChanUnavail
        } else if is("ABORT") {
            DialStatus::Abort
        } else if is("CONTINUE") {
            DialStatus::Continue
        } else if is("RINGING") {
            DialStatus::Ringing
        } else if is("PROCEEDING") {
            DialStatus::Proceeding
        } else if is("PROGRESS") {
            DialStatus::Progress
        } else if b.len() >= 5 && b[..5].eq_ignore_ascii_case(b"GOTO:") {
            DialStatus::Goto(Value::new(&b[5..]))
        } else {
            DialStatus::Other(v)
        }
    }
}

macro_rules! dial_common {
    ($($t:ident),*) => {$(
        impl<'a> $t<'a> {
            /// The callee's channel block (`Dest*`).
            pub fn dest(&self) -> ChannelBlock<'a> {
                ChannelBlock::new(self.0, "Dest")
            }
        }
    )*};
}
dial_common!(
    DialBegin,
    DialState,
    DialEnd,
    AgentCalled,
    AgentConnect,
    AgentComplete,
    AgentRingNoAnswer
);

impl<'a> DialState<'a> {
    /// The parsed `DialStatus`.
    pub fn dial_status(&self) -> Option<DialStatus<'a>> {
        self.dial_status_raw().map(DialStatus::parse)
    }
}

impl<'a> DialEnd<'a> {
    /// The parsed `DialStatus`.
    pub fn dial_status(&self) -> Option<DialStatus<'a>> {
        self.dial_status_raw().map(DialStatus::parse)
    }
}

macro_rules! bridge_common {
    ($($t:ident),*) => {$(
        impl<'a> $t<'a> {
            /// The bridge block.
            pub fn bridge(&self) -> BridgeBlock<'a> {
                BridgeBlock::new(self.0, "")
            }
        }
    )*};
}
bridge_common!(
    BridgeCreate,
    BridgeEnter,
    BridgeLeave,
    BridgeDestroy,
    BlindTransfer
);

impl Hangup<'_> {
    /// Q.850 cause code (16 Normal Clearing, 17 User busy, …).
    pub fn cause(&self) -> Option<u16> {
        self.cause_raw()?.parse()
    }
}

impl HangupRequest<'_> {
    /// Q.850 cause code, if given.
    pub fn cause(&self) -> Option<u16> {
        self.cause_raw()?.parse()
    }
}

impl SoftHangupRequest<'_> {
    /// The `AST_SOFTHANGUP_*` bitmask (4 = shutdown, 8 = timeout, …).
    pub fn cause(&self) -> Option<u32> {
        self.cause_raw()?.parse()
    }
}

impl NewCallerid<'_> {
    /// The presentation number of `CID-CallingPres`.
    pub fn calling_pres(&self) -> Option<i64> {
        crate::parse::number_and_text(self.cid_calling_pres()?.as_bytes()).map(|(n, _)| n)
    }
}

impl<'a> BlindTransfer<'a> {
    /// The channel that performed the transfer.
    pub fn transferer(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "Transferer")
    }
    /// The channel that was transferred.
    pub fn transferee(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "Transferee")
    }
    /// True if `Result: Success`.
    pub fn succeeded(&self) -> bool {
        self.result().is_some_and(|r| r.eq_ignore_case("Success"))
    }
}

impl<'a> AttendedTransfer<'a> {
    /// The transferer's channel in the original call.
    pub fn orig_transferer(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "OrigTransferer")
    }
    /// The transferer's channel in the consultation call.
    pub fn second_transferer(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "SecondTransferer")
    }
    /// The party being transferred.
    pub fn transferee(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "Transferee")
    }
    /// The transfer target.
    pub fn transfer_target(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "TransferTarget")
    }
    /// Local channel half one (DestType Link).
    pub fn local_one(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "LocalOne")
    }
    /// Local channel half two (DestType Link).
    pub fn local_two(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "LocalTwo")
    }
    /// The original bridge.
    pub fn orig_bridge(&self) -> BridgeBlock<'a> {
        BridgeBlock::new(self.0, "Orig")
    }
    /// The consultation bridge.
    pub fn second_bridge(&self) -> BridgeBlock<'a> {
        BridgeBlock::new(self.0, "Second")
    }
    /// True if `Result: Success`.
    pub fn succeeded(&self) -> bool {
        self.result().is_some_and(|r| r.eq_ignore_case("Success"))
    }
}

impl<'a> LocalBridge<'a> {
    /// The `;1` half.
    pub fn local_one(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "LocalOne")
    }
    /// The `;2` half.
    pub fn local_two(&self) -> ChannelBlock<'a> {
        ChannelBlock::new(self.0, "LocalTwo")
    }
}

impl OriginateResponse<'_> {
    /// True for `Response: Success`.
    pub fn succeeded(&self) -> bool {
        self.response().is_some_and(|r| r.eq_ignore_case("Success"))
    }
    /// Reason code: 0 failed, 1 hangup, 3 no answer, 4 answered, 5 busy,
    /// 8 congestion.
    pub fn reason(&self) -> Option<u8> {
        self.reason_raw()?.parse()
    }
}

impl CoreShowChannel<'_> {
    /// Age of the channel in seconds (from `Duration: HH:MM:SS`).
    pub fn duration_secs(&self) -> Option<u64> {
        crate::parse::hms(self.duration()?.as_bytes())
    }
}

impl<'a> Status<'a> {
    /// `Variable:` lines (`name=value`), raw, in order.
    pub fn variables(&self) -> impl Iterator<Item = Value<'a>> + 'a {
        self.0.get_all("Variable")
    }
}

impl FullyBooted<'_> {
    /// Seconds since Asterisk started. A value lower than the previous one
    /// means the PBX restarted.
    pub fn uptime(&self) -> Option<u64> {
        self.uptime_raw()?.parse()
    }
}

impl Shutdown<'_> {
    /// True if the PBX says it will restart.
    pub fn is_restart(&self) -> bool {
        self.restart().is_some_and(|r| r.eq_ignore_case("True"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(s: &str) -> Message {
        Message::parse(s.as_bytes()).expect("message")
    }

    #[test]
    fn dial_status_values() {
        for (raw, want) in [
            ("ANSWER", DialStatus::Answer),
            ("busy", DialStatus::Busy),
            ("NOANSWER", DialStatus::NoAnswer),
            ("CANCEL", DialStatus::Cancel),
            ("CONGESTION", DialStatus::Congestion),
            ("CHANUNAVAIL", DialStatus::ChanUnavail),
            ("ABORT", DialStatus::Abort),
            ("CONTINUE", DialStatus::Continue),
            ("RINGING", DialStatus::Ringing),
            ("PROCEEDING", DialStatus::Proceeding),
            ("PROGRESS", DialStatus::Progress),
            ("GOTO:ctx^100^1", DialStatus::Goto(Value::new(b"ctx^100^1"))),
            ("TORTURE", DialStatus::Other(Value::new(b"TORTURE"))),
        ] {
            assert_eq!(DialStatus::parse(Value::new(raw.as_bytes())), want, "{raw}");
        }
    }

    #[test]
    fn hangup_cause_and_unknown_fields() {
        let m = msg(
            "Event: Hangup\r\nChannel: PJSIP/a-1\r\nUniqueid: 1.1\r\nLinkedid: 1.0\r\nCause: 16\r\nCause-txt: Normal Clearing\r\nX-New: y\r\n\r\n",
        );
        let Some(Event::Hangup(h)) = Event::from_message(&m) else {
            panic!("not a hangup")
        };
        assert_eq!(h.cause(), Some(16));
        assert_eq!(h.cause_txt().unwrap(), "Normal Clearing");
        assert_eq!(h.channel().linkedid().unwrap(), "1.0");
        assert_eq!(h.message().get("x-new").unwrap(), "y");
        assert!(h.tech_cause().is_none());
    }

    #[test]
    fn prefixed_blocks_do_not_mix() {
        let m = msg(
            "Event: BlindTransfer\r\nResult: Success\r\nTransfererChannel: PJSIP/a-1\r\nTransfererUniqueid: 1.1\r\nTransfereeChannel: PJSIP/t-0\r\nTransfereeUniqueid: 1.0\r\nBridgeUniqueid: b1\r\nIsExternal: No\r\nContext: agents\r\nExtension: 1002\r\n\r\n",
        );
        let Some(Event::BlindTransfer(t)) = Event::from_message(&m) else {
            panic!()
        };
        assert!(t.succeeded());
        assert_eq!(t.transferer().uniqueid().unwrap(), "1.1");
        assert_eq!(t.transferee().uniqueid().unwrap(), "1.0");
        assert_eq!(t.bridge().uniqueid().unwrap(), "b1");
        assert!(!t.channel().is_present());
        assert_eq!(t.extension().unwrap(), "1002");
    }

    #[test]
    fn other_and_non_events() {
        let m = msg("Event: RTCPSent\r\nX: 1\r\n\r\n");
        assert!(matches!(Event::from_message(&m), Some(Event::Other(_))));
        let r = msg("Response: Success\r\nActionID: 1\r\n\r\n");
        assert!(Event::from_message(&r).is_none());
        let case = msg("event: hangup\r\ncause: 17\r\n\r\n");
        assert!(matches!(Event::from_message(&case), Some(Event::Hangup(_))));
    }

    #[test]
    fn chan_variables_and_system_events() {
        let m = msg(
            "Event: Newchannel\r\nChannel: PJSIP/a-1\r\nChanVariable: MIXMONITOR_FILENAME=/x/1.wav\r\nChanVariable: B=c=d\r\n\r\n",
        );
        let b = ChannelBlock::new(&m, "");
        assert_eq!(b.chan_variable("mixmonitor_filename").unwrap(), "/x/1.wav");
        assert_eq!(b.chan_variable("B").unwrap(), "c=d");
        let fb = msg(
            "Event: FullyBooted\r\nPrivilege: system,all\r\nUptime: 0\r\nLastReload: 0\r\nStatus: Fully Booted\r\n\r\n",
        );
        let Some(Event::FullyBooted(fb)) = Event::from_message(&fb) else {
            panic!()
        };
        assert_eq!(fb.uptime(), Some(0));
        let sd = msg("Event: Shutdown\r\nShutdown: Cleanly\r\nRestart: True\r\n\r\n");
        let Some(Event::Shutdown(sd)) = Event::from_message(&sd) else {
            panic!()
        };
        assert!(sd.is_restart());
        let csc = msg("Event: CoreShowChannel\r\nActionID: 3\r\nDuration: 01:02:03\r\n\r\n");
        let Some(Event::CoreShowChannel(c)) = Event::from_message(&csc) else {
            panic!()
        };
        assert_eq!(c.duration_secs(), Some(3723));
    }
}
