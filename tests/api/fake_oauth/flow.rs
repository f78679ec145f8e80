//! The authorization code flow both fakes share: codes handed out at authorization and
//! redeemed once at the token endpoint, with client, redirect URI and PKCE checks.

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::{Request, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// What an authorization remembered for its code.
pub struct Grant {
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub nonce: Option<String>,
}

/// Codes not yet redeemed.
#[derive(Default)]
pub struct Flow {
    grants: HashMap<String, Grant>,
}

impl Flow {
    /// Answers an authorization request: 302 to `redirect_uri?code=…&state=…`, or 400 when
    /// it is not a code request with an S256 challenge for `client_id`.
    pub fn authorize(&mut self, query: &HashMap<String, String>, client_id: &str) -> Response {
        let get = |name: &str| query.get(name).cloned().unwrap_or_default();
        let redirect_uri = get("redirect_uri");
        let well_formed = get("response_type") == "code"
            && get("code_challenge_method") == "S256"
            && !get("code_challenge").is_empty()
            && !get("state").is_empty()
            && get("client_id") == client_id;
        let Ok(mut target) = url::Url::parse(&redirect_uri) else {
            return Response::builder().status(StatusCode::BAD_REQUEST).finish();
        };
        if !well_formed {
            return Response::builder().status(StatusCode::BAD_REQUEST).finish();
        }
        let code = uuid::Uuid::new_v4().simple().to_string();
        self.grants.insert(
            code.clone(),
            Grant {
                client_id: get("client_id"),
                redirect_uri,
                code_challenge: get("code_challenge"),
                nonce: query.get("nonce").cloned(),
            },
        );
        target
            .query_pairs_mut()
            .append_pair("code", &code)
            .append_pair("state", &get("state"));
        Response::builder()
            .status(StatusCode::FOUND)
            .header("location", target.as_str())
            .finish()
    }

    /// Redeems the code of a token request (form `body`, client by HTTP basic auth or form
    /// fields): the grant, or the OAuth error code to answer. A code works once, even when
    /// the request fails.
    pub fn redeem(
        &mut self,
        req: &Request,
        body: &[u8],
        client_id: &str,
        client_secret: &str,
    ) -> Result<Grant, &'static str> {
        let form: HashMap<String, String> =
            url::form_urlencoded::parse(body).into_owned().collect();
        let (id, secret) = basic_auth(req).unwrap_or_else(|| {
            (
                form.get("client_id").cloned().unwrap_or_default(),
                form.get("client_secret").cloned().unwrap_or_default(),
            )
        });
        if id != client_id || secret != client_secret {
            return Err("incorrect_client_credentials");
        }
        if form.get("grant_type").map(String::as_str) != Some("authorization_code") {
            return Err("unsupported_grant_type");
        }
        let code = form.get("code").cloned().unwrap_or_default();
        let grant = self.grants.remove(&code).ok_or("bad_verification_code")?;
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let redirect_ok = form.get("redirect_uri") == Some(&grant.redirect_uri);
        if grant.client_id != id || !redirect_ok || challenge != grant.code_challenge {
            return Err("bad_verification_code");
        }
        Ok(grant)
    }
}

/// Binds 127.0.0.1:0: the base URL and the acceptor to serve on.
pub async fn bind() -> (String, TcpAcceptor) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    (base, TcpAcceptor::from_tokio(listener).expect("acceptor"))
}

/// The query of `req` as a map (the last value of a repeated name wins).
pub fn query_pairs(req: &Request) -> HashMap<String, String> {
    url::form_urlencoded::parse(req.uri().query().unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

/// The bearer token of `req`.
pub fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
}

/// Client id and secret of an HTTP basic `Authorization` (each form-urlencoded, RFC 6749).
fn basic_auth(req: &Request) -> Option<(String, String)> {
    let encoded = req
        .headers()
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(STANDARD.decode(encoded).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Some((unescape(id), unescape(secret)))
}

/// A JSON answer.
pub fn answer_json(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json")
        .body(body.to_string())
}

/// reqwest needs a process-wide rustls provider even for plain http.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
