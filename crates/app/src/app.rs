//! [`App`]: the one application state, built from the configuration, with a typed method
//! per command of the desktop contract.
//!
//! # Components and generations
//!
//! The settings decide where the cache's data comes from (its **source**):
//!
//! | source | when | what runs |
//! |---|---|---|
//! | demo | `--demo`, or "try with demo data" | the simulator in process, the engine into `demo.db`, the demo loop (live activity, stock pulses, a sell-out now and then), an event follower |
//! | embedded | no database URL | the engine's schedule into `stockpulse.db` (when Finale is configured), an event follower |
//! | shared | a database URL | the mirror (shared store → `stockpulse.db`), the engine's schedule against the shared store (when Finale is configured) |
//!
//! The long-running components of one source form a **generation**: they share one
//! cancellation token (a child of the app's shutdown token) and one event [`Bus`]. Saving
//! settings starts a new generation and stops the old one (no restart); the app's own feed
//! (what the UI and the notifier subscribe to) outlives generations, so subscribers never
//! notice the switch except by the events themselves. Queries read the current
//! generation's cache through a small pool of connections, on Tokio's blocking pool.
//!
//! Nothing here knows Tauri: the shell calls these methods and forwards the feeds.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Utc};
use engine::Strategy;
use engine::config::{ENTRY_DATABASE_URL, ENTRY_FINALE_API_KEY, ENTRY_FINALE_API_SECRET};
use engine::config::{EngineConfig, StoreTarget};
use engine::schedule::{Runner, Schedule};
use engine::store::Store;
use engine::sync::{Engine, EngineRunner, RunReport, SyncSettings};
use finale::{Credentials, FinaleClient, FinaleConfig, Secret};
use finale_sim::{SimConfig, SimHandle, Simulator};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use workstation::events::{self, Bus, Envelope, Event, Received, Since};
use workstation::mirror::{Mirror, MirrorConfig};
use workstation::query::{
    self, Connection, Dashboard, ItemDetail, ReorderPage, ReorderQuery, SearchPage, SearchQuery,
};
use workstation::{CacheState, CacheStatus};

use crate::demo::{DemoProfile, sell_out_one};
use crate::notify::Notifier;
use crate::settings::{Paths, SecretVault, StoredSettings, engine_config, mask};
use crate::sync::{SyncControl, SyncHandle};
use crate::types::*;
use crate::{AppError, alerts, health};

/// How the app starts.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// `--data-dir`: everything lives there, secrets stay in memory (see [`crate::settings`]).
    pub data_dir: Option<PathBuf>,
    /// `--demo`: demo data for this run (until Finale or a database is saved).
    pub demo: bool,
    /// How the demo runs.
    pub demo_profile: DemoProfile,
}

/// The application (cheap to clone: one shared state).
#[derive(Clone)]
pub struct App {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("data_dir", &self.inner.paths.data_dir)
            .field("secrets", &self.inner.vault.describe())
            .finish_non_exhaustive()
    }
}

struct Inner {
    paths: Paths,
    vault: SecretVault,
    notifier: Arc<dyn Notifier>,
    feed: broadcast::Sender<Envelope>,
    shutdown: CancellationToken,
    demo_profile: DemoProfile,
    /// `--demo` still applies (no Finale or database saved since).
    force_demo: AtomicBool,
    current: RwLock<Arc<Generation>>,
    switching: tokio::sync::Mutex<()>,
    sync: Arc<SyncControl>,
}

/// The app's event feed holds this many events for a slow subscriber.
const FEED_CAPACITY: usize = 4096;

/// How long stopping a generation waits for its tasks.
const STOP_GRACE: Duration = Duration::from_secs(5);

/// How long `test_finale` and `test_database` wait for an answer.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Demo,
    Embedded,
    Shared,
}

/// When runs start by themselves in a generation.
#[derive(Debug, Clone)]
enum Timing {
    /// The engine's schedule.
    Schedule(Schedule),
    /// The demo loop's stock pulse.
    Demo(Duration),
    /// Nothing runs by itself (Finale not configured).
    None,
}

