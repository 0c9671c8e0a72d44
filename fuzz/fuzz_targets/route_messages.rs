//! What the kernel sends on the routes' netlink socket (src/routes.rs):
//! whatever the bytes, reading them for a path, for none, or as the reply
//! to a route query never panics, and a reply names an interface only
//! from a well-formed `RTM_NEWROUTE`.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use ttc::routes_wire::{read_changes, route_oif, Path};

fuzz_target!(|data: &[u8]| {
    let path = Path {
        local: IpAddr::from([10, 1, 0, 2]),
        peer: IpAddr::from([10, 9, 0, 1]),
        ifindex: Some(7),
    };
    let seen = read_changes(data, Some(&path));
    // Losing the path or something appearing is always a change.
    assert!(seen.changed || !(seen.path_lost || seen.appeared));
    let none = read_changes(data, None);
    assert!(!none.path_lost, "no path, nothing to lose");
    if route_oif(data).is_some() {
        // A message header of 16 bytes and an rtmsg of 12 at least.
        assert!(data.len() >= 28 + 8);
    }
});
