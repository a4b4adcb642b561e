//! The one error type of the application core, and its IPC form `{code, message}`.
//!
//! Every command of the app fails with an [`AppError`]; the shell turns it into a
//! [`CommandError`] (`From`), whose `code` the UI may branch on ([`ErrorCode`], the codes of
//! `CONTRACT.md`) and whose `message` it shows. Messages never contain a secret: database URLs
//! are described by the store's own errors (password redacted), Finale credentials are held as
//! [`finale::Secret`], and nothing here formats a secret into text.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

/// What the UI can branch on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, TS)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// The input was refused (a bad search, an unknown sort field, an unusable URL).
    InvalidInput,
    /// No such item, alert or run.
    NotFound,
    /// The shared store or Finale cannot be reached; the local cache still answers.
    Offline,
    /// Another sync is running (here or on another workstation).
    Busy,
    /// The feature needs something not configured yet (no Finale account, no local data).
    Unavailable,
    /// A bug or an unexpected failure (the message says what).
    Internal,
}

/// A failed command as the web view receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, TS)]
pub struct CommandError {
    /// What kind of failure.
    pub code: ErrorCode,
    /// A human-readable explanation, without secrets.
    pub message: String,
}

/// What went wrong in the application core.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The caller's input was refused.
    #[error("{0}")]
    InvalidInput(String),
    /// No such thing.
    #[error("{0}")]
    NotFound(String),
    /// A remote (the shared store, Finale) cannot be reached.
    #[error("offline: {0}")]
    Offline(String),
    /// Another engine holds the writer role, or a sync is already running here.
    #[error("a sync is already running ({holder})")]
    Busy {
        /// Who runs it.
        holder: String,
    },
    /// Not configured (yet).
    #[error("{0}")]
    Unavailable(String),
    /// The workstation cache failed.
    #[error(transparent)]
    Cache(#[from] workstation::CacheError),
    /// The configuration is unusable.
    #[error(transparent)]
    Config(#[from] engine::config::ConfigError),
    /// A sync run failed.
    #[error(transparent)]
    Sync(engine::sync::SyncError),
    /// The store failed.
    #[error(transparent)]
    Store(engine::StoreError),
    /// Anything else.
    #[error("{0}")]
    Internal(String),
}

impl From<engine::sync::SyncError> for AppError {
    fn from(e: engine::sync::SyncError) -> Self {
        match e {
            engine::sync::SyncError::WriterBusy { holder } => AppError::Busy { holder },
            e => AppError::Sync(e),
        }
    }
}

impl From<engine::StoreError> for AppError {
    fn from(e: engine::StoreError) -> Self {
        match e {
            engine::StoreError::WriterBusy { holder } => AppError::Busy { holder },
            e => AppError::Store(e),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> Self {
        AppError::Internal(format!("a background task failed: {e}"))
    }
}

impl AppError {
    /// The code the UI sees.
    pub fn code(&self) -> ErrorCode {
        use engine::StoreError as S;
        use workstation::CacheError as C;
        let store = |e: &S| match e {
            S::Connect { .. } | S::Tls { .. } => ErrorCode::Offline,
            S::InvalidUrl { .. } | S::Auth { .. } | S::NoSuchDatabase { .. } => {
                ErrorCode::InvalidInput
            }
            S::WriterBusy { .. } => ErrorCode::Busy,
            _ => ErrorCode::Internal,
        };
        match self {
            AppError::InvalidInput(_) | AppError::Config(_) => ErrorCode::InvalidInput,
            AppError::NotFound(_) => ErrorCode::NotFound,
            AppError::Offline(_) => ErrorCode::Offline,
            AppError::Busy { .. } => ErrorCode::Busy,
            AppError::Unavailable(_) => ErrorCode::Unavailable,
            AppError::Internal(_) => ErrorCode::Internal,
            AppError::Store(e) => store(e),
            AppError::Sync(e) => match e {
                engine::sync::SyncError::Store(e) => store(e),
                e if e.ends_service() => ErrorCode::InvalidInput,
                _ => ErrorCode::Internal,
            },
            AppError::Cache(e) => match e {
                C::InvalidInput(_) => ErrorCode::InvalidInput,
                C::NotFound(_) => ErrorCode::NotFound,
                C::NoLocalStore { .. } => ErrorCode::Unavailable,
                C::Disconnected(_) => ErrorCode::Offline,
                C::Store(e) => store(e),
                _ => ErrorCode::Internal,
            },
        }
    }
}

impl From<AppError> for CommandError {
    fn from(e: AppError) -> Self {
        CommandError {
            code: e.code(),
            message: e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_the_contract() {
        let json = |e: AppError| serde_json::to_value(CommandError::from(e)).ok();
        assert_eq!(
            json(AppError::Cache(workstation::CacheError::NotFound(
                "SKU-1".into()
            ))),
            Some(
                serde_json::json!({"code": "not_found", "message": "no item SKU-1 in the local store"})
            )
        );
        assert_eq!(
            AppError::from(engine::sync::SyncError::WriterBusy {
                holder: "ws-2:42".into()
            })
            .code(),
            ErrorCode::Busy
        );
        assert_eq!(
            AppError::Cache(workstation::CacheError::InvalidInput("bad".into())).code(),
            ErrorCode::InvalidInput
        );
        assert_eq!(
            AppError::Unavailable("no Finale account".into()).code(),
            ErrorCode::Unavailable
        );
    }
}