/// The components of one source (see the module docs).
struct Generation {
    source: Source,
    local_path: PathBuf,
    token: CancellationToken,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// The engine (set later in the shared mode, once the shared store answered).
    engine: Arc<Mutex<Option<Engine>>>,
    /// Why there is no engine, when there cannot be one.
    no_engine: Option<String>,
    /// The mirror's latest state (shared mode).
    mirror_status: Arc<Mutex<Option<CacheStatus>>>,
    timing: Timing,
    sim: Option<SimHandle>,
    readers: Mutex<Vec<Connection>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Generation {
    fn engine(&self) -> Result<Engine, AppError> {
        if let Some(e) = lock(&self.engine).as_ref() {
            return Ok(e.clone());
        }
        Err(match &self.no_engine {
            Some(why) => AppError::Unavailable(why.clone()),
            None => AppError::Offline("the shared store cannot be reached yet".into()),
        })
    }

    /// Runs `f` on a pooled read connection of this generation's cache (blocking).
    fn with_reader<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let pooled = lock(&self.readers).pop();
        let conn = match pooled {
            Some(c) => c,
            None => workstation::local::open_reader(&self.local_path)?,
        };
        let result = f(&conn);
        let mut pool = lock(&self.readers);
        if pool.len() < 4 {
            pool.push(conn);
        }
        result
    }

    async fn stop(&self) {
        self.token.cancel();
        let tasks: Vec<JoinHandle<()>> = lock(&self.tasks).drain(..).collect();
        for mut t in tasks {
            if tokio::time::timeout(STOP_GRACE, &mut t).await.is_err() {
                tracing::warn!("a component did not stop in time; aborting it");
                t.abort();
            }
        }
        if let Some(sim) = &self.sim {
            sim.clone().shutdown().await;
        }
        lock(&self.readers).clear();
    }
}

/// The engine's sync settings from the configuration (as `stockpulse serve` has them), with
/// the service's full-load slices when `slice`.
fn sync_settings(cfg: &EngineConfig, slice: bool) -> SyncSettings {
    SyncSettings {
        full_slice: slice.then_some(engine::sync::SERVICE_FULL_SLICE),
        ..cfg.sync_settings()
    }
}

async fn open_sqlite(path: PathBuf) -> Result<Arc<dyn Store>, AppError> {
    let store =
        tokio::task::spawn_blocking(move || engine::sqlite::SqliteStore::open(&path)).await??;
    Ok(Arc::new(store))
}

async fn open_postgres(
    url: &Secret,
    lock_url: Option<&Secret>,
    connections: usize,
) -> Result<Arc<dyn Store>, AppError> {
    let mut client = engine::pg::connect(url.expose()).await?;
    engine::pg::migrate(&mut client).await?;
    drop(client);
    let opts = engine::pg::PgOptions {
        connections,
        lock_url: lock_url.map(|u| u.expose().to_owned()),
    };
    Ok(Arc::new(
        engine::pg::PgStore::connect(url.expose(), opts).await?,
    ))
}

/// Copies a generation's bus into the app's feed, remembering the mirror's state.
async fn forward(
    mut sub: events::Subscriber,
    feed: broadcast::Sender<Envelope>,
    status: Arc<Mutex<Option<CacheStatus>>>,
    token: CancellationToken,
) {
    loop {
        let r = tokio::select! {
            () = token.cancelled() => return,
            r = sub.recv() => r,
        };
        match r {
            Some(Received::Event(e)) => {
                if let Event::Status(s) = &e.event {
                    *lock(&status) = Some(s.clone());
                }
                // No subscriber is fine.
                let _ = feed.send(e);
            }
            Some(Received::Lagged { missed }) => {
                tracing::warn!(missed, "the app's feed fell behind its cache");
            }
            None => return,
        }
    }
}

fn follower(path: PathBuf, bus: Bus, token: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = events::follow(path, bus, Since::Now, token.cancelled_owned()).await {
            tracing::warn!(%e, "the event follower stopped");
        }
    })
}

fn scheduler(engine: Engine, schedule: Schedule, token: CancellationToken) -> JoinHandle<()> {
    tokio::spawn(async move {
        let runner = EngineRunner::new(engine, |r: &RunReport| {
            tracing::info!(run = r.run_id, strategy = %r.strategy, "scheduled run finished");
        });
        let clock = Utc::now;
        match engine::schedule::serve(&runner, &schedule, &clock, token.cancelled_owned()).await {
            Ok(report) => tracing::info!(runs = report.runs.len(), "the schedule stopped"),
            Err(e) => tracing::warn!(%e, "the schedule stopped"),
        }
    })
}

/// Everything a generation is started from.
struct Plan<'a> {
    paths: &'a Paths,
    cfg: &'a EngineConfig,
    demo: bool,
    profile: &'a DemoProfile,
    feed: &'a broadcast::Sender<Envelope>,
    parent: &'a CancellationToken,
    sync: &'a Arc<SyncControl>,
}

