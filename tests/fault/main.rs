//! Fault injection on loopback: servers that misbehave in one way each,
//! and a client that must end every connection with the accounting
//! invariant and a single final signal.
//!
//! - `backpressure`: the server stops reading while we send;
//! - `connect`: the connect hangs (full backlog), and control messages
//!   during the attempt;
//! - `flood`: the server floods a slow consumer (run in a process of its
//!   own: it measures the process's memory);
//! - `half_close`: the server half-closes while we send;
//! - `reset`: the server resets mid-stream;
//! - `silence`: the server never answers nor closes.

#[path = "../support/mod.rs"]
mod support;

mod backpressure;
mod connect;
mod flood;
mod half_close;
mod reset;
mod silence;
