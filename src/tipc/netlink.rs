//! TIPC's generic netlink requests, as bytes: finding the family's id
//! (`CTRL_CMD_GETFAMILY` "TIPCv2") and `TIPC_NL_KEY_SET`, and reading the
//! kernel's answers. Pure: [`super::socket`] sends and receives them.
//!
//! Every number here is the kernel's UAPI (`<linux/netlink.h>`,
//! `<linux/genetlink.h>`, `<linux/tipc.h>`, `<linux/tipc_netlink.h>`), and
//! the layout of each message is spelled out where it is built. All
//! integers are in host byte order, as netlink has them.

use crate::secret::Secret;

/// `struct nlmsghdr`: length u32, type u16, flags u16, sequence u32, port u32.
const NLMSG_HDRLEN: usize = 16;
/// `struct genlmsghdr`: command u8, version u8, reserved u16.
const GENL_HDRLEN: usize = 4;
/// `struct nlattr`: length u16, type u16.
const NLA_HDRLEN: usize = 4;

const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
/// The error (or, with error 0, acknowledgement) message type.
const NLMSG_ERROR: u16 = 0x2;
/// The message type of the generic netlink controller.
const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;
/// Marks an attribute that holds attributes.
const NLA_F_NESTED: u16 = 1 << 15;

/// TIPC's family, with its terminating NUL.
const TIPC_FAMILY: &[u8] = b"TIPCv2\0";
const TIPC_GENL_VERSION: u8 = 1;
const TIPC_NL_KEY_SET: u8 = 23;
const TIPC_NLA_NODE: u16 = 6;
const TIPC_NLA_NODE_KEY: u16 = 4;
const TIPC_NLA_NODE_KEY_MASTER: u16 = 5;
const TIPC_NLA_NODE_REKEYING: u16 = 6;

/// `struct tipc_aead_key`: the algorithm's name in 32 bytes, the key's
/// length u32, then the key: AES-256 and its 4-byte salt.
pub(crate) const ALG_NAME_LEN: usize = 32;
const ALG_NAME: &[u8] = b"gcm(aes)";
/// The AES-256 key.
pub(crate) const AES_LEN: usize = 32;
/// The salt that follows it (`TIPC_AES_GCM_SALT_SIZE`).
pub(crate) const SALT_LEN: usize = 4;
/// `keylen`: the key and its salt (`TIPC_AEAD_KEYLEN_MAX`).
pub(crate) const KEY_LEN: usize = AES_LEN + SALT_LEN;
/// The whole struct (`tipc_aead_key_size()`).
pub(crate) const AEAD_KEY_SIZE: usize = ALG_NAME_LEN + 4 + KEY_LEN;
const _: () = assert!(KEY_LEN == 36 && AEAD_KEY_SIZE == 72 && ALG_NAME.len() < ALG_NAME_LEN);

/// The longest `TIPC_NL_KEY_SET`: headers, the nest, the key, the master
/// flag and the rekeying interval.
pub(crate) const KEY_SET_MAX: usize = NLMSG_HDRLEN
    + GENL_HDRLEN
    + NLA_HDRLEN
    + (NLA_HDRLEN + AEAD_KEY_SIZE)
    + NLA_HDRLEN
    + (NLA_HDRLEN + 4);
// Every attribute is already 4-aligned, so no padding is ever added.
const _: () = assert!(AEAD_KEY_SIZE.is_multiple_of(4) && KEY_SET_MAX == 112);

/// A message being built in a fixed buffer, which must be long enough.
struct Builder<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl Builder<'_> {
    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    /// Netlink header (its length filled in by [`Builder::finish`]) and
    /// generic netlink header.
    fn headers(&mut self, kind: u16, seq: u32, cmd: u8, version: u8) {
        self.put(&0u32.to_ne_bytes());
        self.put(&kind.to_ne_bytes());
        self.put(&(NLM_F_REQUEST | NLM_F_ACK).to_ne_bytes());
        self.put(&seq.to_ne_bytes());
        self.put(&0u32.to_ne_bytes());
        self.put(&[cmd, version, 0, 0]);
    }

    /// An attribute header for `payload` bytes; the payload follows.
    fn attr(&mut self, kind: u16, payload: usize) {
        self.put(&((NLA_HDRLEN + payload) as u16).to_ne_bytes());
        self.put(&kind.to_ne_bytes());
    }

    fn finish(self) -> usize {
        self.buf[..4].copy_from_slice(&(self.len as u32).to_ne_bytes());
        self.len
    }
}

