//! Between two test hosts in network namespaces that each test makes
//! (tests/support/netns.rs): needs root, iproute2 and nftables, and fails
//! loudly without them. Host and QEMU user-mode alike: qemu-user passes
//! `setns(2)` through, and the namespaces live in the host kernel.
//!
//! - `connect`: Happy Eyeballs, the connect budget, stopping a pending
//!   connect, `bind_device` and `local_addr`;
//! - `links`: lossy, slow and black-hole links.

#[path = "../support/mod.rs"]
mod support;

mod connect;
mod links;
