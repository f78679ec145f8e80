//! The sign-in in flight between `/auth/{provider}/login` and its callback: the `state`, PKCE
//! verifier, nonce and return address, sealed in a short-lived cookie (HttpOnly, scoped to
//! `/auth`) with an HMAC-SHA256 under a key derived from the signing key. Nothing is stored
//! server-side, so any replica can finish a sign-in another one started.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Utc;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::domain::identity::Provider;

/// How long a started sign-in may take at the provider.
pub const PENDING_TTL_SECS: i64 = 600;

/// Longest sealed value accepted back (the cookie is well under 1 KB).
const MAX_SEALED_LEN: usize = 4096;

/// A sign-in in flight.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingSignIn {
    /// Which provider it went to.
    pub provider: Provider,
    /// The `state` sent.
    pub state: String,
    /// The PKCE verifier of the challenge sent.
    pub verifier: String,
    /// The nonce sent (OpenID Connect).
    pub nonce: Option<String>,
    /// Where the browser goes when it is done (checked against the allow-list).
    pub redirect_to: String,
    /// Unix seconds after which the cookie is refused.
    pub expires: i64,
}

fn mac(key: &[u8; 32], body: &[u8]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"pending-sign-in.v1.");
    mac.update(body);
    mac
}

impl PendingSignIn {
    /// The cookie value: base64url(JSON) `.` base64url(MAC).
    pub fn seal(&self, key: &[u8; 32]) -> String {
        let body = URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default());
        let tag = mac(key, body.as_bytes()).finalize().into_bytes();
        format!("{body}.{}", URL_SAFE_NO_PAD.encode(tag))
    }

    /// The sign-in sealed in `value`, when the MAC verifies and it has not expired.
    ///
    /// # Errors
    /// A short reason for the security log.
    pub fn open(value: &str, key: &[u8; 32]) -> Result<Self, &'static str> {
        if value.len() > MAX_SEALED_LEN {
            return Err("sign-in cookie too large");
        }
        let (body, tag) = value.split_once('.').ok_or("sign-in cookie malformed")?;
        let tag = URL_SAFE_NO_PAD
            .decode(tag)
            .map_err(|_| "sign-in cookie malformed")?;
        mac(key, body.as_bytes())
            .verify_slice(&tag)
            .map_err(|_| "sign-in cookie forged or from another key")?;
        let json = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| "sign-in cookie malformed")?;
        let pending: Self =
            serde_json::from_slice(&json).map_err(|_| "sign-in cookie malformed")?;
        if pending.expires < Utc::now().timestamp() {
            return Err("sign-in took too long (cookie expired)");
        }
        Ok(pending)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(expires: i64) -> PendingSignIn {
        PendingSignIn {
            provider: Provider::Github,
            state: "s".into(),
            verifier: "v".into(),
            nonce: None,
            redirect_to: "http://localhost:3000/".into(),
            expires,
        }
    }

    #[test]
    fn a_sealed_sign_in_opens_only_with_its_key_and_before_expiry() {
        let key = [7u8; 32];
        let fresh = pending(Utc::now().timestamp() + 60);
        let sealed = fresh.seal(&key);
        assert_eq!(PendingSignIn::open(&sealed, &key), Ok(fresh.clone()));
        assert!(PendingSignIn::open(&sealed, &[8u8; 32]).is_err());
        let (body, tag) = sealed.split_once('.').expect("two parts");
        let forged = format!("{}A.{tag}", body);
        assert!(PendingSignIn::open(&forged, &key).is_err());
        let stale = pending(Utc::now().timestamp() - 1).seal(&key);
        assert_eq!(
            PendingSignIn::open(&stale, &key),
            Err("sign-in took too long (cookie expired)")
        );
        assert!(PendingSignIn::open("garbage", &key).is_err());
    }
}
