//! The wire envelope: how one message between nodes is laid out in bytes.
//!
//! ```text
//! +---------+--------------------------------+------------------------------+
//! | version | header (MessagePack map)       | payload (MessagePack map)    |
//! | 1 byte  | { "kind", "type_tag", .. }     | the message, fields by name  |
//! +---------+--------------------------------+------------------------------+
//! ```
//!
//! - **The version** comes first and alone, so a node can refuse a frame of a protocol it
//!   does not speak ([`DecodeError::UnsupportedVersion`]) before reading anything else.
//! - **The header** says what the message is for ([`Kind`]) and which type it holds (the
//!   type tag, a stable name such as `"shop::Counter"`), so the receiver picks the right
//!   decoder, or refuses an unknown tag, without touching the payload. A call's header
//!   also says how long its caller waits (`"timeout_ms"`, absent for no timeout), so the
//!   serving node stops waiting for the reply when the caller has.
//! - **The payload** is the message in MessagePack written with field names
//!   (`rmp_serde::to_vec_named`). Fields are matched by name, not position: a field added
//!   with `#[serde(default)]` decodes from a sender that does not know it yet, and a field
//!   the receiver does not know is skipped, so nodes of two versions of a program can talk
//!   during a rolling upgrade. Variant names travel too, and other languages can read it.
//!
//! Decoding never panics: bytes that are not an envelope, or a payload that is not the
//! expected type, give a [`DecodeError`] saying which part was wrong.

use std::fmt;
use std::io::Cursor;
use std::time::Duration;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The version of the envelope this build writes, and the only one it reads.
pub const PROTOCOL_VERSION: u8 = 1;

/// What a message is for: how the receiving node routes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub enum Kind {
    /// A request that waits for a [`Kind::Reply`] (`GenServer.call`).
    Call,
    /// The answer to a call.
    Reply,
    /// A message that waits for nothing (`GenServer.cast`).
    Cast,
    /// A message of the runtime itself (monitors, links, exit signals), not of a server.
    System,
}

/// The header of the envelope as it is written: field names on the wire, so later
/// versions can add fields with `#[serde(default)]`.
#[derive(Serialize, Deserialize)]
struct Header<'a> {
    kind: Kind,
    #[serde(borrow)]
    type_tag: std::borrow::Cow<'a, str>,
    /// Added after the first layout: absent in frames that carry no timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    timeout_ms: Option<u64>,
}

/// One message between nodes: its [`Kind`], the tag of its type and its encoded payload.
///
/// ```
/// use genserver_runtime::cluster::wire::{Envelope, Kind};
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize, Debug, PartialEq)]
/// struct Add {
///     n: u64,
/// }
///
/// let bytes = Envelope::new(Kind::Cast, "shop::Counter", &Add { n: 5 })?.to_bytes()?;
/// let envelope = Envelope::from_bytes(&bytes)?;
/// assert_eq!(envelope.kind(), Kind::Cast);
/// assert_eq!(envelope.type_tag(), "shop::Counter");
/// assert_eq!(envelope.message::<Add>()?, Add { n: 5 });
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Envelope {
    kind: Kind,
    type_tag: String,
    timeout: Option<Duration>,
    payload: Vec<u8>,
}

impl Envelope {
    /// An envelope holding `message`, encoded as MessagePack with field names.
    pub fn new<T: Serialize + ?Sized>(
        kind: Kind,
        type_tag: impl Into<String>,
        message: &T,
    ) -> Result<Self, EncodeError> {
        let type_tag = type_tag.into();
        let payload = rmp_serde::to_vec_named(message).map_err(|error| EncodeError::Payload {
            type_tag: type_tag.clone(),
            message: error.to_string(),
        })?;
        Ok(Envelope { kind, type_tag, timeout: None, payload })
    }

    /// The same envelope, saying that its sender waits at most `timeout` for an answer
    /// (whole milliseconds, rounded up).
    pub fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long the sender of a call waits for its reply; `None` when it waits as long as
    /// it takes, or for a message that is not a call.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// What the message is for.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The tag of the message's type, as the sender wrote it.
    pub fn type_tag(&self) -> &str {
        &self.type_tag
    }

    /// The encoded message.
    pub fn payload(&self) -> &[u8] {
        &self.payload
    }

    /// Decodes the message as a `T`. Fields `T` has and the payload lacks take their
    /// `#[serde(default)]`; fields the payload has and `T` lacks are skipped.
    pub fn message<T: DeserializeOwned>(&self) -> Result<T, DecodeError> {
        rmp_serde::from_slice(&self.payload).map_err(|error| DecodeError::Payload {
            type_tag: self.type_tag.clone(),
            message: error.to_string(),
        })
    }