impl Plan<'_> {
    async fn start(self) -> Result<Generation, AppError> {
        let source = if self.demo {
            Source::Demo
        } else if self.cfg.store.database_url.is_some() {
            Source::Shared
        } else {
            Source::Embedded
        };
        let token = self.parent.child_token();
        let bus = Bus::default();
        let mirror_status = Arc::new(Mutex::new(None));
        let mut tasks = vec![tokio::spawn(forward(
            bus.subscribe(),
            self.feed.clone(),
            mirror_status.clone(),
            token.clone(),
        ))];
        let engine_slot = Arc::new(Mutex::new(None));
        let finale = self.cfg.finale().cloned();
        let no_finale = finale.as_ref().err().map(|e| {
            format!("Finale is not configured: {e}; connect Finale in Settings or try the demo")
        });
        let runner = Engine::default_runner();
        let mut sim = None;
        let (local_path, timing, no_engine) = match source {
            Source::Demo => {
                let path = self.paths.demo_store();
                let store = open_sqlite(path.clone()).await?;
                let mut sim_cfg = SimConfig::new(self.profile.size, self.profile.seed);
                sim_cfg.limits.enabled = false;
                let handle = Simulator::start(sim_cfg.clone()).await.map_err(|e| {
                    AppError::Internal(format!("starting the demo's simulated Finale: {e}"))
                })?;
                let mut fc = FinaleConfig::new(
                    handle.account(),
                    Credentials::ApiKey {
                        key: sim_cfg.api_key.clone(),
                        secret: Secret::from(sim_cfg.api_secret.clone()),
                    },
                );
                fc.base_url = handle
                    .base_url()
                    .parse()
                    .map_err(|e| AppError::Internal(format!("the simulator's URL: {e}")))?;
                fc.budgets.enabled = false;
                let client = FinaleClient::new(fc)
                    .map_err(|e| AppError::Internal(format!("the demo's Finale client: {e}")))?;
                let engine = Engine::new(client, store, sync_settings(self.cfg, false), runner);
                *lock(&engine_slot) = Some(engine.clone());
                tasks.push(follower(path.clone(), bus.clone(), token.clone()));
                tasks.push(tokio::spawn(demo_loop(
                    engine,
                    handle.clone(),
                    self.profile.clone(),
                    self.sync.clone(),
                    token.clone(),
                )));
                sim = Some(handle);
                (path, Timing::Demo(self.profile.tick), None)
            }
            Source::Embedded => {
                let path = self.paths.local_store();
                let store = open_sqlite(path.clone()).await?;
                let timing = match &finale {
                    Ok(fc) => {
                        let client = FinaleClient::new(fc.clone()).map_err(|e| {
                            AppError::InvalidInput(format!("the Finale client: {e}"))
                        })?;
                        let engine =
                            Engine::new(client, store, sync_settings(self.cfg, true), runner);
                        *lock(&engine_slot) = Some(engine.clone());
                        tasks.push(scheduler(engine, self.cfg.schedule(), token.clone()));
                        Timing::Schedule(self.cfg.schedule())
                    }
                    Err(_) => Timing::None,
                };
                tasks.push(follower(path.clone(), bus.clone(), token.clone()));
                (path, timing, no_finale)
            }
            Source::Shared => {
                let path = self.paths.local_store();
                let StoreTarget::Postgres { url, lock_url } = self.cfg.store.target() else {
                    return Err(AppError::Internal("no database URL".into()));
                };
                let mirror_cfg = MirrorConfig {
                    database_url: url.expose().to_owned(),
                    lock_url: lock_url.map(|u| u.expose().to_owned()),
                    local_path: path.clone(),
                };
                let mut mirror = {
                    let bus = bus.clone();
                    tokio::task::spawn_blocking(move || Mirror::open(mirror_cfg, bus)).await??
                };
                *lock(&mirror_status) = Some(mirror.status().clone());
                let t = token.clone();
                tasks.push(tokio::spawn(async move {
                    if let Err(e) = mirror.run(t.cancelled_owned()).await {
                        tracing::warn!(%e, "the mirror stopped");
                    }
                }));
                let timing = match &finale {
                    Ok(fc) => {
                        let client = FinaleClient::new(fc.clone()).map_err(|e| {
                            AppError::InvalidInput(format!("the Finale client: {e}"))
                        })?;
                        let url = url.clone();
                        let lock_url = lock_url.cloned();
                        let settings = sync_settings(self.cfg, true);
                        let connections = self.cfg.sync.smart_concurrency.max(1);
                        let schedule = self.cfg.schedule();
                        let slot = engine_slot.clone();
                        let t = token.clone();
                        tasks.push(tokio::spawn(async move {
                            let store = loop {
                                match open_postgres(&url, lock_url.as_ref(), connections).await {
                                    Ok(s) => break s,
                                    Err(e) => {
                                        tracing::warn!(%e, "the shared store; retrying in 30 s");
                                        tokio::select! {
                                            () = t.cancelled() => return,
                                            () = tokio::time::sleep(Duration::from_secs(30)) => {}
                                        }
                                    }
                                }
                            };
                            let engine = Engine::new(client, store, settings, runner);
                            *lock(&slot) = Some(engine.clone());
                            scheduler(engine, schedule, t).await.ok();
                        }));
                        Timing::Schedule(self.cfg.schedule())
                    }
                    Err(_) => Timing::None,
                };
                (path, timing, no_finale)
            }
        };
        Ok(Generation {
            source,
            local_path,
            token,
            tasks: Mutex::new(tasks),
            engine: engine_slot,
            no_engine,
            mirror_status,
            timing,
            sim,
            readers: Mutex::new(Vec::new()),
        })
    }
}

