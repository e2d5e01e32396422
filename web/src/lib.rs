//! A small web client: the sans-IO core of `xmpp-proto`, compiled to
//! WebAssembly, driven by the page's script over the browser's own
//! WebSocket (RFC 7395).
//!
//! The division of work is the core's: this crate turns WebSocket
//! messages and the page's clock into protocol events and messages to
//! send; the page opens the WebSocket (subprotocol `xmpp`), passes every
//! message in, sends every message out, sets a timer for
//! [`WebClient::poll_timeout`] and shows the events. No I/O happens here.
//!
//! Events come out as small JSON objects, so the page needs no bindings
//! beyond the strings: `{"type":"online","jid":...}`, `{"type":"roster"}`
//! (then [`WebClient::roster_json`]), `{"type":"presence",...}`,
//! `{"type":"message","from":...,"body":...}`,
//! `{"type":"subscription_request","from":...}` and
//! `{"type":"closed","reason":...}`.

#![forbid(unsafe_code)]

use std::fmt::Write as _;

use wasm_bindgen::prelude::*;
use xmpp_proto::client::ClientTlsPolicy;
use xmpp_proto::endpoint::{Endpoint, Transmit};
use xmpp_proto::jid::{BareJid, Jid};
use xmpp_proto::stanza::{Presence, PresenceType};
use xmpp_proto::tls::{TlsInfo, TlsVersion};
use xmpp_proto::{Client, ClientConfig, ClientEvent, Time};

/// One XMPP session over one WebSocket. See the crate documentation.
#[wasm_bindgen]
pub struct WebClient {
    client: Client,
    /// The core asked to shut the connection down.
    close_asked: bool,
}

/// Milliseconds on the page's clock (`performance.now()`) as core time.
fn time(now_ms: f64) -> Time {
    Time::from_millis(now_ms.max(0.0) as u64)
}

fn js_error(e: impl std::fmt::Display) -> JsError {
    JsError::new(&e.to_string())
}

#[wasm_bindgen]
impl WebClient {
    /// A session for `jid` with `password`; `secure` says the page's
    /// WebSocket is `wss://` (TLS by the browser: then the core insists
    /// on it, as over TCP; plain `ws://` is for loopback tests).
    #[wasm_bindgen(constructor)]
    pub fn new(jid: &str, password: &str, secure: bool, now_ms: f64) -> Result<WebClient, JsError> {
        let jid = Jid::new(jid).map_err(js_error)?;
        let tls = if secure {
            ClientTlsPolicy::Direct
        } else {
            ClientTlsPolicy::InsecureDisabled
        };
        let config = ClientConfig::new(jid, password)
            .with_websocket()
            .with_tls(tls)
            .with_software("xmpp-web", env!("CARGO_PKG_VERSION"));
        let mut client = Client::new(config, time(now_ms));
        if client.peek_transmit() == Some(Transmit::StartTls) {
            // The browser did the TLS handshake before the WebSocket
            // opened; it does not expose channel-binding data, so SCRAM
            // runs without -PLUS (the server sees the 'n' flag).
            let _ = client.poll_transmit();
            client
                .handle_tls_established(time(now_ms), TlsInfo::new(TlsVersion::Tls13))
                .map_err(js_error)?;
        }
        Ok(WebClient {
            client,
            close_asked: false,
        })
    }

    /// A message that arrived on the WebSocket.
    pub fn handle_message(&mut self, now_ms: f64, text: &str) {
        let _ = self.client.handle_input(time(now_ms), text.as_bytes());
    }

    /// The WebSocket closed.
    pub fn handle_close(&mut self, now_ms: f64) {
        self.client.handle_eof(time(now_ms));
    }

    /// The time from [`WebClient::poll_timeout`] has come.
    pub fn handle_timeout(&mut self, now_ms: f64) {
        self.client.handle_timeout(time(now_ms));
    }

    /// The next message to send on the WebSocket, if any. Call until it
    /// returns `undefined` after every call above.
    pub fn poll_message(&mut self) -> Option<String> {
        loop {
            match self.client.poll_transmit()? {
                Transmit::Data(data) => {
                    let text = String::from_utf8_lossy(data).into_owned();
                    let n = data.len();
                    self.client.consume_transmit(n);
                    return Some(text);
                }
                Transmit::Shutdown => self.close_asked = true,
                // Already handled at construction; a second request
                // cannot be met in a browser.
                Transmit::StartTls => {}
            }
        }
    }

    /// Whether the page should close the WebSocket now (the session is
    /// over and its last message was taken).
    pub fn wants_close(&self) -> bool {
        self.close_asked
    }

