//! portcullis-waf: a pure (no sockets, no async) engine that compiles SecLang rule files — the
//! OWASP Core Rule Set v4 unmodified — and evaluates them per request with ModSecurity v3
//! semantics. See `DESIGN.md` in this crate for the rule model and the prefilter contract.
//!
//! ```no_run
//! use portcullis_waf::{ConnectionInfo, Engine, Outcome};
//! use std::sync::Arc;
//! let mut b = Engine::builder();
//! b.add_text("SecRule ARGS \"@rx evil\" \"id:1,phase:2,deny\"", "inline", std::path::Path::new(".")).unwrap();
//! let engine = Arc::new(b.build().unwrap());
//! let mut tx = engine.transaction(ConnectionInfo {
//!     client_ip: [127, 0, 0, 1].into(), client_port: 1234,
//!     server_ip: [127, 0, 0, 1].into(), server_port: 80, unique_id: "1".into() });
//! tx.request_line("GET", "/?q=evil", "HTTP/1.1");
//! assert_eq!(tx.process_request_headers(), Outcome::Pass);
//! assert_eq!(tx.process_request_body(), Outcome::Deny { status: 403 });
//! ```

pub mod body;
pub mod operator;
pub mod transform;

mod action;
mod builder;
mod compile;
mod config;
mod ctl;
mod directive;
mod effects;
mod engine;
mod error;
mod eval;
mod groups;
mod interner;
mod macros;
mod memo;
mod prefilter;
mod prologue;
mod recommended;
mod request;
mod rule;
mod setvar;
mod state;
mod store;
#[cfg(test)]
mod test_rng;
mod transaction;
mod txvars;
mod variable;

pub use builder::EngineBuilder;
pub use config::{BodyLimitAction, EngineConfig};
pub use ctl::{BodyProcessor, RuleEngineMode};
pub use engine::{Engine, EngineStats};
pub use error::CompileError;
pub use memo::forget_values;
pub use recommended::MODSECURITY_RECOMMENDED;
pub use store::{Clock, ManualClock, SystemClock};
pub use transaction::{ConnectionInfo, LoggedMatch, MatchedRule, Outcome, Transaction};