/// The demo: the initial load (as a user-visible run), then live activity and stock pulses.
async fn demo_loop(
    engine: Engine,
    sim: SimHandle,
    profile: DemoProfile,
    sync: Arc<SyncControl>,
    token: CancellationToken,
) {
    let loaded = engine::sync::status::plan_state(&**engine.store())
        .await
        .ok()
        .flatten()
        .is_some_and(|p| p.loaded());
    if !loaded {
        match sync.start(engine.clone(), Strategy::Full, &token).await {
            Ok(mut h) => while h.next().await.is_some() {},
            Err(e) => tracing::warn!(%e, "the demo's initial load"),
        }
    }
    let mut tick = 0u32;
    loop {
        tokio::select! {
            () = token.cancelled() => return,
            () = tokio::time::sleep(profile.tick) => {}
        }
        let live = sim.step_live(profile.activity_per_tick);
        tracing::debug!(?live, "demo activity");
        if profile.sell_out_every > 0
            && tick.is_multiple_of(profile.sell_out_every)
            && let Some(sku) = sell_out_one(&sim)
        {
            tracing::info!(sku, "demo: an item sells out");
        }
        tick = tick.wrapping_add(1);
        if sync.running().is_some() {
            continue;
        }
        let pulse = engine.run(Strategy::Stock, &engine::sync::NoProgress);
        tokio::select! {
            () = token.cancelled() => return,
            r = pulse => if let Err(e) = r {
                tracing::debug!(%e, "demo stock pulse");
            }
        }
    }
}

impl App {
    /// Builds the app from its options and the configuration, and starts its components.
    /// Must run inside a Tokio runtime (the components are tasks on it).
    pub async fn start(opts: AppOptions, notifier: Arc<dyn Notifier>) -> Result<App, AppError> {
        let paths = Paths::resolve(opts.data_dir)?;
        paths.create()?;
        let vault = SecretVault::for_paths(&paths);
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let shutdown = CancellationToken::new();
        let sync = Arc::new(SyncControl::default());
        let mut stored = StoredSettings::load(&paths.settings_file())?;
        stored.demo |= opts.demo;
        let cfg = engine_config(&paths, &stored, &vault)?;
        let generation = Plan {
            paths: &paths,
            cfg: &cfg,
            demo: stored.demo,
            profile: &opts.demo_profile,
            feed: &feed,
            parent: &shutdown,
            sync: &sync,
        }
        .start()
        .await?;
        let notify_feed = feed.subscribe();
        let n = notifier.clone();
        let t = shutdown.clone();
        tokio::spawn(async move {
            tokio::select! {
                () = crate::notify::run(notify_feed, n) => {}
                () = t.cancelled() => {}
            }
        });
        Ok(App {
            inner: Arc::new(Inner {
                paths,
                vault,
                notifier,
                feed,
                shutdown,
                demo_profile: opts.demo_profile,
                force_demo: AtomicBool::new(opts.demo),
                current: RwLock::new(Arc::new(generation)),
                switching: tokio::sync::Mutex::new(()),
                sync,
            }),
        })
    }

    /// Stops every component (a run in flight is cancelled at a batch boundary).
    pub async fn shutdown(&self) {
        self.inner.sync.cancel();
        let current = self.current();
        current.stop().await;
        self.inner.shutdown.cancel();
    }