/// `CTRL_CMD_GETFAMILY` for "TIPCv2", into `buf`; returns its length.
pub(crate) fn get_family(buf: &mut [u8; 32], seq: u32) -> usize {
    let mut b = Builder { buf, len: 0 };
    b.headers(GENL_ID_CTRL, seq, CTRL_CMD_GETFAMILY, 1);
    b.attr(CTRL_ATTR_FAMILY_NAME, TIPC_FAMILY.len());
    b.put(TIPC_FAMILY);
    // "TIPCv2\0" is 7 bytes: one byte of padding to the 4-byte boundary.
    b.put(&[0]);
    b.finish()
}

/// What a `TIPC_NL_KEY_SET` carries.
pub(crate) struct KeySet<'a> {
    /// The master key (AES-256 then salt), when it is to be set.
    pub key: Option<&'a Secret<KEY_LEN>>,
    /// The rekeying interval in minutes, when it is to be set.
    pub rekeying: Option<u32>,
}

/// `TIPC_NL_KEY_SET` to `family`, into `buf` (wiped on drop: it holds the
/// key); returns its length.
pub(crate) fn key_set(buf: &mut Secret<KEY_SET_MAX>, family: u16, seq: u32, set: &KeySet) -> usize {
    let mut b = Builder {
        buf: &mut buf[..],
        len: 0,
    };
    b.headers(family, seq, TIPC_NL_KEY_SET, TIPC_GENL_VERSION);
    let key_attrs = set.key.map_or(0, |_| 2 * NLA_HDRLEN + AEAD_KEY_SIZE);
    let rekey_attr = set.rekeying.map_or(0, |_| NLA_HDRLEN + 4);
    b.attr(TIPC_NLA_NODE | NLA_F_NESTED, key_attrs + rekey_attr);
    if let Some(key) = set.key {
        b.attr(TIPC_NLA_NODE_KEY, AEAD_KEY_SIZE);
        let mut name = [0u8; ALG_NAME_LEN];
        name[..ALG_NAME.len()].copy_from_slice(ALG_NAME);
        b.put(&name);
        b.put(&(KEY_LEN as u32).to_ne_bytes());
        b.put(&key[..]);
        // A flag: no payload. This key is the cluster's master key.
        b.attr(TIPC_NLA_NODE_KEY_MASTER, 0);
    }
    if let Some(minutes) = set.rekeying {
        b.attr(TIPC_NLA_NODE_REKEYING, 4);
        b.put(&minutes.to_ne_bytes());
    }
    b.finish()
}

/// What the kernel answered a request with sequence number `seq`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The family's id (`CTRL_CMD_GETFAMILY`'s reply).
    Family(u16),
    /// Done (an acknowledgement).
    Ack,
    /// Refused: the errno.
    Error(i32),
}

/// The answers to `seq` in one datagram `data`, in order; messages of other
/// sequence numbers and malformed tails are skipped.
pub(crate) fn answers(mut data: &[u8], seq: u32) -> Vec<Answer> {
    let mut found = Vec::new();
    while data.len() >= NLMSG_HDRLEN {
        let len = u32_at(data, 0) as usize;
        if len < NLMSG_HDRLEN || len > data.len() {
            break;
        }
        let (msg, rest) = data.split_at(len);
        data = rest
            .get(len.next_multiple_of(4) - len..)
            .unwrap_or_default();
        if u32_at(msg, 8) != seq {
            continue;
        }
        let body = &msg[NLMSG_HDRLEN..];
        match u16_at(msg, 4) {
            // `struct nlmsgerr`: the error (0 or a negative errno) first.
            NLMSG_ERROR if body.len() >= 4 => match i32::from_ne_bytes(word(body, 0)) {
                0 => found.push(Answer::Ack),
                e => found.push(Answer::Error(-e)),
            },
            GENL_ID_CTRL => {
                if let Some(id) = family_id(body.get(GENL_HDRLEN..).unwrap_or_default()) {
                    found.push(Answer::Family(id));
                }
            }
            _ => {}
        }
    }
    found
}

