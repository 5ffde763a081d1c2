//! Open GET streams per user on this process (issue 12): each holds a task and
//! a connection, so one user may hold only so many at once.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Clone)]
pub(crate) struct StreamCounts {
    max: usize,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

/// One open stream, counted until dropped.
pub(crate) struct Held {
    user: String,
    open: Arc<Mutex<HashMap<String, usize>>>,
}

impl StreamCounts {
    pub(crate) fn new(max: usize) -> StreamCounts {
        StreamCounts {
            max,
            open: Arc::default(),
        }
    }

    /// Count a new stream for `user`; `None` when they hold the most allowed.
    pub(crate) fn open(&self, user: &str) -> Option<Held> {
        let mut open = self.open.lock().expect("stream counts lock");
        let n = open.entry(user.to_string()).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        Some(Held {
            user: user.to_string(),
            open: self.open.clone(),
        })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut open = self.open.lock().expect("stream counts lock");
        if let Some(n) = open.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_most_max_per_user_and_freed_on_drop() {
        let counts = StreamCounts::new(2);
        let a = counts.open("ada").unwrap();
        let _b = counts.open("ada").unwrap();
        assert!(counts.open("ada").is_none());
        assert!(counts.open("bob").is_some(), "another user is not affected");
        drop(a);
        assert!(counts.open("ada").is_some());
    }
}
