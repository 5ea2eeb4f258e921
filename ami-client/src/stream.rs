//! The event stream: a bounded queue between the driver and the consumer
//! that never blocks the driver and never drops silently.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use ami_proto::Message;
use tokio::sync::mpsc::UnboundedSender;

use crate::driver::Command;

/// One item of the [`EventStream`].
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum StreamItem {
    /// An event, in arrival order.
    Event(Message),
    /// The consumer fell behind: `missed` events that arrived while the
    /// buffer was full were dropped at this point of the stream. Resync
    /// (e.g. `CoreShowChannels`) if you keep state.
    Lagged {
        /// How many events were dropped.
        missed: u64,
    },
    /// The connection was lost and is back (logged in, event mask and
    /// filters re-applied). Events may have been missed while away.
    Reconnected {
        /// The AMI version from the new banner.
        version: String,
    },
}

struct QueueState {
    items: VecDeque<StreamItem>,
    missed: u64,
    waker: Option<Waker>,
    closed: bool,
    consumer_gone: bool,
}

/// Shared between the driver (producer) and the [`EventStream`].
///
/// The bound is exact: `held` counts the events (not markers) in `items`
/// *and* in the stream's local batch, so at most `capacity` events are
/// buffered for the consumer in all. Only the producer adds to it (under
/// the lock, after checking it), only the consumer subtracts (one per
/// event it yields), so the check can only be conservative.
pub(crate) struct EventQueue {
    capacity: usize,
    held: AtomicUsize,
    state: Mutex<QueueState>,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> EventQueue {
        EventQueue {
            capacity,
            held: AtomicUsize::new(0),
            state: Mutex::new(QueueState {
                items: VecDeque::with_capacity(capacity.min(4096)),
                missed: 0,
                waker: None,
                closed: false,
                consumer_gone: false,
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, QueueState> {
        // A panic while holding this lock cannot leave the queue
        // inconsistent in a way that matters; keep going.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues events; never waits. Events that do not fit are counted and
    /// reported as one `Lagged` item before the next event that fits.
    pub(crate) fn push_events(&self, batch: &mut Vec<Message>) {
        if batch.is_empty() {
            return;
        }
        let waker = {
            let mut s = self.lock();
            if s.consumer_gone {
                batch.clear();
                return;
            }
            for m in batch.drain(..) {
                if self.held.load(Ordering::Acquire) >= self.capacity {
                    s.missed += 1;
                    continue;
                }
                if s.missed > 0 {
                    let missed = std::mem::take(&mut s.missed);
                    s.items.push_back(StreamItem::Lagged { missed });
                }
                s.items.push_back(StreamItem::Event(m));
                self.held.fetch_add(1, Ordering::AcqRel);
            }
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Queues a marker (never dropped, not counted against the capacity).
    pub(crate) fn push_marker(&self, item: StreamItem) {
        let waker = {
            let mut s = self.lock();
            if s.consumer_gone {
                return;
            }
            if s.missed > 0 {
                let missed = std::mem::take(&mut s.missed);
                s.items.push_back(StreamItem::Lagged { missed });
            }
            s.items.push_back(item);
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Ends the stream once the queued items are consumed.
    pub(crate) fn close(&self) {
        let waker = {
            let mut s = self.lock();
            s.closed = true;
            s.waker.take()
        };
        if let Some(w) = waker {
            w.wake();
        }
    }

    /// Moves everything queued into `local` (one lock per batch).
    fn poll_take(&self, local: &mut VecDeque<StreamItem>, cx: &mut Context<'_>) -> Poll<bool> {
        let mut s = self.lock();
        if !s.items.is_empty() {
            // The events move with their count: `held` goes down only as
            // the stream yields them.
            std::mem::swap(&mut s.items, local);
            return Poll::Ready(true);
        }
        if s.missed > 0 {
            let missed = std::mem::take(&mut s.missed);
            local.push_back(StreamItem::Lagged { missed });
            return Poll::Ready(true);
        }
        if s.closed {
            return Poll::Ready(false);
        }
        match &mut s.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

/// The events of one [`Client`](crate::Client), in arrival order, with
/// [`Lagged`](StreamItem::Lagged) and [`Reconnected`](StreamItem::Reconnected)
/// markers. Ends (`None`) when the client is closed.
///
/// At most [`event_buffer`](crate::ClientConfigBuilder::event_buffer)
/// events are held for it at any time, whether still queued by the
/// background task or already taken by the stream in a batch; events
/// arriving beyond that are counted and reported by one
/// [`Lagged`](StreamItem::Lagged) at their place.
///
/// Implements [`futures_core::Stream`]; [`recv`](Self::recv) does the same
/// without importing a trait. The background task keeps running while this
/// stream or any `Client` handle is alive. Dropping the stream discards
/// later events (actions still work).
pub struct EventStream {
    queue: Arc<EventQueue>,
    local: VecDeque<StreamItem>,
    done: bool,
    _driver: UnboundedSender<Command>,
}

impl EventStream {
    pub(crate) fn new(queue: Arc<EventQueue>, driver: UnboundedSender<Command>) -> EventStream {
        EventStream {
            queue,
            local: VecDeque::new(),
            done: false,
            _driver: driver,
        }
    }

    /// The next item; `None` once the client is closed and everything
    /// queued was consumed.
    pub async fn recv(&mut self) -> Option<StreamItem> {
        std::future::poll_fn(|cx| self.poll_item(cx)).await
    }

    /// The next [`Event`](StreamItem::Event), skipping markers.
    pub async fn next_event(&mut self) -> Option<Message> {
        loop {
            match self.recv().await? {
                StreamItem::Event(m) => return Some(m),
                _ => continue,
            }
        }
    }

    /// An item if one is ready now, without waiting.
    pub fn try_recv(&mut self) -> Option<StreamItem> {
        let waker = Waker::noop();
        let mut cx = Context::from_waker(waker);
        match self.poll_item(&mut cx) {
            Poll::Ready(item) => item,
            Poll::Pending => None,
        }
    }

    /// The next item of the local batch, releasing its place in the buffer.
    fn pop_local(&mut self) -> Option<StreamItem> {
        let item = self.local.pop_front()?;
        if matches!(item, StreamItem::Event(_)) {
            self.queue.held.fetch_sub(1, Ordering::AcqRel);
        }
        Some(item)
    }

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        if let Some(item) = self.pop_local() {
            return Poll::Ready(Some(item));
        }
        if self.done {
            return Poll::Ready(None);
        }
        match self.queue.poll_take(&mut self.local, cx) {
            Poll::Ready(true) => Poll::Ready(self.pop_local()),
            Poll::Ready(false) => {
                self.done = true;
                Poll::Ready(None)
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl futures_core::Stream for EventStream {
    type Item = StreamItem;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        self.get_mut().poll_item(cx)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        let mut s = self.queue.lock();
        s.consumer_gone = true;
        s.items.clear();
        s.waker = None;
    }
}

impl fmt::Debug for EventStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventStream")
            .field("capacity", &self.queue.capacity)
            .field("locally_buffered", &self.local.len())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: usize) -> Message {
        Message::parse(format!("Event: UserEvent\r\nN: {n}\r\n\r\n").as_bytes()).unwrap()
    }

    /// Events held for the consumer: queued plus taken but not yielded.
    fn buffered(stream: &EventStream) -> usize {
        let count = |items: &VecDeque<StreamItem>| {
            items
                .iter()
                .filter(|i| matches!(i, StreamItem::Event(_)))
                .count()
        };
        count(&stream.queue.lock().items) + count(&stream.local)
    }

    /// Whatever the interleaving of pushes and reads, never more than
    /// `capacity` events are held (it used to be up to twice that: the
    /// batch the stream had taken no longer counted), and every event is
    /// either yielded or counted in a `Lagged`.
    #[test]
    fn never_more_than_capacity_events_are_held() {
        let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
        let capacity = 8;
        let queue = Arc::new(EventQueue::new(capacity));
        let mut stream = EventStream::new(queue.clone(), tx);
        let (mut sent, mut got, mut missed) = (0usize, 0usize, 0u64);
        let mut last = 0;
        // Bursts of 1..=13 events, reads of 0..=5 items, a marker now and then.
        for round in 0..500usize {
            let mut batch: Vec<Message> = (0..1 + round % 13)
                .map(|_| {
                    sent += 1;
                    event(sent)
                })
                .collect();
            queue.push_events(&mut batch);
            if round % 17 == 0 {
                queue.push_marker(StreamItem::Reconnected {
                    version: String::new(),
                });
            }
            assert!(buffered(&stream) <= capacity, "round {round}");
            for _ in 0..round % 6 {
                match stream.try_recv() {
                    Some(StreamItem::Event(m)) => {
                        let n: usize = m.get("N").unwrap().to_str().parse().unwrap();
                        assert!(n > last, "order");
                        last = n;
                        got += 1;
                    }
                    Some(StreamItem::Lagged { missed: k }) => missed += k,
                    Some(_) => {}
                    None => break,
                }
                assert!(buffered(&stream) <= capacity, "round {round}");
            }
        }
        while let Some(item) = stream.try_recv() {
            match item {
                StreamItem::Event(_) => got += 1,
                StreamItem::Lagged { missed: k } => missed += k,
                _ => {}
            }
        }
        assert!(missed > 0, "the test overflows the buffer");
        assert_eq!(got as u64 + missed, sent as u64);
        assert_eq!(queue.held.load(Ordering::Acquire), 0);
    }
}
