//! Log levels for faults of anonymous clients. actix-http logs every connection it drops for a
//! malformed request (an unparsable head, too many headers, a broken chunked body) as an ERROR
//! `stream error: …`; those are the client's faults, not the server's, so [`ClientFaultsAtWarn`]
//! writes them at WARN under the target `authz_server::connection` instead. Everything else passes
//! through unchanged.

use tracing::callsite::{Callsite, Identifier};
use tracing::field::{Field, FieldSet, Visit};
use tracing::metadata::Kind;
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};
use tracing_subscriber::layer::Context;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::Layer;

/// The target of the re-levelled events.
pub const CONNECTION_TARGET: &str = "authz_server::connection";

struct ConnectionCallsite;

static CALLSITE: ConnectionCallsite = ConnectionCallsite;

static METADATA: Metadata<'static> = Metadata::new(
    "a connection was closed for a malformed request",
    CONNECTION_TARGET,
    Level::WARN,
    Some(file!()),
    Some(line!()),
    Some(module_path!()),
    FieldSet::new(&["message"], Identifier(&CALLSITE)),
    Kind::EVENT,
);

impl Callsite for ConnectionCallsite {
    fn set_interest(&self, _: Interest) {}

    fn metadata(&self) -> &Metadata<'_> {
        &METADATA
    }
}

/// Wraps the layer that writes the log (`inner`): actix-http's per-connection `stream error`
/// events reach it at WARN; every other callback is forwarded as it is.
#[derive(Debug)]
pub struct ClientFaultsAtWarn<L>(pub L);

/// Whether `meta` may be actix-http's report of a connection dropped for a malformed request
/// (the message decides: see [`is_client_fault_message`]).
fn is_client_fault(meta: &Metadata<'_>) -> bool {
    *meta.level() == Level::ERROR
        && matches!(
            meta.target(),
            "actix_http::h1::dispatcher" | "actix_http::h1::decoder"
        )
}

/// The dispatcher's `stream error: …` (a request it could not parse, or a connection error) and
/// every decoder error are the client's; the dispatcher's other errors (a response body that
/// failed) are the server's and stay ERROR.
fn is_client_fault_message(target: &str, message: &str) -> bool {
    target == "actix_http::h1::decoder" || message.starts_with("stream error")
}

#[derive(Default)]
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            value.clone_into(&mut self.0);
        }
    }
}

impl<S, L> Layer<S> for ClientFaultsAtWarn<L>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    L: Layer<S>,
{
    fn on_register_dispatch(&self, subscriber: &tracing::Dispatch) {
        self.0.on_register_dispatch(subscriber);
    }

    fn on_layer(&mut self, subscriber: &mut S) {
        self.0.on_layer(subscriber);
    }

    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if is_client_fault(metadata) {
            return Interest::always();
        }
        self.0.register_callsite(metadata)
    }

    fn enabled(&self, metadata: &Metadata<'_>, ctx: Context<'_, S>) -> bool {
        is_client_fault(metadata) || self.0.enabled(metadata, ctx)
    }

    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.0.on_new_span(attrs, id, ctx);
    }

    fn on_record(
        &self,
        span: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: Context<'_, S>,
    ) {
        self.0.on_record(span, values, ctx);
    }

    fn on_follows_from(
        &self,
        span: &tracing::span::Id,
        follows: &tracing::span::Id,
        ctx: Context<'_, S>,
    ) {
        self.0.on_follows_from(span, follows, ctx);
    }

    fn event_enabled(&self, event: &Event<'_>, ctx: Context<'_, S>) -> bool {
        is_client_fault(event.metadata()) || self.0.event_enabled(event, ctx)
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        if !is_client_fault(event.metadata()) {
            return self.0.on_event(event, ctx);
        }
        let mut message = Message::default();
        event.record(&mut message);
        if !is_client_fault_message(event.metadata().target(), &message.0) {
            return self.0.on_event(event, ctx);
        }
        let text = format!(
            "closed a connection for a malformed request ({})",
            message.0
        );
        let Some(field) = METADATA.fields().field("message") else {
            return;
        };
        let values = [(&field, Some(&text as &dyn tracing::Value))];
        let fields = METADATA.fields().value_set(&values);
        let relevelled = Event::new(&METADATA, &fields);
        self.0.on_event(&relevelled, ctx);
    }

    fn on_enter(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_enter(id, ctx);
    }

    fn on_exit(&self, id: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_exit(id, ctx);
    }

    fn on_close(&self, id: tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_close(id, ctx);
    }

    fn on_id_change(&self, old: &tracing::span::Id, new: &tracing::span::Id, ctx: Context<'_, S>) {
        self.0.on_id_change(old, new, ctx);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("lock").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_dropped_connection_logs_at_warn_and_server_errors_stay_errors() {
        let captured = Captured::default();
        let writer = captured.clone();
        let layer = tracing_subscriber::fmt::layer()
            .json()
            .with_writer(move || writer.clone());
        let subscriber = tracing_subscriber::registry().with(ClientFaultsAtWarn(layer));
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(target: "actix_http::h1::dispatcher", "stream error: request parse error: invalid Header provided");
            tracing::error!(target: "authz_http::error", "request failed");
            tracing::error!(target: "actix_http::h1::dispatcher", "Response payload stream error: x");
        });
        let text = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json line"))
            .collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0]["level"], "WARN");
        assert_eq!(lines[0]["target"], CONNECTION_TARGET);
        assert!(lines[0]["fields"]["message"]
            .as_str()
            .expect("message")
            .contains("invalid Header provided"));
        assert_eq!(lines[1]["level"], "ERROR");
        assert_eq!(
            lines[2]["level"], "ERROR",
            "a failed response body is the server's"
        );
    }
}
