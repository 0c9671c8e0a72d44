//! Item 11: after the connection is up, sending and receiving messages
//! performs no heap allocation, with reconnect off (the default) and on. A
//! counting global allocator watches the threads under test (client
//! worker, echo server thread and this thread) across 10 000 messages each
//! way (2 000 on an emulated CPU). One test in this binary, so nothing else allocates meanwhile.
//!
//! Only threads under test are counted: those that first allocate once the
//! test has begun, and the test's own thread. Threads that were already
//! running are not: the test harness's main thread allocates for its own
//! "has been running for over 60 seconds" line, which a slow system (an
//! emulated ARM kernel) reaches.

mod support;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use support::*;
use ttc::{Chunk, Config, Control, Reason, Signal};

struct Counting;

static ALLOCS: AtomicU64 = AtomicU64::new(0);
/// Each thread's number, given at its first allocation (0: none yet).
static NEXT_THREAD: AtomicU64 = AtomicU64::new(1);
/// Threads numbered from this one on are counted (`u64::MAX`: none yet).
static FIRST_COUNTED: AtomicU64 = AtomicU64::new(u64::MAX);
/// The test's own thread, counted too (0: none yet).
static TEST_THREAD: AtomicU64 = AtomicU64::new(0);

thread_local! {
    // Const-initialised and without a destructor: reading it never
    // allocates, even from inside the allocator.
    static THREAD: Cell<u64> = const { Cell::new(0) };
}

/// This thread's number (see [`NEXT_THREAD`]); u64::MAX while the thread
/// is being torn down.
fn thread_number() -> u64 {
    THREAD
        .try_with(|t| {
            if t.get() == 0 {
                t.set(NEXT_THREAD.fetch_add(1, Ordering::Relaxed));
            }
            t.get()
        })
        .unwrap_or(u64::MAX)
}

fn count() {
    let n = thread_number();
    if n >= FIRST_COUNTED.load(Ordering::Relaxed) || n == TEST_THREAD.load(Ordering::Relaxed) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

/// From now on, count this thread and every thread that has not
/// allocated yet; not those that have (the harness's).
fn count_from_this_thread() {
    TEST_THREAD.store(thread_number(), Ordering::SeqCst);
    FIRST_COUNTED.store(NEXT_THREAD.load(Ordering::SeqCst), Ordering::SeqCst);
}

// SAFETY: forwards every call to the system allocator unchanged; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// Messages each way: 10 000, or 2 000 on an emulated CPU (QEMU
/// user-mode, or an ARM kernel under qemu-system, where 20 000 round trips
/// took 160 s). One allocation per message would show in either.
fn messages() -> usize {
    if std::env::var_os("QEMU_LD_PREFIX").is_some() {
        2_000
    } else {
        10_000
    }
}

#[test]
fn test_no_heap_allocation_per_message_after_connect() {
    // A thread that was running before the test began and allocates all
    // through it, as the harness's main thread does when it reports a
    // slow test: not counted.
    let bystander_started = Arc::new(std::sync::Barrier::new(2));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let bystander = std::thread::spawn({
        let (started, stop) = (bystander_started.clone(), stop.clone());
        move || {
            // Its first allocation numbers it, before the test begins.
            let mut made = std::hint::black_box(vec![0u8; 64]).len() as u64 / 64;
            started.wait();
            while !stop.load(Ordering::Relaxed) {
                made += std::hint::black_box(vec![0u8; 64]).len() as u64 / 64;
                std::thread::yield_now();
            }
            made
        }
    });
    bystander_started.wait();
    count_from_this_thread();
    // As configured by default, and with reconnect on (the kept window and
    // the sampling of acknowledgements must not allocate either).
    exchange_without_allocating(|c| c);
    exchange_without_allocating(|c| c.reconnect(ttc::Backoff::default()));
    stop.store(true, Ordering::Relaxed);
    let made = bystander.join().unwrap();
    assert!(made > 0, "the bystander made no allocation");
    // A thread started now is counted, as the worker and the echo thread
    // were: the filter does not hide threads under test.
    let before = ALLOCS.load(Ordering::SeqCst);
    std::thread::spawn(|| std::hint::black_box(vec![0u8; 64]).len())
        .join()
        .unwrap();
    assert!(
        ALLOCS.load(Ordering::SeqCst) > before,
        "a thread started during the test was not counted"
    );
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
    let messages = messages();
    let before = ALLOCS.load(Ordering::SeqCst);
    for i in 0..messages {
        exchange(i);
    }
    let after = ALLOCS.load(Ordering::SeqCst);
    assert_eq!(
        after - before,
        0,
        "{} allocations over {messages} messages each way",
        after - before
    );

    client.control().send(Control::ProducerFinished);
    let report = final_report(&all_signals(client.signal()));
    assert_eq!(report.reason, Reason::Finished);
    assert_eq!(report.sent, ((messages + 100) * 64) as u64);
    assert_eq!(report.received, report.sent);
}
