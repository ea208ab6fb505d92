//! Protocol upgrades (WebSocket): after the upstream answered 101, both sides are upgraded
//! with `hyper::upgrade::on` and bytes are copied in both directions until either side
//! closes. The tunnel keeps the client connection's drain token, so a drain waits for it,
//! and it is cut at forced close. The idle timeout does not apply to tunnels.

use hyper::upgrade::OnUpgrade;
use hyper_util::rt::TokioIo;

use crate::connection::{ConnShared, wait_closing};

pub(crate) fn spawn_tunnel(conn: &ConnShared, client: OnUpgrade, upstream: OnUpgrade) {
    let state = conn.state.clone();
    let peer = conn.client;
    let drain_token = conn.drain_token();
    tokio::spawn(async move {
        let _drain_token = drain_token;
        let (client, upstream) = match tokio::try_join!(client, upstream) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::debug!(client = %peer, error = %e, "upgrade failed");
                return;
            }
        };
        let mut client = TokioIo::new(client);
        let mut upstream = TokioIo::new(upstream);
        tokio::select! {
            r = tokio::io::copy_bidirectional(&mut client, &mut upstream) => {
                if let Err(e) = r {
                    tracing::debug!(client = %peer, error = %e, "tunnel closed with error");
                }
            }
            _ = wait_closing(&state) => {}
        }
    });
}
