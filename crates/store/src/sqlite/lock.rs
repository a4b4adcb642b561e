//! The local store's writer role: an exclusive lock on a file beside the database.
//!
//! Postgres makes one engine the writer with an advisory lock; SQLite has nothing like it that
//! survives across connections and tells who holds it, so the local store uses an OS file
//! lock on `<database path>.writer.lock` ([`lock_path`]):
//!
//! - Taking the role is `File::try_lock` (an exclusive, non-blocking `flock` on Unix,
//!   `LockFileEx` on Windows) on that file, opened without truncating. The OS releases the
//!   lock when the holder's file handle closes, so a killed process never leaves a stale
//!   lock behind (unlike a "lock file exists" scheme).
//! - The holder then writes who it is ([`WriterInfo`] as JSON) into the file. A contender
//!   that fails to lock reads it and reports `runner (purpose)` in
//!   [`StoreError::WriterBusy`]; if it cannot read or parse it (the holder has just locked
//!   and not written yet, or the file is garbage), the holder is `unknown`.
//! - Locks belong to an open file handle, not to a process: a second `SqliteStore` on the same
//!   file in the same process, and a second `acquire` on the same store, are refused too.
//! - Dropping the [`FileLease`] empties the file and releases the lock.
//!
//! An in-memory store has no file and no other process can see it: its role is an in-process
//! slot ([`MemoryLock`]) with the same behaviour.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::StoreError;
use crate::{WriterInfo, WriterLease};

/// The lock file of the database at `db`: `<db>.writer.lock`.
pub fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".writer.lock");
    PathBuf::from(name)
}

/// `runner (purpose)`: how a holder is named in [`StoreError::WriterBusy`].
pub fn holder_name(info: &WriterInfo) -> String {
    format!("{} ({})", info.runner, info.purpose)
}

/// The writer role held through the lock file; dropping it releases the role.
#[derive(Debug)]
pub struct FileLease {
    file: File,
    path: PathBuf,
    holder: WriterInfo,
}

impl FileLease {
    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl WriterLease for FileLease {
    fn holder(&self) -> &WriterInfo {
        &self.holder
    }
}

impl Drop for FileLease {
    fn drop(&mut self) {
        // Best effort: the lock goes with the handle anyway; an emptied file just tells the
        // next contender nothing stale.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// One attempt to take the role through the lock file at `path`.
pub fn try_lock_file(path: &Path, me: &WriterInfo) -> Result<FileLease, StoreError> {
    let io = |what: &'static str| {
        let path = path.to_path_buf();
        move |e: std::io::Error| StoreError::LockFile {
            path,
            what,
            source: e,
        }
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io("open the writer lock file"))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            return Err(StoreError::WriterBusy {
                holder: read_holder(&mut file),
            });
        }
        Err(TryLockError::Error(e)) => return Err(io("lock the writer lock file")(e)),
    }
    let info = serde_json::to_vec(me).map_err(|e| StoreError::Corrupt {
        what: format!("writer info does not serialise: {e}"),
    })?;
    file.set_len(0).map_err(io("write the writer lock file"))?;
    file.seek(SeekFrom::Start(0))
        .map_err(io("write the writer lock file"))?;
    file.write_all(&info)
        .map_err(io("write the writer lock file"))?;
    file.flush().map_err(io("write the writer lock file"))?;
    Ok(FileLease {
        file,
        path: path.to_path_buf(),
        holder: me.clone(),
    })
}

/// Who the lock file names, or `unknown`.
fn read_holder(file: &mut File) -> String {
    let mut text = String::new();
    let read = file
        .seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text));
    match read {
        Ok(_) => serde_json::from_str::<WriterInfo>(&text)
            .map(|info| holder_name(&info))
            .unwrap_or_else(|_| "unknown".to_owned()),
        Err(_) => "unknown".to_owned(),
    }
}

/// The writer role of an in-memory store: one slot shared by the store's clones.
#[derive(Debug, Clone, Default)]
pub struct MemoryLock(Arc<Mutex<Option<WriterInfo>>>);

impl MemoryLock {
    /// One attempt to take the role.
    pub fn try_lock(&self, me: &WriterInfo) -> Result<MemoryLease, StoreError> {
        let mut slot = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(holder) = slot.as_ref() {
            return Err(StoreError::WriterBusy {
                holder: holder_name(holder),
            });
        }
        *slot = Some(me.clone());
        Ok(MemoryLease {
            lock: self.clone(),
            holder: me.clone(),
        })
    }
}

/// The writer role of an in-memory store; dropping it releases the role.
#[derive(Debug)]
pub struct MemoryLease {
    lock: MemoryLock,
    holder: WriterInfo,
}

impl WriterLease for MemoryLease {
    fn holder(&self) -> &WriterInfo {
        &self.holder
    }
}

impl Drop for MemoryLease {
    fn drop(&mut self) {
        let mut slot = self.lock.0.lock().unwrap_or_else(|p| p.into_inner());
        *slot = None;
    }
}