    /// The envelope as bytes: the version, the header, then the payload.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EncodeError> {
        let timeout_ms = self
            .timeout
            .map(|timeout| u64::try_from(timeout.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX));
        let header = Header { kind: self.kind, type_tag: self.type_tag.as_str().into(), timeout_ms };
        let mut bytes = Vec::with_capacity(1 + 16 + self.type_tag.len() + self.payload.len());
        bytes.push(PROTOCOL_VERSION);
        rmp_serde::encode::write_named(&mut bytes, &header)
            .map_err(|error| EncodeError::Header(error.to_string()))?;
        bytes.extend_from_slice(&self.payload);
        Ok(bytes)
    }

    /// Reads an envelope from `bytes`. The payload is kept encoded: decode it with
    /// [`message`](Self::message) once the type tag says what it is.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, DecodeError> {
        let (&version, rest) = bytes.split_first().ok_or(DecodeError::Empty)?;
        if version != PROTOCOL_VERSION {
            return Err(DecodeError::UnsupportedVersion(version));
        }
        let mut reader = rmp_serde::Deserializer::new(Cursor::new(rest));
        let header =
            Header::deserialize(&mut reader).map_err(|error| DecodeError::Header(error.to_string()))?;
        // The cursor stops where the header ends; it never goes past `rest`.
        let header_len = usize::try_from(reader.position()).unwrap_or(rest.len()).min(rest.len());
        Ok(Envelope {
            kind: header.kind,
            type_tag: header.type_tag.into_owned(),
            timeout: header.timeout_ms.map(Duration::from_millis),
            payload: rest[header_len..].to_vec(),
        })
    }
}

/// Why a message could not be put in an envelope.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message's `Serialize` failed (for example a map with keys MessagePack cannot
    /// hold, or a custom impl that returned an error).
    Payload {
        /// The type tag of the message.
        type_tag: String,
        /// What the serializer said.
        message: String,
    },
    /// The header could not be written.
    Header(String),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::Payload { type_tag, message } => {
                write!(f, "cannot encode a message of type {type_tag}: {message}")
            }
            EncodeError::Header(message) => write!(f, "cannot encode an envelope header: {message}"),
        }
    }
}

impl std::error::Error for EncodeError {}

/// Why bytes could not be read as an envelope, or its payload as the expected type.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeError {
    /// There were no bytes at all.
    Empty,
    /// The frame is of a protocol version this build does not read.
    UnsupportedVersion(u8),
    /// The bytes after the version are not a valid header (garbage, a truncated frame,
    /// or a kind this build does not know).
    Header(String),
    /// The payload is not a valid encoding of the expected type (a missing field without
    /// a default, a wrong type, or garbage).
    Payload {
        /// The type tag the envelope claimed.
        type_tag: String,
        /// What the decoder said.
        message: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Empty => f.write_str("empty frame"),
            DecodeError::UnsupportedVersion(version) => write!(
                f,
                "frame of protocol version {version}, but this node speaks version {PROTOCOL_VERSION}"
            ),
            DecodeError::Header(message) => write!(f, "invalid envelope header: {message}"),
            DecodeError::Payload { type_tag, message } => {
                write!(f, "invalid payload for type {type_tag}: {message}")
            }
        }
    }
}

impl std::error::Error for DecodeError {}

#[cfg(test)]
mod tests {
    use super::*;

