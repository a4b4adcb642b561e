//! [`Bus`]: the in-process fan-out of events to subscribers (the UI feed, the notifier).

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use tokio::sync::broadcast;

use super::model::Envelope;

/// A bounded broadcast of [`Envelope`]s. Clones share one channel.
///
/// - [`Bus::publish`] never waits: a subscriber that does not keep up loses the oldest
///   events beyond the capacity and is told how many ([`Received::Lagged`]).
/// - Logged events (with a `seq`) are published at most once and in `seq` order: an
///   envelope whose `seq` is not above the last one published is dropped, so a writer that
///   publishes what it derived and a tail that reads the same rows back from the log can
///   share one bus. Unlogged events (`seq: None`, e.g. status) always pass. The simplest
///   correct set-up is one tail per process ([`super::follow`]) as the only publisher of
///   logged events; a writer that also publishes what it derived must publish every event
///   it logs, in order (an older `seq` arriving after a newer one is dropped).
#[derive(Debug, Clone)]
pub struct Bus {
    tx: broadcast::Sender<Envelope>,
    last_seq: Arc<AtomicI64>,
}

/// What a [`Subscriber`] receives.
#[derive(Debug, Clone, PartialEq)]
pub enum Received {
    /// The next event.
    Event(Envelope),
    /// The subscriber fell behind: this many events were dropped for it; it continues
    /// with the oldest event still held.
    Lagged {
        /// How many events it missed.
        missed: u64,
    },
}

/// One subscription to a [`Bus`]: sees the events published after it was made.
#[derive(Debug)]
pub struct Subscriber {
    rx: broadcast::Receiver<Envelope>,
}

impl Bus {
    /// The capacity [`Bus::default`] uses: events held per subscriber before it lags.
    pub const DEFAULT_CAPACITY: usize = 4096;

    /// A bus holding up to `capacity` events for a slow subscriber (at least 1).
    pub fn new(capacity: usize) -> Bus {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Bus {
            tx,
            last_seq: Arc::new(AtomicI64::new(i64::MIN)),
        }
    }

    /// Publishes an event to the current subscribers without waiting for any of them.
    /// Returns `false` when it was dropped as already published (see the type's docs);
    /// `true` otherwise, also when nobody is subscribed.
    pub fn publish(&self, envelope: Envelope) -> bool {
        if let Some(seq) = envelope.seq {
            let previous = self.last_seq.fetch_max(seq, Ordering::AcqRel);
            if previous >= seq {
                return false;
            }
        }
        // An error only means there is no subscriber right now.
        let _ = self.tx.send(envelope);
        true
    }

    /// A new subscription.
    pub fn subscribe(&self) -> Subscriber {
        Subscriber {
            rx: self.tx.subscribe(),
        }
    }

    /// How many subscriptions are alive.
    pub fn subscriber_count(&self) -> usize {
        self.tx.receiver_count()
    }

    /// The highest `seq` published so far (`None` before the first logged event).
    pub fn last_seq(&self) -> Option<i64> {
        let s = self.last_seq.load(Ordering::Acquire);
        (s != i64::MIN).then_some(s)
    }
}

impl Default for Bus {
    fn default() -> Bus {
        Bus::new(Bus::DEFAULT_CAPACITY)
    }
}

impl Subscriber {
    /// Waits for the next event, or the news that some were missed; `None` once every
    /// [`Bus`] clone is gone.
    pub async fn recv(&mut self) -> Option<Received> {
        match self.rx.recv().await {
            Ok(e) => Some(Received::Event(e)),
            Err(broadcast::error::RecvError::Lagged(missed)) => Some(Received::Lagged { missed }),
            Err(broadcast::error::RecvError::Closed) => None,
        }
    }

    /// The next event if one is waiting, without waiting (`None` when there is none or the
    /// bus is gone).
    pub fn try_recv(&mut self) -> Option<Received> {
        match self.rx.try_recv() {
            Ok(e) => Some(Received::Event(e)),
            Err(broadcast::error::TryRecvError::Lagged(missed)) => {
                Some(Received::Lagged { missed })
            }
            Err(_) => None,
        }
    }
}
