//! The `request` span of every HTTP request (its id, method and path), made
//! only when something is logged while the request runs (issue 13: at the
//! default level a request that logs nothing, which is nearly every request,
//! pays nothing for it).
//!
//! A request runs inside [`InRequest`], which holds the span's fields and
//! marks them as the request of whatever runs on this thread during each
//! poll. The layer [`OpenOnLog`] sits under the level filter, so it hears of
//! an event or span only when that one is going to be recorded, and does so
//! before the event or span is made: it then makes the request's span and
//! enters it, and the line that follows has the span as its parent, exactly
//! as if the span had been there from the start. From then on the span is
//! entered on every poll, as `tracing::Instrument` does.
//!
//! [`current`] is `Span::current()` for code that hands the request's span
//! to a task of its own.

use std::cell::{Cell, OnceCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use salvo::http::Method;
use salvo::http::header::HeaderValue;
use salvo::http::uri::Uri;
use tracing::dispatcher::WeakDispatch;
use tracing::{Dispatch, Metadata, Span, Subscriber};
use tracing_core::callsite::DefaultCallsite;
use tracing_core::field::FieldSet;
use tracing_core::metadata::Kind;
use tracing_core::subscriber::Interest;
use tracing_core::{Level, identify_callsite};
use tracing_subscriber::layer::{Context as LayerContext, Layer};

/// The span's callsite, written out as `info_span!` writes it, so that the
/// layer can make the span with the dispatcher it belongs to (a macro would
/// ask for the current dispatcher, which is not reachable while that
/// dispatcher is deciding whether a line is enabled).
static CALLSITE: DefaultCallsite = DefaultCallsite::new(&META);
static META: Metadata<'static> = Metadata::new(
    "request",
    "gatehouse::http::request_id",
    Level::INFO,
    Some(file!()),
    Some(line!()),
    Some(module_path!()),
    FieldSet::new(&["id", "method", "path"], identify_callsite!(&CALLSITE)),
    Kind::SPAN,
);

/// What the request's span is made of, and the span once it is made.
pub struct RequestSpan {
    id: HeaderValue,
    method: Method,
    uri: Uri,
    span: OnceCell<Span>,
    /// The span was made (and entered) during the current poll: exited
    /// when the poll ends.
    entered_now: Cell<bool>,
}

impl RequestSpan {
    /// The span of the request with this id (visible ASCII: `request_id`),
    /// method and URI (only its path is written).
    pub fn new(id: HeaderValue, method: Method, uri: Uri) -> RequestSpan {
        RequestSpan {
            id,
            method,
            uri,
            span: OnceCell::new(),
            entered_now: Cell::new(false),
        }
    }

    /// Make the span with `dispatch` and enter it (within a poll), unless
    /// it was made already or the level filter leaves it out.
    fn open(&self, dispatch: &Dispatch) {
        if self.span.get().is_some() {
            return;
        }
        let interest = CALLSITE.interest();
        if interest.is_never() || (!interest.is_always() && !dispatch.enabled(&META)) {
            // Still set, so that this is decided once per request.
            let _ = self.span.set(Span::none());
            return;
        }
        let fields = META.fields();
        let mut names = fields.iter();
        let (id, method, path) = (names.next(), names.next(), names.next());
        let (Some(id), Some(method), Some(path)) = (id, method, path) else {
            unreachable!("the callsite has three fields");
        };
        // Plain strings, written as text only if a line is logged
        // (`logging::PlainSpanFields`).
        let values: [(&tracing_core::field::Field, Option<&dyn tracing::Value>); 3] = [
            (&id, Some(&self.id.to_str().unwrap_or_default())),
            (&method, Some(&self.method.as_str())),
            (&path, Some(&self.uri.path())),
        ];
        // A root: every request is its own.
        let span = Span::new_root_with(&META, &fields.value_set(&values), dispatch);
        span.with_subscriber(|(id, dispatch)| dispatch.enter(id));
        self.entered_now.set(true);
        let _ = self.span.set(span);
    }

    /// End of a poll: leave the span if it was made during it (a span made
    /// earlier was entered with a guard).
    fn leave(&self) {
        if self.entered_now.replace(false)
            && let Some(span) = self.span.get()
        {
            span.with_subscriber(|(id, dispatch)| dispatch.exit(id));
        }
    }
}

thread_local! {
    /// The request being polled on this thread (null between polls).
    static CURRENT: Cell<*const RequestSpan> = const { Cell::new(std::ptr::null()) };
}

/// Run `f` with the request being polled on this thread, if any.
fn with_current(f: impl FnOnce(&RequestSpan)) {
    let current = CURRENT.with(Cell::get);
    // SAFETY: CURRENT is non-null only while `InRequest::poll` runs on this
    // thread, and then points at that future's own `RequestSpan`, which is
    // pinned and borrowed (shared) for the whole poll; `Polled` resets it
    // before the poll returns or unwinds.
    if let Some(request) = unsafe { current.as_ref() } {
        f(request);
    }
}