    fn current(&self) -> Arc<Generation> {
        self.inner
            .current
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The data directory.
    pub fn data_dir(&self) -> &std::path::Path {
        &self.inner.paths.data_dir
    }

    /// The demo's simulated Finale, while the demo runs (tests drive it).
    pub fn demo_simulator(&self) -> Option<SimHandle> {
        self.current().sim.clone()
    }

    fn stored(&self) -> Result<StoredSettings, AppError> {
        let mut s = StoredSettings::load(&self.inner.paths.settings_file())?;
        s.demo |= self.inner.force_demo.load(Ordering::Acquire);
        Ok(s)
    }

    fn config(&self) -> Result<EngineConfig, AppError> {
        engine_config(&self.inner.paths, &self.stored()?, &self.inner.vault)
    }

    /// Applies changed settings: stops the current generation, starts the next.
    async fn rebuild(&self) -> Result<(), AppError> {
        let _one_at_a_time = self.inner.switching.lock().await;
        let stored = self.stored()?;
        let cfg = self.config()?;
        self.inner.sync.cancel();
        let old = self.current();
        old.stop().await;
        let next = Plan {
            paths: &self.inner.paths,
            cfg: &cfg,
            demo: stored.demo,
            profile: &self.inner.demo_profile,
            feed: &self.inner.feed,
            parent: &self.inner.shutdown,
            sync: &self.inner.sync,
        }
        .start()
        .await?;
        *self
            .inner
            .current
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Arc::new(next);
        Ok(())
    }

    async fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let generation = self.current();
        tokio::task::spawn_blocking(move || generation.with_reader(f)).await?
    }

    // ---- queries -------------------------------------------------------------------------

    /// `search`: a page of the stock list.
    pub async fn search(&self, q: SearchQuery) -> Result<SearchPage, AppError> {
        self.read(move |c| Ok(query::search(c, &q)?)).await
    }

    /// `item`: one item in full, by SKU.
    pub async fn item(&self, sku: String) -> Result<ItemDetail, AppError> {
        let today = Utc::now().date_naive();
        self.read(move |c| Ok(query::item(c, &sku, today)?)).await
    }

    /// `reorder`: cross-location reorder suggestions.
    pub async fn reorder(&self, q: ReorderQuery) -> Result<ReorderPage, AppError> {
        self.read(move |c| Ok(query::reorder(c, &q)?)).await
    }

    /// `dashboard`: items by state and sync health.
    pub async fn dashboard(&self) -> Result<Dashboard, AppError> {
        self.read(|c| Ok(query::dashboard(c)?)).await
    }

