//! Where the app keeps its data, its settings file, and its secrets.
//!
//! # The data directory
//!
//! Everything the app writes lives in one folder: `--data-dir DIR` when given (created when
//! missing), else the folder of the CLI's default local store
//! (`$XDG_DATA_HOME/stockpulse`, `~/.local/share/stockpulse`), so the app and `stockpulse`
//! share one cache. In it:
//!
//! - `stockpulse.db`: the local cache (the workstation's SQLite store);
//! - `demo.db`: the demo's cache, kept apart so demo data never mixes with real data;
//! - `settings.json`: what the Settings screen saved that is not secret (the Finale account,
//!   whether the demo runs). Never a key, a secret or a database URL.
//!
//! # Secrets
//!
//! The Finale API key and secret and the database URL go to a [`SecretVault`]:
//!
//! - **without `--data-dir`**: the OS keychain, under the engine's service and entry names
//!   ([`engine::config::KEYCHAIN_SERVICE`]), so the CLI finds what the app saved;
//! - **with `--data-dir`** (tests, demos, a second profile) or `STOCKPULSE_KEYCHAIN=off`:
//!   process memory, for that run only. A throwaway data dir must never read or overwrite
//!   the user's real credentials, and a keychain entry namespaced per folder would outlive
//!   the folder; so an explicit data dir keeps nothing secret on disk at all, and credentials
//!   saved in such a run are asked for again next time.
//!
//! Configuration is the engine's ([`engine::config::EngineConfig::load_with`]): the app
//! supplies the local store path and the saved account as if they were environment
//! variables, over the real environment (without `--data-dir`) or over nothing (with it: an
//! explicit data dir is isolated from `STOCKPULSE_*`, `FINALE_*` and the config file too).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use engine::config::{EngineConfig, Keychain, OsKeychain};
use finale::Secret;
use serde::{Deserialize, Serialize};

use crate::AppError;

/// The folders and files of one app instance.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The data directory.
    pub data_dir: PathBuf,
    /// It was given explicitly (`--data-dir`): isolated from the environment and keychain.
    pub isolated: bool,
}

impl Paths {
    /// `data_dir` when given, else the default next to the CLI's local store.
    pub fn resolve(data_dir: Option<PathBuf>) -> Result<Paths, AppError> {
        match data_dir {
            Some(d) => Ok(Paths {
                data_dir: absolute(d),
                isolated: true,
            }),
            None => {
                let db = engine::config::default_local_path(&|k| std::env::var(k).ok())
                    .ok_or_else(|| {
                        AppError::Unavailable(
                            "no data directory: HOME is not set; pass --data-dir".into(),
                        )
                    })?;
                let dir = db.parent().map(Path::to_path_buf).unwrap_or(db);
                Ok(Paths {
                    data_dir: dir,
                    isolated: false,
                })
            }
        }
    }

    /// Creates the data directory when missing.
    pub fn create(&self) -> Result<(), AppError> {
        std::fs::create_dir_all(&self.data_dir).map_err(|e| {
            AppError::Unavailable(format!(
                "cannot create the data directory {}: {e}",
                self.data_dir.display()
            ))
        })
    }

    /// The local cache.
    pub fn local_store(&self) -> PathBuf {
        self.data_dir.join("stockpulse.db")
    }

    /// The demo's cache.
    pub fn demo_store(&self) -> PathBuf {
        self.data_dir.join("demo.db")
    }

    /// The settings file.
    pub fn settings_file(&self) -> PathBuf {
        self.data_dir.join("settings.json")
    }
}

fn absolute(p: PathBuf) -> PathBuf {
    if p.is_absolute() {
        p
    } else {
        std::env::current_dir().map(|d| d.join(&p)).unwrap_or(p)
    }
}

/// The non-secret settings, as saved in `settings.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoredSettings {
    /// The Finale account.
    pub finale_account: Option<String>,
    /// Run the demo (the simulator in process).
    pub demo: bool,
}

impl StoredSettings {
    /// Reads the file (absent = defaults).
    pub fn load(path: &Path) -> Result<StoredSettings, AppError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
                AppError::InvalidInput(format!("settings file {}: {e}", path.display()))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(StoredSettings::default()),
            Err(e) => Err(AppError::Internal(format!(
                "cannot read the settings file {}: {e}",
                path.display()
            ))),
        }
    }

    /// Writes the file atomically (a temporary file renamed over it).
    pub fn save(&self, path: &Path) -> Result<(), AppError> {
        let text = serde_json::to_vec_pretty(self)
            .map_err(|e| AppError::Internal(format!("settings: {e}")))?;
        let tmp = path.with_extension("json.tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| {
                AppError::Internal(format!(
                    "cannot write the settings file {}: {e}",
                    path.display()
                ))
            })
    }
}

/// Where secrets are kept (see the module docs). `Debug` names the kind, never a value.
pub enum SecretVault {
    /// The OS keychain (service [`engine::config::KEYCHAIN_SERVICE`]).
    Os,
    /// Process memory, for this run only.
    Memory(Mutex<HashMap<String, String>>),
}

