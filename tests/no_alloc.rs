//! Item 11: after the connection is up, sending and receiving messages
//! performs no heap allocation, with reconnect off (the default) and on. A
//! counting global allocator watches the whole process (client worker, echo
//! server thread and this thread) across 10 000 messages each way. One test
//! in this binary, so nothing else allocates meanwhile.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use support::*;
use ttc::{Chunk, Config, Control, Reason, Signal};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const MESSAGES: usize = 10_000;

#[test]
fn test_no_heap_allocation_per_message_after_connect() {
    // As configured by default, and with reconnect on (the kept window and
    // the sampling of acknowledgements must not allocate either).
    exchange_without_allocating(|c| c);
    exchange_without_allocating(|c| c.reconnect(ttc::Backoff::default()));
}

fn exchange_without_allocating(config: impl FnOnce(Config) -> Config) {
    let server = start(Peer::Echo);
    let client = config(Config::new("127.0.0.1", server.port()))
        .spawn()
        .unwrap();
    assert!(matches!(next_signal(client.signal()), Signal::Connected(_)));

    let mut msg = [0u8; 64];
    let mut exchange = |i: usize| {
        msg[..8].copy_from_slice(&(i as u64).to_be_bytes());
        client
            .inbox()
            .send_timeout(Chunk::from_slice(&msg).unwrap(), SOON)
            .unwrap();
        // Both ways of receiving: whole chunks, and streaming into a
        // buffer (odd messages).
        let mut got = 0;
        let mut buf = [0u8; 64];
        while got < msg.len() {
            let n = if i.is_multiple_of(2) {
                let chunk = client.outbox().recv_timeout(SOON).unwrap();
                buf[..chunk.len()].copy_from_slice(&chunk);
                chunk.len()
            } else {
                client.outbox().recv_into_timeout(&mut buf, SOON).unwrap()
            };
            assert_eq!(&buf[..n], &msg[got..got + n]);
            got += n;
        }
    };
    // Warm up: lazily initialised runtime state (thread-locals, the echo
    // thread's first read) is start-up, not per message.
    for i in 0..100 {
        exchange(i);
    }
    let before = ALLOCS.load(Ordering::SeqCst);
    for i in 0..MESSAGES {
        exchange(i);
    }
    let after = ALLOCS.load(Ordering::SeqCst);
    assert_eq!(
        after - before,
        0,
        "{} allocations over {MESSAGES} messages each way",
        after - before
    );

    client.control().send(Control::ProducerFinished);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished);
    assert_eq!(report.sent, ((MESSAGES + 100) * 64) as u64);
    assert_eq!(report.received, report.sent);
}