    /// A message as version 1 of a program sends it.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct SetV1 {
        key: String,
        value: String,
    }

    /// The same message in version 2, which added a field with a default.
    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    struct SetV2 {
        key: String,
        value: String,
        #[serde(default)]
        ttl_seconds: Option<u64>,
    }

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    enum Msg {
        Get { key: String },
        Clear,
    }

    fn roundtrip<T: Serialize>(kind: Kind, message: &T) -> Envelope {
        let bytes = Envelope::new(kind, "test::Config", message).and_then(|e| e.to_bytes()).expect("encodes");
        Envelope::from_bytes(&bytes).expect("decodes")
    }

    #[test]
    fn an_envelope_reads_back_as_written() {
        for kind in [Kind::Call, Kind::Reply, Kind::Cast, Kind::System] {
            let envelope = roundtrip(kind, &Msg::Get { key: "mode".into() });
            assert_eq!(envelope.kind(), kind);
            assert_eq!(envelope.type_tag(), "test::Config");
            assert_eq!(envelope.message::<Msg>(), Ok(Msg::Get { key: "mode".into() }));
        }
        assert_eq!(roundtrip(Kind::Cast, &Msg::Clear).message::<Msg>(), Ok(Msg::Clear));
    }

    #[test]
    fn a_call_carries_its_timeout_rounded_up_to_milliseconds() {
        let call = Envelope::new(Kind::Call, "test::Config", &Msg::Clear)
            .expect("encodes")
            .with_timeout(Some(Duration::from_micros(1500)));
        let read = Envelope::from_bytes(&call.to_bytes().expect("encodes")).expect("decodes");
        assert_eq!(read.timeout(), Some(Duration::from_millis(2)));
        assert_eq!(roundtrip(Kind::Cast, &Msg::Clear).timeout(), None);
    }

    #[test]
    fn a_field_added_with_a_default_decodes_from_an_old_sender() {
        let old = SetV1 { key: "mode".into(), value: "fast".into() };
        let envelope = roundtrip(Kind::Call, &old);
        assert_eq!(
            envelope.message::<SetV2>(),
            Ok(SetV2 { key: "mode".into(), value: "fast".into(), ttl_seconds: None })
        );
    }

    #[test]
    fn a_field_an_old_receiver_does_not_know_is_skipped() {
        let new = SetV2 { key: "mode".into(), value: "fast".into(), ttl_seconds: Some(30) };
        let envelope = roundtrip(Kind::Call, &new);
        assert_eq!(envelope.message::<SetV1>(), Ok(SetV1 { key: "mode".into(), value: "fast".into() }));
    }

    #[test]
    fn fields_travel_by_name() {
        let envelope = roundtrip(Kind::Cast, &SetV1 { key: "k".into(), value: "v".into() });
        let payload = envelope.payload();
        let contains = |needle: &[u8]| payload.windows(needle.len()).any(|window| window == needle);
        assert!(contains(b"key") && contains(b"value"), "{payload:?}");
    }

    #[test]
    fn a_missing_field_without_default_is_a_payload_error() {
        #[derive(Serialize)]
        struct KeyOnly {
            key: String,
        }
        let envelope = roundtrip(Kind::Call, &KeyOnly { key: "k".into() });
        match envelope.message::<SetV1>() {
            Err(DecodeError::Payload { type_tag, message }) => {
                assert_eq!(type_tag, "test::Config");
                assert!(message.contains("value"), "{message}");
            }
            other => panic!("expected a payload error, got {other:?}"),
        }
    }

    #[test]
    fn frames_that_are_not_envelopes_are_typed_errors() {
        assert_eq!(Envelope::from_bytes(&[]), Err(DecodeError::Empty));
        assert_eq!(Envelope::from_bytes(&[2, 0x80]), Err(DecodeError::UnsupportedVersion(2)));
        assert!(matches!(Envelope::from_bytes(&[PROTOCOL_VERSION]), Err(DecodeError::Header(_))));
        assert!(matches!(Envelope::from_bytes(b"\x01garbage"), Err(DecodeError::Header(_))));
        // A header naming a kind this build does not know.
        let mut unknown_kind = vec![PROTOCOL_VERSION];
        #[derive(Serialize)]
        struct FutureHeader {
            kind: &'static str,
            type_tag: &'static str,
        }
        rmp_serde::encode::write_named(&mut unknown_kind, &FutureHeader { kind: "Teleport", type_tag: "t" })
            .expect("encodes");
        assert!(matches!(Envelope::from_bytes(&unknown_kind), Err(DecodeError::Header(_))));
        // A valid header followed by a payload that is not the expected type.
        let truncated = roundtrip(Kind::Cast, &SetV1 { key: "k".into(), value: "v".into() });
        let mut bytes = truncated.to_bytes().expect("encodes");
        bytes.truncate(bytes.len() - 2);
        let envelope = Envelope::from_bytes(&bytes).expect("the header is intact");
        assert!(matches!(envelope.message::<SetV1>(), Err(DecodeError::Payload { .. })));
    }

    #[test]
    fn random_bytes_never_panic() {
        // A fixed xorshift sequence: the same frames on every run.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let valid = Envelope::new(Kind::Call, "test::Config", &SetV1 { key: "k".into(), value: "v".into() })
            .and_then(|e| e.to_bytes())
            .expect("encodes");
        for round in 0..20_000 {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            if round % 2 == 0 {
                // Half the frames: a valid frame with some bytes flipped, to get past the
                // version and often the header.
                bytes = valid.clone();
                for _ in 0..1 + next() % 3 {
                    let at = (next() as usize) % bytes.len();
                    bytes[at] = next() as u8;
                }
            }
            if let Ok(envelope) = Envelope::from_bytes(&bytes) {
                let _ = envelope.message::<SetV1>();
                let _ = envelope.message::<Msg>();
            }
        }
    }
}
