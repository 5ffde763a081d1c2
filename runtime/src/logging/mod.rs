//! The `tracing` subscriber: `RUST_LOG` (default `info,sqlx=warn`), plain text
//! or JSON on standard error, and request spans that cost nothing when no
//! line is written (issue 13: servers are measured at the default log level,
//! as they ship): made only when a line is (`request_span`), and then with
//! fields that are plain text already.

pub(crate) mod request_span;

use tracing::Subscriber;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing_subscriber::fmt::FormattedFields;
use tracing_subscriber::fmt::format::DefaultFields;
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;

/// Install the `tracing` subscriber (`RUST_LOG`, default `info,sqlx=warn`).
pub fn init_tracing() {
    use std::io::IsTerminal;
    use tracing_subscriber::filter::Targets;
    use tracing_subscriber::prelude::*;
    use tracing_subscriber::{EnvFilter, Layer, fmt};
    // Logs go to standard error: standard output carries what commands print
    // (a token from `tokens issue`, the URL served). `GATEHOUSE_LOG_FORMAT=json`:
    // one JSON object per line, with the request's span, for log shippers.
    // Colours only on a terminal: a log file or collector gets plain text, and
    // no request pays for styling its span's fields.
    let ansi = std::io::stderr().is_terminal();
    let json = std::env::var("GATEHOUSE_LOG_FORMAT").as_deref() == Ok("json");
    let output = if json {
        fmt::layer()
            .json()
            .with_current_span(true)
            .with_writer(std::io::stderr)
            .boxed()
    } else {
        fmt::layer()
            .with_ansi(ansi)
            .with_writer(std::io::stderr)
            .boxed()
    };
    // A filter by target and level (`info,sqlx=warn` unless RUST_LOG says
    // otherwise) is decided once per callsite; only RUST_LOG directives that
    // need more (span names or fields) take EnvFilter, which also keeps
    // per-span state on every enter and exit of every request's span.
    let directives = std::env::var("RUST_LOG").unwrap_or_else(|_| "info,sqlx=warn".into());
    let (targets, env) = match directives.parse::<Targets>() {
        Ok(targets) => (Some(targets), None),
        Err(_) => (None, Some(EnvFilter::new(&directives))),
    };
    // The request span's layer under the filters: it hears only of what
    // they let through.
    let _ = tracing_subscriber::registry()
        .with(request_span::OpenOnLog::default())
        .with(targets)
        .with(env)
        .with((!json && !ansi).then_some(PlainSpanFields))
        .with(output)
        .try_init();
}

/// Writes a span's fields as the text the plain-text output prints with its
/// lines (`id=… method=POST path=/mcp`) when every field is a plain string
/// value, by appending the strings, before the output layer would format
/// them through `core::fmt` (which it then skips: it formats only spans
/// that have no text yet). Every request opens a span, so at `info` this was
/// most of what logging cost a request that writes no line (about 3,400 of
/// its 4,100 instructions). A field that is not a plain string, or holds a
/// character that is not printable ASCII (a JSON-RPC method name is the
/// client's), leaves the whole span to the output layer, which escapes it.
pub(crate) struct PlainSpanFields;

impl<S> tracing_subscriber::Layer<S> for PlainSpanFields
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut text = PlainText::default();
        attrs.record(&mut text);
        if let (Some(fields), Some(span)) = (text.finish(), ctx.span(id)) {
            span.extensions_mut()
                .insert(FormattedFields::<DefaultFields>::new(fields));
        }
    }
}

/// `name=value` pairs joined by spaces, or nothing when a value needs more.
#[derive(Default)]
struct PlainText {
    out: String,
    refused: bool,
}

impl PlainText {
    fn finish(self) -> Option<String> {
        (!self.refused).then_some(self.out)
    }
}

impl Visit for PlainText {
    fn record_str(&mut self, field: &Field, value: &str) {
        // Every byte looked at, without an early exit: a loop the compiler
        // vectorizes (`all` stops at the first miss, byte by byte).
        let printable = value.bytes().fold(true, |ok, b| ok & b.is_ascii_graphic());
        if self.refused || !printable {
            self.refused = true;
            return;
        }
        if self.out.is_empty() {
            self.out.reserve(96);
        } else {
            self.out.push(' ');
        }
        self.out.push_str(field.name());
        self.out.push('=');
        self.out.push_str(value);
    }

    fn record_debug(&mut self, _field: &Field, _value: &dyn std::fmt::Debug) {
        self.refused = true;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::prelude::*;

    /// What a test's subscriber wrote (also `request_span`'s tests).
    #[derive(Clone, Default)]
    pub(super) struct Captured(pub(super) Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the plain-text output writes for an event in each span: with
    /// `PlainSpanFields` in front of it and the request span's fields given
    /// as strings (as the request hoop does), or as before it: no layer, and
    /// the fields given for `Display` (`%`).
    fn lines(plain: bool) -> String {
        let out = Captured::default();
        let writer = out.clone();
        let subscriber = tracing_subscriber::registry()
            .with(plain.then_some(PlainSpanFields))
            .with(
                tracing_subscriber::fmt::layer()
                    .with_ansi(false)
                    .without_time()
                    .with_writer(move || writer.clone()),
            );
        tracing::subscriber::with_default(subscriber, || {
            let id = "0123abcd";
            let path = "/mcp";
            let request = if plain {
                tracing::info_span!("request", id, method = "POST", path)
            } else {
                tracing::info_span!("request", id = %id, method = %"POST", path = %path)
            };
            let _in = request.enter();
            tracing::info!("plain strings");
            // Client-chosen text with a line break and an escape: escaped.
            let rpc = tracing::info_span!("rpc", method = "tools/call\n\u{1b}[31mforged");
            rpc.in_scope(|| tracing::info!("escaped"));
            let counted = tracing::info_span!("counted", n = 3, what = %"display");
            counted.in_scope(|| tracing::info!("formatted"));
        });
        String::from_utf8(out.0.lock().unwrap().clone()).unwrap()
    }

    #[test]
    fn span_fields_read_as_the_output_layer_writes_them() {
        let with = lines(true);
        assert!(
            with.contains("request{id=0123abcd method=POST path=/mcp}: gatehouse::logging::tests: plain strings"),
            "{with}"
        );
        // The same text as before, where the output layer formatted them all.
        assert_eq!(with, lines(false));
        // The forged line break did not reach the log as one.
        assert_eq!(with.lines().count(), 3, "{with}");
        assert!(with.contains(r#"method="tools/call\n"#), "{with}");
        assert!(with.contains("counted{n=3 what=display}"), "{with}");
    }
}
