//! Shared helpers for the criterion benchmarks in `benches/`.
//!
//! - [`http_file`]: the `.http` decision-table reader of `crates/waf/tests` (same source file).
//! - [`waf_requests`]: the WAF benchmark workload (CRS file list, the five requests, the
//!   dump format read by the libmodsecurity harness in `benches/modsec/`).

#[path = "../../crates/waf/tests/decisions_common/http_file.rs"]
pub mod http_file;
pub mod waf_requests;
