//! The small program tests/tipc/test_tipc_vm.py runs inside its VM: numbered
//! messages over TIPC sockets between two nodes, and a capture of the bearer's
//! frames. It is built static, like the release binary, because the VM's
//! initramfs has no C library. Each mode prints one line of `key=value`
//! results for the test to parse.
//!
//! ```text
//! tipc_peer serve TYPE INSTANCE
//!     echoes every message sent to the service (TYPE, INSTANCE), forever
//! tipc_peer send TYPE INSTANCE COUNT INTERVAL_MS WAIT_S
//!     waits up to WAIT_S for the service to answer, then sends COUNT numbered
//!     messages, one every INTERVAL_MS, and counts the echoes that came back,
//!     and the links that went down or came up meanwhile (TIPC's topology
//!     service). The messages go out as broadcast: between namespaces of one
//!     kernel, TIPC hands unicast messages straight to the peer's namespace,
//!     past the bearer and its encryption; the broadcast link always takes
//!     the bearer, so every counted message crosses the (encrypted) wire.
//! tipc_peer capture IFACE SECONDS MARKER
//!     counts the frames seen on IFACE for SECONDS: all, TIPC's (ethertype
//!     0x88ca), and those that carry MARKER
//! ```
//!
//! Not part of tofurkey: an example only so that cargo builds it with the
//! project's flags and dependencies.

use std::io::Error;
use std::mem::{size_of, zeroed};
use std::time::{Duration, Instant};

/// The marker every message carries in its plaintext: the capture looks for it.
const MARKER: &str = "TOFURKEY-PLAINTEXT-MARKER";
const ECHO: &[u8] = b"ECHO ";

// <linux/tipc.h>; the libc crate has the family but not the address.
const TIPC_SERVICE_RANGE: u8 = 1;
const TIPC_SERVICE_ADDR: u8 = 2;
const TIPC_CLUSTER_SCOPE: i8 = 2;
const TIPC_MCAST_BROADCAST: i32 = 133;
// The topology service, and the name every link publishes while it is up.
const TIPC_TOP_SRV: u32 = 1;
const TIPC_LINK_STATE: u32 = 2;
const TIPC_SUB_PORTS: u32 = 1;
const TIPC_WAIT_FOREVER: u32 = !0;
const TIPC_PUBLISHED: u32 = 1;
const TIPC_WITHDRAWN: u32 = 2;

/// struct sockaddr_tipc with the union as three u32s: a service range
/// (type, lower, upper) or a service address (type, instance, domain).
#[repr(C)]
#[derive(Clone, Copy)]
struct SockaddrTipc {
    family: u16,
    addrtype: u8,
    scope: i8,
    addr: [u32; 3],
}

fn fail(what: &str) -> ! {
    eprintln!("tipc_peer: {what}: {}", Error::last_os_error());
    std::process::exit(1);
}

fn arg<T: std::str::FromStr>(args: &[String], i: usize) -> T {
    args.get(i)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| usage())
}

fn usage() -> ! {
    eprintln!(
        "usage: tipc_peer serve TYPE INSTANCE | send TYPE INSTANCE COUNT INTERVAL_MS WAIT_S | capture IFACE SECONDS MARKER"
    );
    std::process::exit(2);
}

fn tipc_socket(kind: i32) -> i32 {
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_TIPC, kind, 0) };
    if fd < 0 {
        fail("socket(AF_TIPC)");
    }
    fd
}

fn rdm_socket() -> i32 {
    tipc_socket(libc::SOCK_RDM)
}

/// A subscription to every link's state: its events say when a link of
/// this node went down (withdrawn) or came up (published).
fn watch_links() -> i32 {
    let fd = tipc_socket(libc::SOCK_SEQPACKET);
    let server = SockaddrTipc {
        family: libc::AF_TIPC as u16,
        addrtype: TIPC_SERVICE_ADDR,
        scope: TIPC_CLUSTER_SCOPE,
        addr: [TIPC_TOP_SRV, TIPC_TOP_SRV, 0],
    };
    // SAFETY: server is valid for its length.
    let r = unsafe {
        libc::connect(
            fd,
            (&raw const server).cast(),
            size_of::<SockaddrTipc>() as libc::socklen_t,
        )
    };
    if r != 0 {
        fail("connect(topology service)");
    }
    // struct tipc_subscr: the range, timeout, filter (host order), handle.
    let mut sub = Vec::with_capacity(28);
    for word in [TIPC_LINK_STATE, 0, !0, TIPC_WAIT_FOREVER, TIPC_SUB_PORTS] {
        sub.extend_from_slice(&word.to_ne_bytes());
    }
    sub.extend_from_slice(&[0u8; 8]);
    // SAFETY: sub is valid for its length.
    if unsafe { libc::send(fd, sub.as_ptr().cast(), sub.len(), 0) } != sub.len() as isize {
        fail("subscribe(link state)");
    }
    fd
}

