//! The event stream: a bounded queue between the driver and the consumer
//! that never blocks the driver and never drops silently.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
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
    /// Events (not markers) in `items`.
    events: usize,
    missed: u64,
    waker: Option<Waker>,
    closed: bool,
    consumer_gone: bool,
}

/// Shared between the driver (producer) and the [`EventStream`].
pub(crate) struct EventQueue {
    capacity: usize,
    state: Mutex<QueueState>,
}

impl EventQueue {
    pub(crate) fn new(capacity: usize) -> EventQueue {
        EventQueue {
            capacity,
            state: Mutex::new(QueueState {
                items: VecDeque::with_capacity(capacity.min(4096)),
                events: 0,
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
                if s.events >= self.capacity {
                    s.missed += 1;
                    continue;
                }
                if s.missed > 0 {
                    let missed = std::mem::take(&mut s.missed);
                    s.items.push_back(StreamItem::Lagged { missed });
                }
                s.items.push_back(StreamItem::Event(m));
                s.events += 1;
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
            std::mem::swap(&mut s.items, local);
            s.events = 0;
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

    fn poll_item(&mut self, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
        if let Some(item) = self.local.pop_front() {
            return Poll::Ready(Some(item));
        }
        if self.done {
            return Poll::Ready(None);
        }
        match self.queue.poll_take(&mut self.local, cx) {
            Poll::Ready(true) => Poll::Ready(self.local.pop_front()),
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
