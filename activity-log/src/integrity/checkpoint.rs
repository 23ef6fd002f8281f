//! Signed checkpoints: an ed25519 signature over (tenant, position, head
//! hash, time), exported as JSON so that it can be kept somewhere else (a
//! ticket, an email, another system). Whoever holds one can later check
//! that the log still holds exactly what it held then.
//!
//! ```
//! use activity_log::integrity::{ChainHead, Checkpoint, CheckpointSigner};
//!
//! let signer = CheckpointSigner::generate()?;
//! let head = ChainHead::genesis(Some("acme"));
//! let checkpoint = signer.sign(Some("acme"), head, chrono::Utc::now());
//! let json = checkpoint.to_json();
//! let back = Checkpoint::from_json(&json)?;
//! back.check_signature(Some(&signer.public_key_hex()))?;
//! assert_eq!(back, checkpoint);
//! # Ok::<(), activity_log::integrity::IntegrityError>(())
//! ```

use super::{ChainHash, ChainHead, IntegrityError};
use chrono::{DateTime, SecondsFormat, Utc};
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use serde::{Deserialize, Serialize};

/// What the signature covers comes after this domain label.
const DOMAIN: &[u8] = b"activity-log/checkpoint/v1\n";

/// A signed statement that a tenant's chain had `head` at `position` at
/// `time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The chain's tenant (`None`: activities without a tenant).
    pub tenant: Option<String>,
    /// The chain position the checkpoint covers (every record up to it).
    pub position: u64,
    /// The chain hash at `position`.
    pub head: ChainHash,
    /// When it was made (microsecond precision).
    pub time: DateTime<Utc>,
    /// The signer's ed25519 public key.
    pub public_key: [u8; 32],
    /// The ed25519 signature.
    pub signature: [u8; 64],
}

/// The JSON form.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Json {
    version: u32,
    tenant: Option<String>,
    position: u64,
    head: String,
    time: String,
    public_key: String,
    signature: String,
}