/// Counts the link events waiting on the subscription: (down, up).
fn link_events(fd: i32) -> (usize, usize) {
    let (mut down, mut up) = (0, 0);
    let mut event = [0u8; 48];
    while readable(fd, 0) {
        // SAFETY: event is valid for its length.
        let n = unsafe { libc::recv(fd, event.as_mut_ptr().cast(), event.len(), 0) };
        if n < 4 {
            break;
        }
        match u32::from_ne_bytes([event[0], event[1], event[2], event[3]]) {
            TIPC_WITHDRAWN => down += 1,
            TIPC_PUBLISHED => up += 1,
            _ => {}
        }
    }
    (down, up)
}

/// Waits up to `ms` for fd to be readable.
fn readable(fd: i32, ms: i32) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd.
    unsafe { libc::poll(&mut p, 1, ms) > 0 }
}

/// Receives one message without blocking long; its bytes and who sent it.
fn recv(fd: i32, buf: &mut [u8]) -> Option<(usize, SockaddrTipc)> {
    // SAFETY: zeroed plain-old-data.
    let mut from: SockaddrTipc = unsafe { zeroed() };
    let mut len = size_of::<SockaddrTipc>() as libc::socklen_t;
    // SAFETY: buf and from are valid for their lengths.
    let n = unsafe {
        libc::recvfrom(
            fd,
            buf.as_mut_ptr().cast(),
            buf.len(),
            libc::MSG_DONTWAIT,
            (&raw mut from).cast(),
            &mut len,
        )
    };
    (n >= 0).then_some((n as usize, from))
}

fn send_to(fd: i32, data: &[u8], to: &SockaddrTipc) -> bool {
    // SAFETY: data and to are valid for their lengths.
    let n = unsafe {
        libc::sendto(
            fd,
            data.as_ptr().cast(),
            data.len(),
            0,
            (to as *const SockaddrTipc).cast(),
            size_of::<SockaddrTipc>() as libc::socklen_t,
        )
    };
    n == data.len() as isize
}

fn serve(service: u32, instance: u32) -> ! {
    let fd = rdm_socket();
    let bind = SockaddrTipc {
        family: libc::AF_TIPC as u16,
        addrtype: TIPC_SERVICE_RANGE,
        scope: TIPC_CLUSTER_SCOPE,
        addr: [service, instance, instance],
    };
    // SAFETY: bind's address is valid for its length.
    let r = unsafe {
        libc::bind(
            fd,
            (&raw const bind).cast(),
            size_of::<SockaddrTipc>() as libc::socklen_t,
        )
    };
    if r != 0 {
        fail("bind");
    }
    println!("serve ready=1");
    let mut buf = [0u8; 2048];
    let mut reply = Vec::with_capacity(2048);
    loop {
        if !readable(fd, 1000) {
            continue;
        }
        while let Some((n, from)) = recv(fd, &mut buf) {
            reply.clear();
            reply.extend_from_slice(ECHO);
            reply.extend_from_slice(&buf[..n]);
            send_to(fd, &reply, &from);
        }
    }
}

/// The sequence number of an echo of our own message, if it is one.
fn echoed_seq(msg: &[u8]) -> Option<usize> {
    let text = std::str::from_utf8(msg.strip_prefix(ECHO)?).ok()?;
    let rest = text.strip_prefix(MARKER)?.strip_prefix(" seq=")?;
    rest.split_whitespace().next()?.parse().ok()
}

