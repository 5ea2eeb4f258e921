//! Which AMI read classes the stream shows missing. An AMI user's read
//! classes cannot be asked for; what is missing shows as events that never
//! come while the events around them do. Each gap is warned about once.

use ami_proto::Message;

/// Calls seen with no `dialplan` event before it is said.
const CALLS_BEFORE_DIALPLAN_WARNING: u32 = 3;
/// Queue entries seen with no `agent` event before it is said.
const QUEUES_BEFORE_AGENT_WARNING: u32 = 2;

/// Watches one PBX's events for missing read classes.
#[derive(Debug, Default)]
pub(crate) struct ClassWatch {
    calls: u32,
    dialplan: bool,
    queue_entries: u32,
    agent: bool,
    warned_dialplan: bool,
    warned_agent: bool,
}

impl ClassWatch {
    /// Looks at one event; returns a warning the first time a gap shows.
    pub(crate) fn see(&mut self, m: &Message) -> Option<&'static str> {
        let name = m.event_name()?;
        let name = name.as_bytes();
        match name {
            b"Newchannel" => self.calls += 1,
            b"Newexten" | b"VarSet" => {
                self.dialplan = true;
                if name == b"Newexten"
                    && m.get("Application")
                        .is_some_and(|a| a.eq_ignore_case("Queue"))
                {
                    self.queue_entries += 1;
                }
            }
            b"QueueCallerJoin" | b"AgentCalled" | b"AgentConnect" | b"QueueCallerLeave" => {
                self.agent = true;
            }
            _ => {}
        }
        if !self.dialplan && !self.warned_dialplan && self.calls >= CALLS_BEFORE_DIALPLAN_WARNING {
            self.warned_dialplan = true;
            return Some(
                "calls arrive but no dialplan events (Newexten, VarSet): the AMI user seems to \
                 lack the `dialplan` read class; recording file names (MIXMONITOR_FILENAME) and \
                 where calls enter the dialplan are lost",
            );
        }
        if !self.agent && !self.warned_agent && self.queue_entries >= QUEUES_BEFORE_AGENT_WARNING {
            self.warned_agent = true;
            return Some(
                "calls enter queues but no queue events (QueueCallerJoin, AgentCalled): the AMI \
                 user seems to lack the `agent` read class; the queue a call went through is lost",
            );
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(text: &str) -> Message {
        Message::parse(format!("{text}\r\n\r\n").as_bytes()).unwrap()
    }

    #[test]
    fn a_missing_class_is_said_once() {
        let mut w = ClassWatch::default();
        let new = ev("Event: Newchannel\r\nChannel: PJSIP/trunk-1");
        assert!(w.see(&new).is_none() && w.see(&new).is_none());
        assert!(w.see(&new).unwrap().contains("`dialplan`"));
        assert!(w.see(&new).is_none(), "once");

        let mut ok = ClassWatch::default();
        ok.see(&ev("Event: Newexten\r\nApplication: Dial"));
        for _ in 0..10 {
            assert!(ok.see(&new).is_none());
        }
        let queue = ev("Event: Newexten\r\nApplication: Queue");
        assert!(ok.see(&queue).is_none());
        assert!(ok.see(&queue).unwrap().contains("`agent`"));
        let mut queues = ClassWatch::default();
        queues.see(&ev("Event: QueueCallerJoin\r\nQueue: support"));
        assert!(queues.see(&queue).is_none() && queues.see(&queue).is_none());
    }
}
