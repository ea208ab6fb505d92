//! [`Waf`] for `portcullis_waf::Engine`: drives one transaction through all five phases the
//! way nginx + libmodsecurity does — request phases, then (unless the WAF intervened) the
//! backend, then the response phases, then logging.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use portcullis_waf::{ConnectionInfo, Engine, Outcome};

use crate::albedo::HttpResponse;
use crate::request::HttpRequest;
use crate::waf::{Exchange, RuleHit, Waf, render_response};

/// An engine plus a counter for `UNIQUE_ID`s.
pub struct EngineWaf {
    engine: Arc<Engine>,
    next_id: AtomicU64,
}

impl EngineWaf {
    pub fn new(engine: Arc<Engine>) -> EngineWaf {
        EngineWaf {
            engine,
            next_id: AtomicU64::new(1),
        }
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }
}

/// What an intervention does to the exchange: `Some(Some(status))` answers with a status,
/// `Some(None)` drops the connection, `None` lets the request continue.
fn intervention(outcome: Outcome) -> Option<Option<u16>> {
    match outcome {
        Outcome::Pass => None,
        Outcome::Deny { status } | Outcome::Redirect { status, .. } => Some(Some(status)),
        Outcome::Drop => Some(None),
    }
}

impl Waf for EngineWaf {
    fn exchange(
        &self,
        request: &HttpRequest,
        backend: &mut dyn FnMut(&HttpRequest) -> HttpResponse,
    ) -> Exchange {
        let loopback = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut tx = self.engine.transaction(ConnectionInfo {
            client_ip: loopback,
            client_port: 40000,
            server_ip: loopback,
            server_port: 80,
            unique_id: format!("ftw{id:012}"),
        });
        // A request line without a version is HTTP/0.9 to the front end, which passes that on.
        let version = if request.version.is_empty() {
            "HTTP/0.9"
        } else {
            request.version.as_str()
        };
        tx.request_line(&request.method, &request.uri, version);
        for (name, value) in &request.headers {
            tx.request_header(name, value);
        }
        let mut verdict = intervention(tx.process_request_headers());
        if verdict.is_none() {
            if !request.body.is_empty() {
                tx.request_body_chunk(&request.body);
            }
            verdict = intervention(tx.process_request_body());
        }
        let response = match verdict {
            Some(Some(status)) => {
                let body =
                    format!("<html><head><title>{status}</title></head></html>\n").into_bytes();
                Some(HttpResponse {
                    status,
                    headers: Vec::new(),
                    body,
                })
            }
            Some(None) => None,
            None => {
                let answer = backend(request);
                tx.response_status(answer.status, "HTTP/1.1");
                for (name, value) in &answer.headers {
                    tx.response_header(name, value);
                }
                let mut late = intervention(tx.process_response_headers());
                if late.is_none() {
                    if !answer.body.is_empty() {
                        tx.response_body_chunk(&answer.body);
                    }
                    late = intervention(tx.process_response_body());
                }
                match late {
                    None => Some(answer),
                    Some(Some(status)) => Some(HttpResponse {
                        status,
                        headers: Vec::new(),
                        body: Vec::new(),
                    }),
                    Some(None) => None,
                }
            }
        };
        tx.process_logging();
        let hits = tx
            .matched_rules()
            .iter()
            .map(|m| RuleHit {
                id: m.id,
                msg: m.msg.clone(),
                data: m.data.clone(),
                matched_var_name: m.matched_var_name.clone(),
                matched_var: String::from_utf8_lossy(&m.matched_var).into_owned(),
                log: m.log,
            })
            .collect();
        Exchange {
            status: response.as_ref().map(|r| r.status),
            response: response
                .map(|r| render_response(r.status, &r.headers, &r.body))
                .unwrap_or_default(),
            hits,
        }
    }
}