fn send(service: u32, instance: u32, count: usize, interval_ms: u64, wait_s: u64) {
    let fd = rdm_socket();
    // A multicast to the service's range, on the broadcast link.
    let to = SockaddrTipc {
        family: libc::AF_TIPC as u16,
        addrtype: TIPC_SERVICE_RANGE,
        scope: TIPC_CLUSTER_SCOPE,
        addr: [service, instance, instance],
    };
    // SAFETY: the option takes no value.
    if unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_TIPC,
            TIPC_MCAST_BROADCAST,
            std::ptr::null(),
            0,
        )
    } != 0
    {
        fail("setsockopt(TIPC_MCAST_BROADCAST)");
    }
    let mut buf = [0u8; 2048];
    let message = |seq: usize| format!("{MARKER} seq={seq} padding-{}", "x".repeat(64));

    // The service answers once the link is up and its name has spread: probe
    // with sequence number 0 (not counted) until an echo comes back.
    let start = Instant::now();
    let mut reachable = false;
    while !reachable && start.elapsed() < Duration::from_secs(wait_s) {
        send_to(fd, message(0).as_bytes(), &to);
        if readable(fd, 200) {
            while let Some((n, _)) = recv(fd, &mut buf) {
                reachable |= echoed_seq(&buf[..n]) == Some(0);
            }
        }
    }
    let wait_ms = start.elapsed().as_millis();
    if !reachable {
        println!("send reachable=0 wait_ms={wait_ms} sent=0 echoed=0 lost={count} errors=0");
        std::process::exit(1);
    }
    // The links up now are announced at once: those events are not changes.
    let links = watch_links();
    std::thread::sleep(Duration::from_millis(300));
    let (_, links_up) = link_events(links);

    let mut echoed = vec![false; count + 1];
    let mut errors = 0;
    let drain = |echoed: &mut Vec<bool>, buf: &mut [u8]| {
        while let Some((n, _)) = recv(fd, buf) {
            if let Some(seq) = echoed_seq(&buf[..n]).filter(|&s| s >= 1 && s <= count) {
                echoed[seq] = true;
            }
        }
    };
    let t0 = Instant::now();
    for seq in 1..=count {
        if !send_to(fd, message(seq).as_bytes(), &to) {
            errors += 1;
        }
        // Pace by the clock, not by sleeps, so that slow moments do not
        // stretch the run; take in echoes meanwhile.
        let due = t0 + Duration::from_millis(interval_ms * seq as u64);
        while Instant::now() < due {
            let left = due.saturating_duration_since(Instant::now()).as_millis() as i32;
            if readable(fd, left.max(1)) {
                drain(&mut echoed, &mut buf);
            }
        }
    }
    // The last echoes: a second is plenty on a link that works.
    let end = Instant::now() + Duration::from_secs(3);
    while echoed[1..].iter().any(|e| !e) && Instant::now() < end {
        if readable(fd, 100) {
            drain(&mut echoed, &mut buf);
        }
    }
    let (link_down, link_up) = link_events(links);
    let lost: Vec<usize> = (1..=count).filter(|&s| !echoed[s]).collect();
    let shown: Vec<String> = lost.iter().take(20).map(|s| s.to_string()).collect();
    println!(
        "send reachable=1 wait_ms={wait_ms} links={links_up} sent={count} echoed={} lost={} errors={errors} link_down={link_down} link_up={link_up} first_lost={}",
        count - lost.len(),
        lost.len(),
        if shown.is_empty() {
            "-".to_string()
        } else {
            shown.join(",")
        },
    );
}

fn capture(iface: &str, seconds: u64, marker: &str) {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2).
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto.into()) };
    if fd < 0 {
        fail("socket(AF_PACKET)");
    }
    let name = std::ffi::CString::new(iface).unwrap_or_else(|_| usage());
    // SAFETY: a valid C string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        fail(iface);
    }
    // SAFETY: zeroed plain-old-data.
    let mut sll: libc::sockaddr_ll = unsafe { zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = index as i32;
    // SAFETY: sll is valid for its length.
    let r = unsafe {
        libc::bind(
            fd,
            (&raw const sll).cast(),
            size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if r != 0 {
        fail("bind(AF_PACKET)");
    }
    println!("capture ready=1");
    let (mut frames, mut tipc, mut marked) = (0, 0, 0);
    let mut buf = vec![0u8; 65536];
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        if !readable(fd, 100) {
            continue;
        }
        // SAFETY: buf is valid for its length.
        let n = unsafe { libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n < 14 {
            continue;
        }
        let frame = &buf[..n as usize];
        frames += 1;
        if u16::from_be_bytes([frame[12], frame[13]]) == libc::ETH_P_TIPC as u16 {
            tipc += 1;
        }
        if frame.windows(marker.len()).any(|w| w == marker.as_bytes()) {
            marked += 1;
        }
    }
    println!("capture frames={frames} tipc_frames={tipc} marker_frames={marked}");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("serve") => serve(arg(&args, 2), arg(&args, 3)),
        Some("send") => send(
            arg(&args, 2),
            arg(&args, 3),
            arg(&args, 4),
            arg(&args, 5),
            arg(&args, 6),
        ),
        Some("capture") => capture(
            &args.get(2).cloned().unwrap_or_else(|| usage()),
            arg(&args, 3),
            &args.get(4).cloned().unwrap_or_else(|| usage()),
        ),
        _ => usage(),
    }
}
