//! Where passwords are hashed (issue 12): a few threads of their own, at a
//! lower scheduling priority than the async workers that serve `/mcp`. argon2
//! is deliberately slow; on the tokio runtime it would stall every request on
//! the same worker, and even on tokio's blocking threads it would take the
//! CPU from them as an equal. At nice 10 a hashing thread gets about a tenth
//! of a core the workers want, and all of an idle one.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of low-priority threads running hashing jobs in order.
pub struct HashPool {
    jobs: Mutex<mpsc::Sender<Job>>,
}

impl HashPool {
    /// Start `threads` threads (at least one).
    pub fn new(threads: usize) -> HashPool {
        let (tx, rx) = mpsc::channel::<Job>();
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx = rx.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("gatehouse-hash-{i}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return, // the pool is gone
                        }
                    }
                });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password-hashing thread");
            }
        }
        HashPool {
            jobs: Mutex::new(tx),
        }
    }

    /// Run `work` on a hashing thread; `None` if the pool cannot take it.
    pub async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Option<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(work());
        });
        self.jobs.lock().ok()?.send(job).ok()?;
        rx.await.ok()
    }
}

/// Nice 10 for the calling thread (Linux: priorities are per thread).
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: setpriority on the calling thread (who = 0) only changes its
    // scheduling weight; failure leaves it as it was.
    unsafe {
        let _ = libc::setpriority(libc::PRIO_PROCESS, 0, 10);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_on_lower_priority_threads() {
        let pool = HashPool::new(2);
        let (name, nice) = pool
            .run(|| {
                let name = std::thread::current().name().map(str::to_string);
                #[cfg(target_os = "linux")]
                // SAFETY: reads the calling thread's priority.
                let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
                #[cfg(not(target_os = "linux"))]
                let nice = 10;
                (name, nice)
            })
            .await
            .unwrap();
        assert!(name.unwrap().starts_with("gatehouse-hash-"));
        assert_eq!(nice, 10);
        let results: Vec<u32> =
            futures_util::future::join_all((0..8).map(|i| pool.run(move || i * 2)))
                .await
                .into_iter()
                .map(Option::unwrap)
                .collect();
        assert_eq!(results, (0..8).map(|i| i * 2).collect::<Vec<_>>());
    }
}
