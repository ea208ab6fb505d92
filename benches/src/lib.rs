//! Shared helpers for the criterion benchmarks in `benches/`.
//!
//! - [`http_file`]: the `.http` decision-table reader of `crates/waf/tests` (same source file).
//! - [`http_replay`]: those requests sent over HTTP/1.1 to a running proxy (the PGO training
//!   run of `scripts/build-pgo.sh`).
//! - [`waf_requests`]: the WAF benchmark workload (CRS file list, the five requests, the
//!   dump format read by the libmodsecurity harness in `benches/modsec/`).

#[path = "../../crates/waf/tests/decisions_common/http_file.rs"]
pub mod http_file;
pub mod http_replay;
pub mod waf_requests;
