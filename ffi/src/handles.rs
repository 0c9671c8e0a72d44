//! Client handles: opaque integers that name an entry in one registry,
//! checked on every call, so a null (0), made-up or stale handle (one
//! already freed) is an error code instead of a dangling pointer.
//!
//! A handle is `generation << 32 | (slot + 1)`: the slot's index in the
//! registry, plus the generation the slot had when the handle was made.
//! Freeing a client bumps its slot's generation, so the old handle no
//! longer matches even after the slot is reused. (A slot reused 2^32 times
//! would come back to an old generation; nothing else can make a stale
//! handle valid again.)

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::conn::Conn;

struct Slot {
    generation: u32,
    conn: Option<Arc<dyn Conn>>,
}

static REGISTRY: Mutex<Vec<Slot>> = Mutex::new(Vec::new());

fn registry() -> MutexGuard<'static, Vec<Slot>> {
    // Nothing panics while holding it; if something did, the slots are
    // still consistent (each change is a single assignment).
    REGISTRY.lock().unwrap_or_else(PoisonError::into_inner)
}

fn split(handle: u64) -> Option<(usize, u32)> {
    let slot = (handle & 0xffff_ffff) as usize;
    let generation = (handle >> 32) as u32;
    if slot == 0 {
        return None;
    }
    Some((slot - 1, generation))
}

/// Registers `conn` and returns its handle (never 0). `None` only when
/// every one of the 2^32 - 1 slots is taken.
pub fn insert(conn: Arc<dyn Conn>) -> Option<u64> {
    let mut slots = registry();
    let index = match slots.iter().position(|s| s.conn.is_none()) {
        Some(i) => i,
        None => {
            if slots.len() >= u32::MAX as usize {
                return None;
            }
            slots.push(Slot {
                generation: 0,
                conn: None,
            });
            slots.len() - 1
        }
    };
    let slot = &mut slots[index];
    slot.conn = Some(conn);
    Some((u64::from(slot.generation) << 32) | (index as u64 + 1))
}

/// The connection `handle` names, if it is live.
pub fn get(handle: u64) -> Option<Arc<dyn Conn>> {
    let (index, generation) = split(handle)?;
    let slots = registry();
    let slot = slots.get(index)?;
    if slot.generation != generation {
        return None;
    }
    slot.conn.clone()
}

/// Unregisters `handle` and returns its connection; the handle is stale
/// from then on.
pub fn remove(handle: u64) -> Option<Arc<dyn Conn>> {
    let (index, generation) = split(handle)?;
    let mut slots = registry();
    let slot = slots.get_mut(index)?;
    if slot.generation != generation {
        return None;
    }
    let conn = slot.conn.take()?;
    slot.generation = slot.generation.wrapping_add(1);
    Some(conn)
}