/// Resets CURRENT and leaves a span made during the poll, also on unwind.
struct Polled<'a> {
    request: &'a RequestSpan,
    before: *const RequestSpan,
}

impl Drop for Polled<'_> {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.before));
        self.request.leave();
    }
}

/// A request's future with its span's fields (see the module's text).
#[must_use = "futures do nothing unless polled"]
pub struct InRequest<F> {
    inner: F,
    request: RequestSpan,
}

impl<F> InRequest<F> {
    pub fn new(inner: F, request: RequestSpan) -> InRequest<F> {
        InRequest { inner, request }
    }
}

impl<F: Future> Future for InRequest<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: structural pinning of `inner`; `request` is never moved
        // out of a pinned `InRequest` (only borrowed), and there is no
        // `Drop` for `InRequest` and no `Unpin` unless `F` is.
        let this = unsafe { self.get_unchecked_mut() };
        let request = &this.request;
        let inner = unsafe { Pin::new_unchecked(&mut this.inner) };
        // A span made in an earlier poll is entered as `Instrumented` does.
        let _entered = request.span.get().map(Span::enter);
        let _polled = Polled {
            request,
            before: CURRENT.with(|c| c.replace(request)),
        };
        inner.poll(cx)
    }
}

/// `Span::current()`, with the running request's span made first if it was
/// not yet: for code that gives the request's span to a task of its own.
pub fn current() -> Span {
    with_current(|request| tracing::dispatcher::get_default(|d| request.open(d)));
    Span::current()
}

/// The layer that makes the running request's span just before anything is
/// recorded within it. It must sit under the level filter (added to the
/// registry before it), so that it hears only of what will be recorded.
#[derive(Default)]
pub struct OpenOnLog {
    dispatch: OnceLock<WeakDispatch>,
}

impl<S: Subscriber> Layer<S> for OpenOnLog {
    fn on_register_dispatch(&self, dispatch: &Dispatch) {
        // The span's callsite is registered now, before this dispatcher is
        // (which then gives it its interest with the others): registered
        // later, from `open`, it would be while a dispatcher is deciding
        // whether a line is enabled, and `tracing` answers a dispatcher
        // asked again from there as if there were none (`never`, kept).
        let _ = CALLSITE.interest();
        let _ = self.dispatch.set(dispatch.downgrade());
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        // `sometimes`: asked (`enabled`) every time, which is the moment
        // to make the request's span. Only for what the filters above let
        // through: what they leave out never reaches this.
        if is_request(metadata) {
            Interest::always()
        } else {
            Interest::sometimes()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: LayerContext<'_, S>) -> bool {
        if !is_request(metadata)
            && let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade)
        {
            with_current(|request| request.open(&dispatch));
        }
        true
    }
}

fn is_request(metadata: &Metadata<'_>) -> bool {
    metadata.callsite() == identify_callsite!(&CALLSITE)
}

#[cfg(test)]
mod tests {
    use super::super::tests::Captured;
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tracing::Instrument;
    use tracing::span::{Attributes, Id};
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;

    /// Counts the spans made.
    #[derive(Clone, Default)]
    struct Made(Arc<AtomicUsize>);

    impl<S: Subscriber> Layer<S> for Made {
        fn on_new_span(&self, _: &Attributes<'_>, _: &Id, _: LayerContext<'_, S>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Pending once (waking itself), then ready: a request's second poll.
    struct YieldOnce(bool);

    impl Future for YieldOnce {
        type Output = ();
        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
            if std::mem::replace(&mut self.0, true) {
                Poll::Ready(())
            } else {
                cx.waker().wake_by_ref();
                Poll::Pending
            }
        }
    }

