//! Database outages for the tests (issue 12), without touching the shared
//! PostgreSQL server other tests use at the same time: a TCP proxy on
//! loopback that the server under test connects through. `down()` is what a
//! stopped server looks like from the network (open connections closed, new
//! ones cut at once), `hang()` what a stalled one looks like (connections stay
//! open, nothing is answered), `up()` the server back.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Up,
    Down,
    Hung,
}

pub struct DbProxy {
    pub addr: SocketAddr,
    mode: Arc<watch::Sender<Mode>>,
    task: tokio::task::JoinHandle<()>,
}

impl DbProxy {
    /// Forward loopback connections to `target`.
    pub async fn start(target: SocketAddr) -> DbProxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
        let addr = listener.local_addr().unwrap();
        let (tx, _) = watch::channel(Mode::Up);
        let mode = Arc::new(tx);
        let modes = mode.clone();
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let rx = modes.subscribe();
                tokio::spawn(forward(client, target, rx));
            }
        });
        DbProxy { addr, mode, task }
    }

    /// `url` (a postgres:// URL) going through this proxy.
    pub fn url(&self, url: &str) -> String {
        let mut u = url::Url::parse(url).expect("a database URL");
        u.set_host(Some("127.0.0.1")).unwrap();
        u.set_port(Some(self.addr.port())).unwrap();
        u.to_string()
    }

    pub fn down(&self) {
        self.mode.send_replace(Mode::Down);
    }

    pub fn hang(&self) {
        self.mode.send_replace(Mode::Hung);
    }

    pub fn up(&self) {
        self.mode.send_replace(Mode::Up);
    }
}

impl Drop for DbProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(mut client: TcpStream, target: SocketAddr, mut mode: watch::Receiver<Mode>) {
    if *mode.borrow() == Mode::Down {
        let _ = client.shutdown().await;
        return;
    }
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    let copy = tokio::io::copy_bidirectional(&mut client, &mut server);
    tokio::pin!(copy);
    loop {
        let current = *mode.borrow_and_update();
        match current {
            Mode::Down => return,
            Mode::Up => {
                tokio::select! {
                    _ = &mut copy => return,
                    changed = mode.changed() => if changed.is_err() { return },
                }
            }
            // Hold both sockets and move nothing until the mode changes.
            Mode::Hung => {
                if mode.changed().await.is_err() {
                    return;
                }
            }
        }
    }
}
