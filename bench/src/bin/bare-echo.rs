//! The baseline: a bare salvo handler that parses a JSON body and writes it back,
//! on the same salvo, tokio, serde_json and allocator as gatehouse. What the hot path is
//! compared with ("the physical limit of this stack on this machine").
//!   bare-echo 127.0.0.1:PORT      (POST /echo)

use salvo::prelude::*;

// The allocator gatehouse servers run with (its default feature `mimalloc`, set
// as the global allocator by the crate itself), so the baseline is the same
// stack. Nothing else of gatehouse is used (and LTO leaves nothing else in).
extern crate gatehouse;

#[handler]
async fn echo(req: &mut Request, res: &mut Response) {
    match req.parse_json::<serde_json::Value>().await {
        Ok(body) => res.render(Json(body)),
        Err(_) => {
            res.status_code(StatusCode::BAD_REQUEST);
        }
    }
}

#[tokio::main]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9100".into());
    let router = Router::with_path("echo").post(echo);
    let acceptor = TcpListener::new(addr.clone()).bind().await;
    println!("bare-echo: serving on http://{addr}/echo");
    Server::new(acceptor).serve(router).await;
}
