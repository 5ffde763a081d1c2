//! A TCP acceptor that sets `TCP_NODELAY` on every accepted connection. salvo 1.1's
//! own does not: an SSE response written in several pieces then waits about 40 ms
//! per request on Nagle's algorithm and delayed ACKs.

use std::io::Result as IoResult;
use std::net::SocketAddr as StdSocketAddr;

use salvo::conn::tcp::TcpCoupler;
use salvo::conn::{Accepted, Acceptor, ConnCtrl, Holding, StraightStream};
use salvo::fuse::{ArcFusePolicy, FuseAction, FuseInfo, TransProto};
use salvo::http::Version;
use salvo::http::uri::Scheme;
use tokio::net::{TcpListener, TcpStream};

pub struct NodelayAcceptor {
    inner: TcpListener,
    holdings: Vec<Holding>,
}

impl NodelayAcceptor {
    pub async fn bind(addr: StdSocketAddr) -> IoResult<NodelayAcceptor> {
        let inner = TcpListener::bind(addr).await?;
        let holdings = vec![Holding {
            local_addr: inner.local_addr()?.into(),
            http_versions: vec![Version::HTTP_11],
            http_scheme: Scheme::HTTP,
        }];
        Ok(NodelayAcceptor { inner, holdings })
    }

    /// Use a listener bound earlier (to learn its port before configuring).
    pub fn from_std(listener: std::net::TcpListener) -> IoResult<NodelayAcceptor> {
        listener.set_nonblocking(true)?;
        let inner = TcpListener::from_std(listener)?;
        let holdings = vec![Holding {
            local_addr: inner.local_addr()?.into(),
            http_versions: vec![Version::HTTP_11],
            http_scheme: Scheme::HTTP,
        }];
        Ok(NodelayAcceptor { inner, holdings })
    }

    pub fn local_addr(&self) -> IoResult<StdSocketAddr> {
        self.inner.local_addr()
    }
}

impl Acceptor for NodelayAcceptor {
    type Coupler = TcpCoupler<Self::Stream>;
    type Stream = StraightStream<TcpStream>;

    fn holdings(&self) -> &[Holding] {
        &self.holdings
    }

    async fn accept(
        &mut self,
        fuse_policy: Option<ArcFusePolicy>,
    ) -> IoResult<Accepted<Self::Coupler, Self::Stream>> {
        loop {
            let (conn, remote) = self.inner.accept().await?;
            if let Err(e) = conn.set_nodelay(true) {
                tracing::warn!(error = %e, "could not set TCP_NODELAY");
            }
            let local_addr = self.holdings[0].local_addr.clone();
            let conn_ctrl = ConnCtrl::new();
            let (fuse_config, observer) = match &fuse_policy {
                Some(policy) => {
                    let info = FuseInfo {
                        trans_proto: TransProto::Tcp,
                        remote_addr: remote.into(),
                        local_addr: local_addr.clone(),
                    };
                    match policy.decide(&info).await {
                        FuseAction::Accept(config) => {
                            (Some(config), policy.observe(&info, &conn_ctrl))
                        }
                        FuseAction::Reject => continue,
                    }
                }
                None => (None, None),
            };
            return Ok(Accepted {
                coupler: TcpCoupler::new(),
                stream: StraightStream::new(conn, fuse_config, conn_ctrl.clone(), observer),
                fuse_config,
                conn_ctrl,
                remote_addr: remote.into(),
                local_addr,
                http_scheme: Scheme::HTTP,
            });
        }
    }
}