    /// Poll `f` to the end on this thread (with the scoped subscriber).
    fn block_on<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        loop {
            if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
                return out;
            }
        }
    }

    fn request() -> RequestSpan {
        RequestSpan::new(
            HeaderValue::from_static("0123abcd"),
            Method::POST,
            Uri::from_static("/mcp?x=1"),
        )
    }

    /// What the plain-text output writes while `body` runs under RUST_LOG
    /// `filter`, with the server's layers, and how many spans were made.
    fn logged(filter: &str, body: impl FnOnce()) -> (String, usize) {
        let out = Captured::default();
        let writer = out.clone();
        let made = Made::default();
        let subscriber = tracing_subscriber::registry()
            .with(OpenOnLog::default())
            .with(filter.parse::<Targets>().unwrap())
            .with(super::super::PlainSpanFields)
            .with(made.clone())
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .without_time()
                    .with_writer(move || writer.clone()),
            );
        tracing::subscriber::with_default(subscriber, body);
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        (text, made.0.load(Ordering::SeqCst))
    }

    /// The lines a request logs, in two polls and in a span of its own.
    async fn busy() {
        tracing::debug!("left out at info");
        tracing::info!("first poll");
        YieldOnce(false).await;
        tracing::warn!(n = 2, "second poll");
        tracing::info_span!("inner", step = 3).in_scope(|| tracing::info!("nested"));
    }

    #[test]
    fn a_request_that_logs_nothing_makes_no_span() {
        let (text, made) = logged("info", || {
            block_on(InRequest::new(
                async {
                    tracing::debug!("left out at info");
                    tracing::trace_span!("left out too").in_scope(|| {});
                    YieldOnce(false).await;
                },
                request(),
            ));
        });
        assert_eq!(text, "");
        assert_eq!(made, 0);
    }

    /// Every line has the request span, as the span made up front (with
    /// `info_span!`, entered on every poll) gave it: the same text.
    #[test]
    fn lines_logged_in_a_request_have_its_span_as_if_made_up_front() {
        let (lazy, made) = logged("info", || {
            block_on(InRequest::new(busy(), request()));
            tracing::info!("after the request");
        });
        let (eager, _) = logged("info", || {
            let span = tracing::info_span!(
                parent: None, "request", id = "0123abcd", method = "POST", path = "/mcp"
            );
            block_on(busy().instrument(span));
            tracing::info!("after the request");
        });
        assert_eq!(lazy, eager);
        for line in [
            "INFO request{id=0123abcd method=POST path=/mcp}: gatehouse::logging::request_span::tests: first poll",
            "WARN request{id=0123abcd method=POST path=/mcp}: gatehouse::logging::request_span::tests: second poll n=2",
            "INFO request{id=0123abcd method=POST path=/mcp}:inner{step=3}: gatehouse::logging::request_span::tests: nested",
            "INFO gatehouse::logging::request_span::tests: after the request",
        ] {
            assert!(lazy.contains(line), "{line} in {lazy}");
        }
        assert_eq!(lazy.lines().count(), 4, "{lazy}");
        // The request's span and `inner`, each once.
        assert_eq!(made, 2);
    }

    /// RUST_LOG decides for the request span as for any other: left out,
    /// the lines come without it, as they did with the span made up front.
    #[test]
    fn the_filter_decides_for_the_request_span_too() {
        let filter = "info,gatehouse::http::request_id=off";
        let (lazy, made) = logged(filter, || block_on(InRequest::new(busy(), request())));
        let (eager, _) = logged(filter, || {
            let span = tracing::info_span!(
                target: "gatehouse::http::request_id",
                parent: None, "request", id = "0123abcd", method = "POST", path = "/mcp"
            );
            block_on(busy().instrument(span));
        });
        assert_eq!(lazy, eager);
        assert!(!lazy.contains("request{"), "{lazy}");
        assert!(lazy.contains("inner{step=3}"), "{lazy}");
        assert_eq!(made, 1, "only inner");
        // At warn, the info lines are left out before any span is made.
        let (text, made) = logged("warn", || {
            block_on(InRequest::new(
                async {
                    tracing::info!("left out at warn");
                    YieldOnce(false).await;
                },
                request(),
            ))
        });
        assert_eq!((text.as_str(), made), ("", 0));
    }

    /// `current` gives a task the request's span, made for it if need be.
    #[test]
    fn current_hands_the_request_span_on() {
        let (text, made) = logged("info", || {
            let span = block_on(InRequest::new(async { current() }, request()));
            tracing::info!("outside");
            span.in_scope(|| tracing::info!("in a task of its own"));
        });
        assert!(
            text.contains("INFO request{id=0123abcd method=POST path=/mcp}: gatehouse::logging::request_span::tests: in a task of its own"),
            "{text}"
        );
        assert!(
            text.contains("INFO gatehouse::logging::request_span::tests: outside"),
            "{text}"
        );
        assert_eq!(made, 1);
        // Outside a request, it is the current span, as `Span::current()`.
        let (_, made) = logged("info", || assert!(current().is_none()));
        assert_eq!(made, 0);
    }

    /// The JSON output (`GATEHOUSE_LOG_FORMAT=json`) names the span too.
    #[test]
    fn json_lines_carry_the_request_span() {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::registry()
            .with(OpenOnLog::default())
            .with("info".parse::<Targets>().unwrap())
            .with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .with_current_span(true)
                    .with_writer(move || writer.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            block_on(InRequest::new(
                async { tracing::info!("in json") },
                request(),
            ))
        });
        let text = String::from_utf8(out.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).unwrap();
        assert_eq!(
            line["span"],
            serde_json::json!({ "name": "request", "id": "0123abcd", "method": "POST", "path": "/mcp" }),
            "{text}"
        );
    }

    /// A request whose poll panics is no longer the current one after it.
    #[test]
    fn a_panicking_poll_leaves_no_request_behind() {
        let (text, _) = logged("info", || {
            let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                block_on(InRequest::new(
                    async {
                        tracing::info!("before the panic");
                        panic!("a handler panicked");
                    },
                    request(),
                ))
            }));
            assert!(panicked.is_err());
            tracing::info!("after the panic");
        });
        assert!(text.contains("request{id=0123abcd method=POST path=/mcp}: gatehouse::logging::request_span::tests: before the panic"), "{text}");
        assert!(
            text.contains("INFO gatehouse::logging::request_span::tests: after the panic"),
            "{text}"
        );
        let mut seen = false;
        with_current(|_| seen = true);
        assert!(!seen);
    }
}
