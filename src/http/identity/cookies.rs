//! The two cookies of the own sign-in, both HttpOnly and scoped to `/auth`, `Secure` unless the
//! service runs in development on plain http:
//! - `sm_signin`: the sealed sign-in in flight, `SameSite=Lax` (it must come back with the
//!   provider's top-level redirect to the callback), ten minutes;
//! - `sm_refresh`: the refresh token of a browser session, `SameSite=Strict`, as long as the
//!   refresh token lives.

use poem::Request;

/// The sign-in cookie.
pub const SIGN_IN: &str = "sm_signin";
/// The refresh cookie.
pub const REFRESH: &str = "sm_refresh";

/// Longest cookie value read.
const MAX_VALUE: usize = 4096;

/// The value of cookie `name` in `req`, when present and of a sane size.
pub fn read<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .get_all(poem::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|header| header.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim_matches('"'))
        .filter(|value| !value.is_empty() && value.len() <= MAX_VALUE)
}

/// A `Set-Cookie` value.
pub fn set(name: &str, value: &str, max_age: i64, same_site: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/auth; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}")
}

/// A `Set-Cookie` value that deletes `name`.
pub fn clear(name: &str, secure: bool) -> String {
    set(name, "", 0, "Strict", secure)
}
