//! Staying connected, and knowing what arrived: `acked`, finding a dead
//! peer (idle timeout, `TCP_USER_TIMEOUT`, keepalive) and reconnecting.
//! Loopback, and for a link that goes dark two test hosts in network
//! namespaces the test makes (tests/support/netns.rs). Host and QEMU.
//!
//! - `acked`: the bytes the server's TCP acknowledged, in every report;
//! - `dead_peer`: each way of finding a dead peer ends within its bound;
//! - `reconnect`: a new connection with the same boxes, nothing lost.

#[path = "../support/mod.rs"]
mod support;

mod acked;
mod dead_peer;
mod reconnect;