    /// When to call [`WebClient::handle_timeout`] next, on the page's
    /// clock, if at all.
    pub fn poll_timeout(&self) -> Option<f64> {
        self.client
            .poll_timeout()
            .map(|t| t.since_epoch().as_millis() as f64)
    }

    /// The next event as a JSON object (see the crate documentation), or
    /// `undefined`. Coming online also fetches the roster and sends
    /// initial presence.
    pub fn poll_event(&mut self, now_ms: f64) -> Option<String> {
        loop {
            let event = self.client.poll_event()?;
            if let Some(json) = self.describe(time(now_ms), event) {
                return Some(json);
            }
        }
    }

    /// Sends a chat message to `to`.
    pub fn send_message(&mut self, now_ms: f64, to: &str, body: &str) -> Result<(), JsError> {
        self.client
            .send_message(time(now_ms), to, body, false)
            .map(|_| ())
            .map_err(js_error)
    }

    /// Adds `contact` to the roster and asks to see its presence.
    pub fn add_contact(&mut self, now_ms: f64, contact: &str) -> Result<(), JsError> {
        let jid = BareJid::new(contact).map_err(js_error)?;
        let now = time(now_ms);
        self.client
            .set_roster_item(now, &jid, None, &[])
            .map_err(js_error)?;
        self.client.subscribe(now, &jid).map_err(js_error)?;
        Ok(())
    }

    /// Lets `contact` see our presence (the answer to a request).
    pub fn approve(&mut self, now_ms: f64, contact: &str) -> Result<(), JsError> {
        let jid = BareJid::new(contact).map_err(js_error)?;
        self.client
            .approve_subscription(time(now_ms), &jid)
            .map(|_| ())
            .map_err(js_error)
    }

    /// The roster as a JSON array of
    /// `{"jid","name","subscription","online"}`.
    pub fn roster_json(&self) -> String {
        let mut out = String::from("[");
        for (i, item) in self.client.roster().items().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let jid = item.jid.to_string();
            let online = self.client.presences_of(&jid).next().is_some();
            out.push_str("{\"jid\":");
            json_string(&mut out, &jid);
            out.push_str(",\"name\":");
            json_string(&mut out, item.name.as_deref().unwrap_or(""));
            out.push_str(",\"subscription\":");
            json_string(&mut out, item.subscription.as_str());
            let _ = write!(out, ",\"online\":{online}}}");
        }
        out.push(']');
        out
    }

    /// Closes the session politely.
    pub fn close(&mut self, now_ms: f64) {
        self.client.close(time(now_ms));
    }

    /// Whether the session is online.
    pub fn is_online(&self) -> bool {
        self.client.is_online()
    }
}

impl WebClient {
    /// The JSON the page sees for `event`, if it sees it at all.
    fn describe(&mut self, now: Time, event: ClientEvent) -> Option<String> {
        let mut out = String::new();
        match event {
            ClientEvent::Online { jid } => {
                let _ = self.client.request_roster(now);
                let _ = self
                    .client
                    .send(now, Presence::builder(PresenceType::Available).build());
                object(&mut out, "online", &[("jid", jid.as_ref())]);
            }
            ClientEvent::RosterReceived | ClientEvent::RosterPush { .. } => {
                object(&mut out, "roster", &[]);
            }
            ClientEvent::Presence(p) => {
                let available = if p.kind() == PresenceType::Available {
                    "true"
                } else {
                    "false"
                };
                object(
                    &mut out,
                    "presence",
                    &[("from", p.from().unwrap_or("")), ("available", available)],
                );
            }
            ClientEvent::Message(m) => {
                let body = m.body()?.into_owned();
                object(
                    &mut out,
                    "message",
                    &[("from", m.from().unwrap_or("")), ("body", &body)],
                );
            }
            ClientEvent::SubscriptionRequest { from, .. } => {
                object(&mut out, "subscription_request", &[("from", from.as_ref())]);
            }
            ClientEvent::Closed { reason } => {
                object(&mut out, "closed", &[("reason", &reason.to_string())]);
            }
            _ => return None,
        }
        Some(out)
    }
}

/// `{"type":kind,"key":"value",...}`.
fn object(out: &mut String, kind: &str, fields: &[(&str, &str)]) {
    out.push_str("{\"type\":");
    json_string(out, kind);
    for (key, value) in fields {
        out.push(',');
        json_string(out, key);
        out.push(':');
        json_string(out, value);
    }
    out.push('}');
}

/// A JSON string literal.
fn json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if u32::from(c) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        object(&mut out, "message", &[("body", "a \"quote\"\n\u{1}")]);
        assert_eq!(out, r#"{"type":"message","body":"a \"quote\"\n\u0001"}"#);
    }
}