/// The bytes signed: the domain label and the canonical JSON of the
/// statement (keys sorted, time as microseconds).
fn message(tenant: Option<&str>, position: u64, head: &ChainHash, time: DateTime<Utc>) -> Vec<u8> {
    let mut out = DOMAIN.to_vec();
    out.extend_from_slice(br#"{"head":""#);
    out.extend_from_slice(head.to_hex().as_bytes());
    out.extend_from_slice(format!(r#"","position":{position},"tenant":"#).as_bytes());
    super::canonical::opt(&mut out, tenant);
    out.extend_from_slice(format!(r#","time_us":{}}}"#, time.timestamp_micros()).as_bytes());
    out
}

impl Checkpoint {
    /// The chain head it vouches for.
    pub fn chain_head(&self) -> ChainHead {
        ChainHead { position: self.position, hash: self.head }
    }

    /// The signer's public key, hex.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.public_key)
    }

    /// Checks the signature, and, given `trusted` (a public key in hex),
    /// that this key made it. Without `trusted`, only that the checkpoint
    /// is unaltered since the key it names signed it.
    pub fn check_signature(&self, trusted: Option<&str>) -> Result<(), IntegrityError> {
        if let Some(trusted) = trusted {
            if !trusted.trim().eq_ignore_ascii_case(&self.public_key_hex()) {
                return Err(IntegrityError::UntrustedKey {
                    trusted: trusted.trim().to_owned(),
                    found: self.public_key_hex(),
                });
            }
        }
        let key = VerifyingKey::from_bytes(&self.public_key).map_err(|_| IntegrityError::BadSignature)?;
        let msg = message(self.tenant.as_deref(), self.position, &self.head, self.time);
        key.verify(&msg, &Signature::from_bytes(&self.signature)).map_err(|_| IntegrityError::BadSignature)
    }

    /// The JSON export (pretty-printed, one field a line).
    pub fn to_json(&self) -> String {
        let json = Json {
            version: 1,
            tenant: self.tenant.clone(),
            position: self.position,
            head: self.head.to_hex(),
            time: self.time.to_rfc3339_opts(SecondsFormat::Micros, true),
            public_key: self.public_key_hex(),
            signature: hex::encode(self.signature),
        };
        serde_json::to_string_pretty(&json).unwrap_or_default()
    }

    /// Reads the JSON export; the signature is not checked here (see
    /// [`check_signature`](Self::check_signature)).
    pub fn from_json(text: &str) -> Result<Self, IntegrityError> {
        let bad = |what: &str| IntegrityError::Malformed(what.to_owned());
        let json: Json = serde_json::from_str(text).map_err(|e| IntegrityError::Malformed(e.to_string()))?;
        if json.version != 1 {
            return Err(IntegrityError::Malformed(format!("unknown version {}", json.version)));
        }
        let head = ChainHash::from_hex(&json.head).ok_or_else(|| bad("`head` is not 64 hex digits"))?;
        let time = DateTime::parse_from_rfc3339(&json.time).map_err(|_| bad("`time` is not an RFC 3339 time"))?;
        let mut public_key = [0; 32];
        hex::decode_to_slice(&json.public_key, &mut public_key)
            .map_err(|_| bad("`public_key` is not 64 hex digits"))?;
        let mut signature = [0; 64];
        hex::decode_to_slice(&json.signature, &mut signature).map_err(|_| bad("`signature` is not 128 hex digits"))?;
        Ok(Self {
            tenant: json.tenant,
            position: json.position,
            head,
            time: time.with_timezone(&Utc),
            public_key,
            signature,
        })
    }
}

/// Signs checkpoints with an ed25519 key. Keep the secret key out of the
/// database the log lives in, and publish the public key to auditors.
pub struct CheckpointSigner {
    key: SigningKey,
}

impl std::fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CheckpointSigner").field("public_key", &self.public_key_hex()).finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A new random key, from the operating system's generator.
    pub fn generate() -> Result<Self, IntegrityError> {
        let mut seed = [0; 32];
        getrandom::getrandom(&mut seed).map_err(|e| IntegrityError::Key(e.to_string()))?;
        Ok(Self::from_secret(seed))
    }

    /// The key with this 32-byte secret.
    pub fn from_secret(secret: [u8; 32]) -> Self {
        Self { key: SigningKey::from_bytes(&secret) }
    }

    /// The key whose secret is these 64 hex digits (e.g. read from a
    /// secret store).
    pub fn from_secret_hex(hex_secret: &str) -> Result<Self, IntegrityError> {
        let mut secret = [0; 32];
        hex::decode_to_slice(hex_secret.trim(), &mut secret)
            .map_err(|_| IntegrityError::Key("the secret key is not 64 hex digits".into()))?;
        Ok(Self::from_secret(secret))
    }

    /// The secret, hex: store it where only the checkpointing job reads it.
    pub fn secret_hex(&self) -> String {
        hex::encode(self.key.to_bytes())
    }

    /// The public key, hex: give it to whoever checks checkpoints.
    pub fn public_key_hex(&self) -> String {
        hex::encode(self.key.verifying_key().to_bytes())
    }

    /// Signs `head` of `tenant`'s chain at `time` (kept to the
    /// microsecond).
    pub fn sign(&self, tenant: Option<&str>, head: ChainHead, time: DateTime<Utc>) -> Checkpoint {
        use chrono::SubsecRound;
        let time = time.trunc_subsecs(6);
        let msg = message(tenant, head.position, &head.hash, time);
        Checkpoint {
            tenant: tenant.map(str::to_owned),
            position: head.position,
            head: head.hash,
            time,
            public_key: self.key.verifying_key().to_bytes(),
            signature: self.key.sign(&msg).to_bytes(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn checkpoint() -> (CheckpointSigner, Checkpoint) {
        let signer = CheckpointSigner::from_secret([7; 32]);
        let head = ChainHead { position: 12, hash: ChainHash([3; 32]) };
        let c = signer.sign(Some("acme"), head, Utc::now());
        (signer, c)
    }

    #[test]
    fn json_round_trips_and_verifies() {
        let (signer, c) = checkpoint();
        let back = Checkpoint::from_json(&c.to_json()).expect("parses");
        assert_eq!(back, c);
        back.check_signature(Some(&signer.public_key_hex())).expect("verifies");
        back.check_signature(None).expect("verifies");
    }

    #[test]
    fn any_altered_field_breaks_the_signature() {
        let (_, c) = checkpoint();
        let alter: [fn(&mut Checkpoint); 6] = [
            |c| c.position += 1,
            |c| c.tenant = Some("other".into()),
            |c| c.tenant = None,
            |c| c.head.0[0] ^= 1,
            |c| c.time += chrono::Duration::microseconds(1),
            |c| c.signature[5] ^= 1,
        ];
        for (i, f) in alter.iter().enumerate() {
            let mut bad = c.clone();
            f(&mut bad);
            assert!(matches!(bad.check_signature(None), Err(IntegrityError::BadSignature)), "alteration {i}");
        }
    }

    #[test]
    fn another_key_is_not_trusted() {
        let (_, c) = checkpoint();
        let other = CheckpointSigner::from_secret([8; 32]);
        assert!(matches!(c.check_signature(Some(&other.public_key_hex())), Err(IntegrityError::UntrustedKey { .. })));
        let resigned = other.sign(c.tenant.as_deref(), c.chain_head(), c.time);
        let mut forged = resigned.clone();
        forged.public_key = c.public_key;
        assert!(matches!(forged.check_signature(None), Err(IntegrityError::BadSignature)));
    }

    #[test]
    fn malformed_json_names_the_field() {
        let (_, c) = checkpoint();
        let text = c.to_json().replace(&c.head.to_hex(), "xyz");
        let err = Checkpoint::from_json(&text).expect_err("bad head");
        assert!(err.to_string().contains("head"), "{err}");
        assert!(Checkpoint::from_json("{}").is_err());
    }

    #[test]
    fn secret_round_trips_through_hex() {
        let s = CheckpointSigner::generate().expect("random key");
        let back = CheckpointSigner::from_secret_hex(&s.secret_hex()).expect("hex");
        assert_eq!(back.public_key_hex(), s.public_key_hex());
        assert!(CheckpointSigner::from_secret_hex("nope").is_err());
    }
}