/// `CTRL_ATTR_FAMILY_ID` among the attributes `attrs`.
fn family_id(mut attrs: &[u8]) -> Option<u16> {
    while attrs.len() >= NLA_HDRLEN {
        let len = u16_at(attrs, 0) as usize;
        if len < NLA_HDRLEN || len > attrs.len() {
            return None;
        }
        if u16_at(attrs, 2) & !NLA_F_NESTED == CTRL_ATTR_FAMILY_ID && len >= NLA_HDRLEN + 2 {
            return Some(u16_at(attrs, NLA_HDRLEN));
        }
        attrs = attrs.get(len.next_multiple_of(4)..).unwrap_or_default();
    }
    None
}

fn word(b: &[u8], at: usize) -> [u8; 4] {
    [b[at], b[at + 1], b[at + 2], b[at + 3]]
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes(word(b, at))
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([b[at], b[at + 1]])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ne32(v: u32) -> [u8; 4] {
        v.to_ne_bytes()
    }

    #[test]
    fn get_family_is_the_controllers_request_for_tipcv2() {
        let mut buf = [0u8; 32];
        let len = get_family(&mut buf, 7);
        let mut want = Vec::new();
        want.extend(ne32(32)); // nlmsg_len
        want.extend(0x10u16.to_ne_bytes()); // GENL_ID_CTRL
        want.extend(5u16.to_ne_bytes()); // NLM_F_REQUEST | NLM_F_ACK
        want.extend(ne32(7)); // seq
        want.extend(ne32(0)); // port: the kernel
        want.extend([3, 1, 0, 0]); // CTRL_CMD_GETFAMILY, version 1
        want.extend(11u16.to_ne_bytes()); // nla_len: 4 + "TIPCv2\0"
        want.extend(2u16.to_ne_bytes()); // CTRL_ATTR_FAMILY_NAME
        want.extend(b"TIPCv2\0\0"); // and one byte of padding
        assert_eq!(&buf[..len], &want[..]);
    }

    #[test]
    fn key_set_carries_the_master_key_and_the_rekeying_interval() {
        let mut key = Secret::<KEY_LEN>::zeroed();
        for (i, b) in key.iter_mut().enumerate() {
            *b = i as u8 + 1;
        }
        let mut buf = Secret::zeroed();
        let set = KeySet {
            key: Some(&key),
            rekeying: Some(60),
        };
        let len = key_set(&mut buf, 0x1d, 9, &set);
        assert_eq!(len, KEY_SET_MAX);
        let mut want = Vec::new();
        want.extend(ne32(112));
        want.extend(0x1du16.to_ne_bytes()); // the family's id
        want.extend(5u16.to_ne_bytes());
        want.extend(ne32(9));
        want.extend(ne32(0));
        want.extend([23, 1, 0, 0]); // TIPC_NL_KEY_SET, TIPC_GENL_V2_VERSION
        want.extend(92u16.to_ne_bytes()); // the nest: 4 + 76 + 4 + 8
        want.extend((6u16 | 0x8000).to_ne_bytes()); // TIPC_NLA_NODE, nested
        want.extend(76u16.to_ne_bytes()); // TIPC_NLA_NODE_KEY: 4 + 72
        want.extend(4u16.to_ne_bytes());
        let mut name = [0u8; 32];
        name[..8].copy_from_slice(b"gcm(aes)");
        want.extend(name); // alg_name[32]
        want.extend(ne32(36)); // keylen: AES-256 and its salt
        want.extend(&key[..]);
        want.extend(4u16.to_ne_bytes()); // TIPC_NLA_NODE_KEY_MASTER, a flag
        want.extend(5u16.to_ne_bytes());
        want.extend(8u16.to_ne_bytes()); // TIPC_NLA_NODE_REKEYING
        want.extend(6u16.to_ne_bytes());
        want.extend(ne32(60));
        assert_eq!(&buf[..len], &want[..]);

        // The rekeying interval alone: the nest holds it and nothing else.
        let alone = KeySet {
            key: None,
            rekeying: Some(5),
        };
        let len = key_set(&mut buf, 0x1d, 10, &alone);
        assert_eq!(len, 16 + 4 + 4 + 8);
        assert_eq!(&buf[20..24], &[12, 0, 6, 0x80]);
        assert_eq!(&buf[28..32], &ne32(5));
    }

    /// One attribute: its declared length `len`, its type, its payload,
    /// padded to 4 bytes.
    fn attr(len: u16, kind: u16, payload: &[u8]) -> Vec<u8> {
        let mut a = [&len.to_ne_bytes()[..], &kind.to_ne_bytes(), payload].concat();
        a.resize(a.len().next_multiple_of(4), 0);
        a
    }

    /// The family's id is found past other attributes, a bare header
    /// among them, and in the last one even when it ends the buffer; an
    /// id attribute too short to hold one is passed by; a length under a
    /// header's or past the end stops the search.
    #[test]
    fn family_id_walks_the_attributes_and_stops_at_a_bad_length() {
        let id = |v: u16| attr(6, CTRL_ATTR_FAMILY_ID, &v.to_ne_bytes());
        assert_eq!(family_id(&id(0x1d)), Some(0x1d));
        assert_eq!(family_id(&[attr(4, 7, &[]), id(0x1d)].concat()), Some(0x1d));
        let exact = [attr(6, 2, b"ab"), id(0x1d)].concat();
        assert_eq!(family_id(&exact[..exact.len() - 2]), Some(0x1d));
        assert_eq!(
            family_id(&[attr(4, CTRL_ATTR_FAMILY_ID, &[]), id(7)].concat()),
            Some(7)
        );
        assert_eq!(family_id(&[attr(2, 7, &[0, 0]), id(7)].concat()), None);
        assert_eq!(
            family_id(&attr(12, CTRL_ATTR_FAMILY_ID, &7u16.to_ne_bytes())),
            None
        );
    }

    fn message(kind: u16, seq: u32, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend(ne32((16 + body.len()) as u32));
        m.extend(kind.to_ne_bytes());
        m.extend(0u16.to_ne_bytes());
        m.extend(ne32(seq));
        m.extend(ne32(1234));
        m.extend(body);
        while m.len() % 4 != 0 {
            m.push(0);
        }
        m
    }

    #[test]
    fn answers_read_the_family_id_acks_and_errors_of_their_request() {
        let mut family = vec![1, 2, 0, 0];
        family.extend(11u16.to_ne_bytes());
        family.extend(2u16.to_ne_bytes());
        family.extend(b"TIPCv2\0\0");
        family.extend(6u16.to_ne_bytes());
        family.extend(1u16.to_ne_bytes());
        family.extend(0x1du16.to_ne_bytes());
        family.extend([0, 0]);
        let mut data = message(0x10, 3, &family);
        data.extend(message(2, 3, &(0i32).to_ne_bytes()));
        // Another request's error, then ours.
        data.extend(message(2, 4, &(-1i32).to_ne_bytes()));
        assert_eq!(answers(&data, 3), vec![Answer::Family(0x1d), Answer::Ack]);
        assert_eq!(answers(&data, 4), vec![Answer::Error(1)]);
        // ENOENT: no such family.
        let refused = message(2, 5, &(-2i32).to_ne_bytes());
        assert_eq!(answers(&refused, 5), vec![Answer::Error(2)]);
        // Truncated or lying lengths end the parse, never panic.
        assert_eq!(answers(&data[..10], 3), vec![]);
        let mut lying = data.clone();
        lying[0] = 0xff;
        assert_eq!(answers(&lying, 3), vec![]);
        let mut short_attr = message(0x10, 6, &[1, 2, 0, 0, 2, 0, 1, 0]);
        short_attr.truncate(short_attr.len());
        assert_eq!(answers(&short_attr, 6), vec![]);
        // A header alone (no body) is a message: the parse goes on past it.
        let mut bare = message(3, 7, &[]);
        assert_eq!(bare.len(), NLMSG_HDRLEN);
        bare.extend(message(2, 7, &(0i32).to_ne_bytes()));
        assert_eq!(answers(&bare, 7), vec![Answer::Ack]);
        // A length shorter than a header ends the parse, never panics.
        let mut under = message(2, 7, &(0i32).to_ne_bytes());
        under[..4].copy_from_slice(&8u32.to_ne_bytes());
        assert_eq!(answers(&under, 7), vec![]);
        // An error message too short for its errno is no answer (not an ACK).
        assert_eq!(answers(&message(2, 7, &[0, 0]), 7), vec![]);
    }
}
