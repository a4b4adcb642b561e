//! Desktop notifications through notify-rust (freedesktop D-Bus on Linux).
//!
//! [`DesktopNotifier`] shows what [`stockpulse_app::notify`] planned: the D-Bus id of the
//! last notification shown under a key is passed as `replaces_id`, so an item's notification
//! is updated in place; urgency is the plan's; an "Open" action (the default action, i.e. a
//! click) brings the window to the item. Showing blocks on D-Bus: the app calls it on Tokio's
//! blocking pool, never on the main thread. Actions are waited for on a thread per shown
//! notification (the D-Bus signal arrives on the connection that sent it), at most
//! [`MAX_WAITERS`] at once; a replaced notification's old waiter ignores what it hears.
//!
//! With no notification service (no session bus, no daemon) the notifier shows nothing and
//! says why ([`Notifier::status`]); the app works the same.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use notify_rust::{Hint, Notification, Timeout, Urgency as NUrgency};
use stockpulse_app::notify::{Notice, NoticeKey, Notifier, NotifyError, Urgency};
use stockpulse_app::types::NotificationStatus;

/// At most this many threads wait for notification actions.
pub const MAX_WAITERS: usize = 16;

/// What an "Open" action does (emit `open-item`, show the window).
pub type OnOpen = dyn Fn(Option<String>) + Send + Sync;

/// See the module docs.
pub struct DesktopNotifier {
    status: NotificationStatus,
    actions: bool,
    /// Per key: the server's id of the notification last shown, and a counter of updates.
    shown: Arc<Mutex<HashMap<NoticeKey, (u32, u64)>>>,
    waiters: Arc<AtomicUsize>,
    on_open: Arc<OnOpen>,
}

impl std::fmt::Debug for DesktopNotifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DesktopNotifier")
            .field("status", &self.status)
            .field("actions", &self.actions)
            .finish_non_exhaustive()
    }
}

impl DesktopNotifier {
    /// Asks the notification service what it is and can do (blocking, once).
    pub fn probe(on_open: Arc<OnOpen>) -> DesktopNotifier {
        let (status, actions) = match notify_rust::get_server_information() {
            Ok(info) => {
                let actions = notify_rust::get_capabilities()
                    .map(|c| c.iter().any(|c| c == "actions"))
                    .unwrap_or(false);
                (
                    NotificationStatus {
                        available: true,
                        message: Some(format!("{} {}", info.name, info.version)),
                    },
                    actions,
                )
            }
            Err(e) => (
                NotificationStatus {
                    available: false,
                    message: Some(format!(
                        "no desktop notification service ({e}); alerts still show in the app"
                    )),
                },
                false,
            ),
        };
        tracing::info!(?status, actions, "desktop notifications");
        DesktopNotifier {
            status,
            actions,
            shown: Arc::new(Mutex::new(HashMap::new())),
            waiters: Arc::new(AtomicUsize::new(0)),
            on_open,
        }
    }
}

impl Notifier for DesktopNotifier {
    fn show(&self, n: &Notice) -> Result<(), NotifyError> {
        if !self.status.available {
            return Ok(());
        }
        let mut note = Notification::new();
        note.appname("Stockpulse")
            .summary(&n.summary)
            .body(&n.body)
            .hint(Hint::DesktopEntry("stockpulse-app".to_owned()))
            .hint(Hint::Category("x-stockpulse.stock".to_owned()));
        match n.urgency {
            Urgency::Critical => {
                note.urgency(NUrgency::Critical).timeout(Timeout::Never);
            }
            Urgency::Normal => {
                note.urgency(NUrgency::Normal);
            }
        }
        let previous = self
            .shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&n.key)
            .copied();
        if let Some((id, _)) = previous {
            note.id(id);
        }
        if self.actions {
            note.action("default", "Open");
        }
        let handle = note.show().map_err(|e| NotifyError(e.to_string()))?;
        let generation = previous.map_or(0, |(_, g)| g + 1);
        self.shown
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(n.key.clone(), (handle.id(), generation));
        if self.actions && self.waiters.fetch_add(1, Ordering::AcqRel) < MAX_WAITERS {
            let waiters = self.waiters.clone();
            let on_open = self.on_open.clone();
            let sku = n.open_sku.clone();
            let shown = self.shown.clone();
            let key = n.key.clone();
            let spawned = std::thread::Builder::new()
                .name("notification-action".into())
                .spawn(move || {
                    handle.wait_for_action(|action| {
                        let current = shown
                            .lock()
                            .unwrap_or_else(std::sync::PoisonError::into_inner)
                            .get(&key)
                            .is_some_and(|(_, g)| *g == generation);
                        if current && (action == "default" || action == "open") {
                            on_open(sku.clone());
                        }
                    });
                    waiters.fetch_sub(1, Ordering::AcqRel);
                });
            if spawned.is_err() {
                self.waiters.fetch_sub(1, Ordering::AcqRel);
            }
        } else if self.actions {
            self.waiters.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(())
    }

    fn status(&self) -> NotificationStatus {
        self.status.clone()
    }
}
