//! What runs once per request after the response body is sent or dropped: the log phase.
//!
//! Metrics and the access log are recorded here, the upstream connection goes back to its
//! pool when its body was read to the end, and the connection's in-flight count drops (the
//! idle timeout only closes connections with nothing in flight).

use std::sync::Arc;

use crate::access_log::AccessRecord;
use crate::connection::ConnShared;
use crate::upstream::PooledConn;

pub(crate) struct Completion {
    pub conn: Arc<ConnShared>,
    pub record: AccessRecord,
    pub pooled: Option<PooledConn>,
}

impl Completion {
    /// `clean`: the body was sent to its end (the upstream connection is reusable).
    pub fn finish(self, bytes: u64, clean: bool) {
        let Completion {
            conn,
            record,
            pooled,
        } = self;
        if let Some(p) = pooled {
            if clean {
                p.release();
            }
        }
        let elapsed = record.start.elapsed();
        let state = &conn.state;
        state.metrics.record_request(
            record.host_name(),
            record.route.as_deref(),
            record.status,
            elapsed,
        );
        if state.config.access_log {
            record.emit(bytes, elapsed);
        }
        conn.request_done();
    }
}
