//! What changes when a user's data is committed, in this process or any other: a reader that
//! keeps what it loaded (the API's model cache, the workbench's view) compares stamps before
//! reusing it.

use std::fs;
use std::io;
use std::time::SystemTime;

use super::{Store, StoreError, UserId};

/// A user's commit state: this process's write count and the metadata file's identity (every
/// commit replaces that file, so another process's commit changes its inode, modification time
/// or length).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CommitStamp {
    generation: u64,
    metadata: Option<FileIdentity>,
}

impl CommitStamp {
    /// Whether the user has a metadata file (is enrolled by us or the old backend).
    pub fn has_metadata(&self) -> bool {
        self.metadata.is_some()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileIdentity {
    len: u64,
    modified: Option<SystemTime>,
    inode: u64,
}

impl FileIdentity {
    fn of(metadata: &fs::Metadata) -> FileIdentity {
        #[cfg(unix)]
        let inode = std::os::unix::fs::MetadataExt::ino(metadata);
        #[cfg(not(unix))]
        let inode = 0;
        FileIdentity {
            len: metadata.len(),
            modified: metadata.modified().ok(),
            inode,
        }
    }
}

impl Store {
    /// The user's commit stamp. Read it before the data: a commit finishing in between then
    /// makes what was loaded look stale rather than current.
    pub fn commit_stamp(&self, user: &UserId) -> Result<CommitStamp, StoreError> {
        let generation = self.generation(user);
        let path = self.paths(user).metadata;
        let metadata = match fs::metadata(&path) {
            Ok(m) => Some(FileIdentity::of(&m)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => None,
            Err(source) => {
                return Err(StoreError::Io {
                    action: "inspect",
                    path,
                    source,
                });
            }
        };
        Ok(CommitStamp {
            generation,
            metadata,
        })
    }
}
