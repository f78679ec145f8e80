//! Random secrets from the operating system.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::identity::REFRESH_TOKEN_PREFIX;

/// 32 random bytes as unpadded base64url (43 characters).
///
/// # Panics
/// When the operating system has no random source (the service cannot run safely then).
pub fn random_b64(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf).expect("the operating system provides random bytes");
    URL_SAFE_NO_PAD.encode(buf)
}

/// A new refresh token: `rt_` and 256 random bits.
pub fn refresh_token() -> String {
    format!("{REFRESH_TOKEN_PREFIX}{}", random_b64(32))
}