impl std::fmt::Debug for SecretVault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.describe())
    }
}

impl SecretVault {
    /// The vault for these paths: memory when isolated or when the keychain is switched off.
    pub fn for_paths(paths: &Paths) -> SecretVault {
        let off = std::env::var(engine::config::KEYCHAIN_SWITCH_VAR).is_ok_and(|v| {
            matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "off" | "0" | "false" | "no"
            )
        });
        if paths.isolated || off {
            SecretVault::Memory(Mutex::new(HashMap::new()))
        } else {
            SecretVault::Os
        }
    }

    /// Stores a secret.
    pub fn set(&self, entry: &str, value: &Secret) -> Result<(), AppError> {
        match self {
            SecretVault::Os => OsKeychain
                .set(entry, value)
                .map_err(|e| AppError::Unavailable(e.to_string())),
            SecretVault::Memory(m) => {
                lock(m).insert(entry.to_owned(), value.expose().to_owned());
                Ok(())
            }
        }
    }

    /// Removes a secret (absent is fine).
    pub fn delete(&self, entry: &str) -> Result<(), AppError> {
        match self {
            SecretVault::Os => OsKeychain
                .delete(entry)
                .map_err(|e| AppError::Unavailable(e.to_string())),
            SecretVault::Memory(m) => {
                lock(m).remove(entry);
                Ok(())
            }
        }
    }

    /// Where secrets go, for messages.
    pub fn describe(&self) -> &'static str {
        match self {
            SecretVault::Os => "the OS keychain",
            SecretVault::Memory(_) => "memory (this run only)",
        }
    }
}

impl Keychain for SecretVault {
    fn get(&self, entry: &str) -> Option<Secret> {
        match self {
            SecretVault::Os => OsKeychain.get(entry),
            SecretVault::Memory(m) => lock(m).get(entry).map(|v| Secret::from(v.as_str())),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The engine's configuration for these paths and settings (see the module docs).
pub fn engine_config(
    paths: &Paths,
    stored: &StoredSettings,
    vault: &SecretVault,
) -> Result<EngineConfig, AppError> {
    let mut overrides: HashMap<&str, String> = HashMap::new();
    overrides.insert(
        "STOCKPULSE_LOCAL_PATH",
        paths.local_store().display().to_string(),
    );
    if let Some(a) = &stored.finale_account {
        overrides.insert("FINALE_ACCOUNT", a.clone());
    }
    let isolated = paths.isolated;
    let env = |k: &str| -> Option<String> {
        overrides.get(k).cloned().or_else(|| {
            if isolated {
                None
            } else {
                std::env::var(k).ok()
            }
        })
    };
    Ok(EngineConfig::load_with(None, &env, vault)?)
}

/// A key shown as its last four characters (`••••3f9a`); short keys show nothing of
/// themselves.
pub fn mask(key: &str) -> String {
    let chars: Vec<char> = key.chars().collect();
    if chars.len() < 12 {
        "••••".to_owned()
    } else {
        let tail: String = chars[chars.len() - 4..].iter().collect();
        format!("••••{tail}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_show_at_most_the_last_four_characters() {
        assert_eq!(mask("abcdefghijkl3f9a"), "••••3f9a");
        assert_eq!(mask("short"), "••••");
        assert!(!mask("abcdefghijkl3f9a").contains("abcd"));
    }

    #[test]
    fn settings_round_trip_and_absent_is_default() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let path = dir.path().join("settings.json");
        assert_eq!(
            StoredSettings::load(&path).ok(),
            Some(StoredSettings::default())
        );
        let s = StoredSettings {
            finale_account: Some("acme".into()),
            demo: true,
        };
        s.save(&path).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(StoredSettings::load(&path).ok(), Some(s));
    }

    #[test]
    fn an_isolated_data_dir_keeps_secrets_in_memory_and_ignores_the_environment() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let paths =
            Paths::resolve(Some(dir.path().to_path_buf())).unwrap_or_else(|e| panic!("{e}"));
        let vault = SecretVault::for_paths(&paths);
        assert!(matches!(vault, SecretVault::Memory(_)));
        let stored = StoredSettings {
            finale_account: Some("acme".into()),
            demo: false,
        };
        let cfg = engine_config(&paths, &stored, &vault).unwrap_or_else(|e| panic!("{e}"));
        assert!(cfg.finale().is_err(), "no credentials yet");
        assert_eq!(cfg.store.local_path, paths.local_store());
        assert!(cfg.store.database_url.is_none());
        vault
            .set(
                engine::config::ENTRY_FINALE_API_KEY,
                &Secret::from("key-1234567890"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        vault
            .set(
                engine::config::ENTRY_FINALE_API_SECRET,
                &Secret::from("s3cret-value"),
            )
            .unwrap_or_else(|e| panic!("{e}"));
        let cfg = engine_config(&paths, &stored, &vault).unwrap_or_else(|e| panic!("{e}"));
        let finale = cfg.finale().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(finale.account, "acme");
        assert!(!format!("{cfg:?}").contains("s3cret-value"));
    }
}