    /// `filter_options`: the locations and suppliers the filters offer.
    pub async fn filter_options(&self) -> Result<FilterOptions, AppError> {
        self.read(|c| {
            let rows = |sql: &str, what: &'static str| -> Result<Vec<FilterOption>, AppError> {
                let mut s = c
                    .prepare_cached(sql)
                    .map_err(workstation::CacheError::sqlite(what))?;
                let rows = s
                    .query_map([], |r| {
                        Ok(FilterOption {
                            url: r.get(0)?,
                            name: r.get(1)?,
                        })
                    })
                    .and_then(Iterator::collect)
                    .map_err(workstation::CacheError::sqlite(what))?;
                Ok(rows)
            };
            Ok(FilterOptions {
                locations: rows(
                    "SELECT url, coalesce(name, facility_id) FROM facilities
                      WHERE parent_url IS NULL ORDER BY 2 COLLATE NOCASE, 1",
                    "list the locations",
                )?,
                suppliers: rows(
                    "SELECT s.supplier_url, coalesce(p.name, p.party_id, s.supplier_url)
                       FROM (SELECT DISTINCT supplier_url FROM product_suppliers
                              WHERE supplier_url IS NOT NULL) s
                       LEFT JOIN parties p ON p.url = s.supplier_url
                      ORDER BY 2 COLLATE NOCASE, 1",
                    "list the suppliers",
                )?,
            })
        })
        .await
    }

    /// `app_status`: connection state, data as of, offline, notifications.
    pub async fn app_status(&self) -> Result<AppStatus, AppError> {
        let generation = self.current();
        let cache = match generation.source {
            Source::Shared => lock(&generation.mirror_status).clone(),
            Source::Demo | Source::Embedded => {
                let path = generation.local_path.clone();
                tokio::task::spawn_blocking(move || {
                    workstation::status::read_report(&path, false, Utc::now())
                })
                .await??
                .status
            }
        };
        Ok(AppStatus {
            offline: cache
                .as_ref()
                .is_some_and(|c| c.state == CacheState::Offline),
            cache,
            mode: if generation.source == Source::Shared {
                AppMode::Shared
            } else {
                AppMode::Embedded
            },
            demo: generation.source == Source::Demo,
            notifications: self.inner.notifier.status(),
        })
    }

    // ---- the live feed -------------------------------------------------------------------

    /// A subscription to every domain event from now on (across settings changes).
    pub fn subscribe(&self) -> broadcast::Receiver<Envelope> {
        self.inner.feed.subscribe()
    }

    /// `subscribe_events`: sends every event to `send` on a task of its own until `send`
    /// returns `false` (the window went away) or the app stops.
    pub fn subscribe_events(&self, mut send: impl FnMut(Envelope) -> bool + Send + 'static) {
        let mut feed = self.subscribe();
        let stop = self.inner.shutdown.clone();
        tokio::spawn(async move {
            loop {
                let r = tokio::select! {
                    () = stop.cancelled() => return,
                    r = feed.recv() => r,
                };
                match r {
                    Ok(e) => {
                        if !send(e) {
                            return;
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(missed)) => {
                        tracing::warn!(missed, "a window's event feed fell behind");
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        });
    }

    // ---- sync ----------------------------------------------------------------------------

    /// `sync_start`: starts a run; returns once it has its id (or why it could not start).
    pub async fn sync_start(&self, strategy: SyncStrategy) -> Result<SyncHandle, AppError> {
        let generation = self.current();
        let engine = generation.engine()?;
        self.inner
            .sync
            .start(engine, strategy.into(), &generation.token)
            .await
    }

    /// `sync_cancel`: stops the run in flight at a batch boundary (resumable).
    pub fn sync_cancel(&self) {
        self.inner.sync.cancel();
    }

    /// `sync_overview`: the run in flight, the writer role, the schedule, recent runs.
    pub async fn sync_overview(&self) -> Result<SyncOverview, AppError> {
        let generation = self.current();
        let running = self.inner.sync.running();
        let engine = match generation.engine() {
            Ok(e) => e,
            Err(AppError::Unavailable(_)) => {
                return Ok(SyncOverview {
                    running,
                    writer: None,
                    schedule: Vec::new(),
                    runs: Vec::new(),
                });
            }
            Err(e) => return Err(e),
        };
        let store = engine.store().clone();
        let me = Engine::default_runner();
        let writer = store.writer_lease().await?.map(|l| WriterRole {
            holder: l.holder(),
            since: l.acquired_at,
            is_me: l.runner == me,
        });
        let runs = store
            .recent_runs(20)
            .await?
            .iter()
            .map(health::summary)
            .collect();
        let schedule = match &generation.timing {
            Timing::None => Vec::new(),
            Timing::Demo(tick) => vec![ScheduleEntry {
                strategy: Strategy::Stock.as_str().to_owned(),
                every_seconds: i64::try_from(tick.as_secs()).unwrap_or(i64::MAX),
                next_at: None,
            }],
            Timing::Schedule(s) => {
                let runner = EngineRunner::new(engine, |_: &RunReport| {});
                let last = runner.last_runs().await?;
                schedule_entries(s, &last, Utc::now())
            }
        };
        Ok(SyncOverview {
            running,
            writer,
            schedule,
            runs,
        })
    }

    // ---- health --------------------------------------------------------------------------

    /// `health`: the sync runs of the last `days` days and the Finale budget in use.
    pub async fn health(&self, days: u32) -> Result<HealthSeries, AppError> {
        if !(1..=3650).contains(&days) {
            return Err(AppError::InvalidInput(format!(
                "days must be 1 to 3650, not {days}"
            )));
        }
        let engine = self.current().engine()?;
        let store = engine.store();
        let now = Utc::now();
        let runs = store.recent_runs(10_000).await?;
        let (points, errors_by_pattern) = health::series(&runs, days, now);
        let budgets = &engine.client().config().budgets;
        let used = engine::sync::budget::budget_use(&**store, budgets, now).await?;
        let budget = used
            .iter()
            .find(|u| u.bucket == finale::Bucket::Collection)
            .map_or(
                BudgetUse {
                    used: 0,
                    limit: u64::from(budgets.collection_per_hour),
                    window_seconds: 3600,
                },
                |u| BudgetUse {
                    used: u.used,
                    limit: u64::from(u.limit),
                    window_seconds: u.window_secs,
                },
            );
        Ok(HealthSeries {
            points,
            errors_by_pattern,
            budget,
        })
    }

    // ---- alerts --------------------------------------------------------------------------

    /// `alerts`: the active alerts, grouped as they were raised.
    pub async fn alerts(&self) -> Result<Vec<AlertListGroup>, AppError> {
        self.read(|c| Ok(alerts::group(&events::active_alerts(c)?)))
            .await
    }

    /// `alert_ack`: acknowledges every alert of a group.
    pub async fn alert_ack(&self, id: i64) -> Result<(), AppError> {
        let now = Utc::now();
        self.read(move |c| {
            for a in group_members(c, id)? {
                events::acknowledge(c, a, now)?;
            }
            Ok(())
        })
        .await
    }

    /// `alert_snooze`: snoozes every alert of a group for `minutes` (1 to 7 days).
    pub async fn alert_snooze(&self, id: i64, minutes: u32) -> Result<(), AppError> {
        if !(1..=7 * 24 * 60).contains(&minutes) {
            return Err(AppError::InvalidInput(format!(
                "snooze for 1 minute to 7 days, not {minutes} minutes"
            )));
        }
        let until = Utc::now() + TimeDelta::minutes(i64::from(minutes));
        self.read(move |c| {
            for a in group_members(c, id)? {
                events::snooze(c, a, Some(until))?;
            }
            Ok(())
        })
        .await
    }

    // ---- settings ------------------------------------------------------------------------

    /// `settings`: what is configured, without secrets.
    pub fn settings(&self) -> Result<Settings, AppError> {
        let stored = self.stored()?;
        let cfg = self.config()?;
        let finale = match (cfg.finale(), &stored.finale_account) {
            (Ok(f), _) => Some(FinaleSettings {
                account: f.account.clone(),
                api_key_masked: match &f.credentials {
                    Credentials::ApiKey { key, .. } => Some(mask(key)),
                    Credentials::Session { .. } => None,
                },
                configured: true,
            }),
            (Err(_), Some(account)) => Some(FinaleSettings {
                account: account.clone(),
                api_key_masked: self
                    .inner
                    .vault_get(ENTRY_FINALE_API_KEY)
                    .map(|k| mask(k.expose())),
                configured: false,
            }),
            (Err(_), None) => None,
        };
        let database = cfg.store.database_url.as_ref().map(|url| {
            match engine::pg::connect::plan_connection(url.expose()) {
                Ok(plan) => DatabaseSettings {
                    url_masked: Some(plan.target().to_owned()),
                    tls: plan.ssl_mode().requires_tls(),
                },
                Err(_) => DatabaseSettings {
                    url_masked: None,
                    tls: false,
                },
            }
        });
        Ok(Settings {
            finale,
            database,
            demo: stored.demo,
            data_dir: self.inner.paths.data_dir.display().to_string(),
        })
    }

    /// `test_finale`: reads one small collection with these credentials.
    pub async fn test_finale(
        &self,
        account: String,
        api_key: String,
        api_secret: String,
    ) -> Result<ConnectionTest, AppError> {
        let cfg = finale_config(&account, &api_key, api_secret, self.config()?.finale().ok())?;
        let client = match FinaleClient::new(cfg) {
            Ok(c) => c,
            Err(e) => {
                return Ok(ConnectionTest {
                    ok: false,
                    message: e.to_string(),
                });
            }
        };
        let read = client.fetch_all::<finale::Facility>(finale::Priority::Critical);
        Ok(match tokio::time::timeout(TEST_TIMEOUT, read).await {
            Ok(Ok(d)) => ConnectionTest {
                ok: true,
                message: format!(
                    "connected to Finale account {account}: {} locations",
                    d.records.len()
                ),
            },
            Ok(Err(e)) => ConnectionTest {
                ok: false,
                message: e.to_string(),
            },
            Err(_) => ConnectionTest {
                ok: false,
                message: format!("Finale did not answer within {} s", TEST_TIMEOUT.as_secs()),
            },
        })
    }

    /// `save_finale`: keeps the account in the settings file and the key and secret in the
    /// vault, then switches to the real account (the demo stops).
    pub async fn save_finale(
        &self,
        account: String,
        api_key: String,
        api_secret: String,
    ) -> Result<Settings, AppError> {
        finale_config(&account, &api_key, api_secret.clone(), None)?;
        self.inner
            .vault
            .set(ENTRY_FINALE_API_KEY, &Secret::from(api_key))?;
        self.inner
            .vault
            .set(ENTRY_FINALE_API_SECRET, &Secret::from(api_secret))?;
        let mut stored = StoredSettings::load(&self.inner.paths.settings_file())?;
        stored.finale_account = Some(account.trim().to_owned());
        stored.demo = false;
        stored.save(&self.inner.paths.settings_file())?;
        self.inner.force_demo.store(false, Ordering::Release);
        self.rebuild().await?;
        self.settings()
    }

    /// `test_database`: connects to a Postgres URL and runs one query.
    pub async fn test_database(&self, url: String) -> Result<DatabaseTest, AppError> {
        let plan = match engine::pg::connect::plan_connection(&url) {
            Ok(p) => p,
            Err(e) => {
                return Ok(DatabaseTest {
                    ok: false,
                    tls: false,
                    message: e.to_string(),
                });
            }
        };
        let tls = plan.ssl_mode().requires_tls();
        let target = plan.target().to_owned();
        let check = async {
            let client = plan.connect().await?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| AppError::Offline(format!("{target}: {e}")))?;
            Ok::<_, AppError>(())
        };
        Ok(match tokio::time::timeout(TEST_TIMEOUT, check).await {
            Ok(Ok(())) => DatabaseTest {
                ok: true,
                tls,
                message: format!("connected to {target}"),
            },
            Ok(Err(e)) => DatabaseTest {
                ok: false,
                tls,
                message: e.to_string(),
            },
            Err(_) => DatabaseTest {
                ok: false,
                tls,
                message: format!(
                    "{target} did not answer within {} s",
                    TEST_TIMEOUT.as_secs()
                ),
            },
        })
    }

    /// `save_database`: keeps the URL in the vault (`None` forgets it: the embedded
    /// default), then switches.
    pub async fn save_database(&self, url: Option<String>) -> Result<Settings, AppError> {
        match url.as_deref().map(str::trim).filter(|u| !u.is_empty()) {
            Some(u) => {
                engine::pg::connect::plan_connection(u)?;
                self.inner.vault.set(ENTRY_DATABASE_URL, &Secret::from(u))?;
            }
            None => self.inner.vault.delete(ENTRY_DATABASE_URL)?,
        }
        let mut stored = StoredSettings::load(&self.inner.paths.settings_file())?;
        stored.demo = false;
        stored.save(&self.inner.paths.settings_file())?;
        self.inner.force_demo.store(false, Ordering::Release);
        self.rebuild().await?;
        self.settings()
    }

    /// `use_demo`: switches to demo data (the simulator in process, live).
    pub async fn use_demo(&self) -> Result<Settings, AppError> {
        let mut stored = StoredSettings::load(&self.inner.paths.settings_file())?;
        stored.demo = true;
        stored.save(&self.inner.paths.settings_file())?;
        self.rebuild().await?;
        self.settings()
    }
}

impl Inner {
    fn vault_get(&self, entry: &str) -> Option<Secret> {
        engine::config::Keychain::get(&self.vault, entry)
    }
}

/// The alert ids of a group (see [`alerts::members`]); `NotFound` when there is none.
fn group_members(c: &Connection, id: i64) -> Result<Vec<i64>, AppError> {
    let members = alerts::members(&events::active_alerts(c)?, id);
    if members.is_empty() {
        return Err(AppError::NotFound(format!("no active alert group {id}")));
    }
    Ok(members)
}

/// A Finale configuration for these credentials (over the configured one's other settings,
/// e.g. its host, when there is one).
fn finale_config(
    account: &str,
    api_key: &str,
    api_secret: String,
    base: Option<&FinaleConfig>,
) -> Result<FinaleConfig, AppError> {
    let account = account.trim();
    if account.is_empty() || account.contains('/') {
        return Err(AppError::InvalidInput(
            "the Finale account is the name in your Finale URL (app.finaleinventory.com/NAME)"
                .into(),
        ));
    }
    if api_key.trim().is_empty() || api_secret.is_empty() {
        return Err(AppError::InvalidInput(
            "both the API key and the API secret are needed".into(),
        ));
    }
    let credentials = Credentials::ApiKey {
        key: api_key.trim().to_owned(),
        secret: Secret::from(api_secret),
    };
    Ok(match base {
        Some(b) => FinaleConfig {
            account: account.to_owned(),
            credentials,
            ..b.clone()
        },
        None => FinaleConfig::new(account, credentials),
    })
}

/// The schedule as the sync screen lists it.
fn schedule_entries(
    s: &Schedule,
    last: &engine::schedule::LastRuns,
    now: DateTime<Utc>,
) -> Vec<ScheduleEntry> {
    let at = |t: Option<DateTime<Utc>>| last.full_done.then(|| t.unwrap_or(now).max(now));
    let slot = s.smart_slot(now);
    let smart_next = if last.smart.is_some_and(|t| t >= slot) {
        slot + TimeDelta::days(1)
    } else {
        now
    };
    let mut out = vec![
        ScheduleEntry {
            strategy: "smart".into(),
            every_seconds: 86_400,
            next_at: at(Some(smart_next)),
        },
        ScheduleEntry {
            strategy: "critical".into(),
            every_seconds: s.critical_every.num_seconds(),
            next_at: at(last.critical.map(|t| t + s.critical_every)),
        },
    ];
    if let Some(every) = s.stock_every {
        let read = [last.smart, last.critical, last.stock]
            .into_iter()
            .flatten()
            .max();
        out.push(ScheduleEntry {
            strategy: "stock".into(),
            every_seconds: every.num_seconds(),
            next_at: at(read.map(|t| t + every)),
        });
    }
    out
}
