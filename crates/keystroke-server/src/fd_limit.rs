//! File handles: the server raises its soft limit to the hard one at start, and derives its
//! default connection cap from what it then has.

/// Handles kept free of client connections (store files, logs, the listener, TLS files).
const RESERVED_HANDLES: u64 = 64;

/// Default connection cap at most (each connection also has a thread).
const MAX_DEFAULT_CONNECTIONS: u64 = 4096;

/// Raises the soft `RLIMIT_NOFILE` to the hard limit (systemd's default soft limit is 1,024)
/// and returns the soft limit now in force (`None`: unlimited or unknown).
#[cfg(unix)]
pub fn raise_open_files_limit() -> Option<u64> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if limit.current != limit.maximum {
        let raised = Rlimit {
            current: limit.maximum,
            maximum: limit.maximum,
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => return limit.maximum,
            Err(e) => log::warn!(
                "cannot raise the open-file limit from {:?} to {:?}: {e}",
                limit.current,
                limit.maximum
            ),
        }
    }
    limit.current
}

/// Elsewhere the limit is left as it is.
#[cfg(not(unix))]
pub fn raise_open_files_limit() -> Option<u64> {
    None
}

/// The connection cap for `open_files` handles (`None`: unlimited): half of what is left after
/// a reserve, between 16 and 4,096.
pub fn default_max_connections(open_files: Option<u64>) -> usize {
    let open_files = open_files.unwrap_or(u64::MAX);
    (open_files.saturating_sub(RESERVED_HANDLES) / 2).clamp(16, MAX_DEFAULT_CONNECTIONS) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_handles_for_the_store() {
        assert_eq!(default_max_connections(Some(256)), 96);
        assert_eq!(default_max_connections(Some(1024)), 480);
        assert_eq!(default_max_connections(Some(1 << 20)), 4096);
        assert_eq!(default_max_connections(Some(40)), 16);
        assert_eq!(default_max_connections(None), 4096);
    }

    #[test]
    fn raising_leaves_a_usable_limit() {
        let limit = raise_open_files_limit().unwrap_or(u64::MAX);
        assert!(limit >= 16);
    }
}
