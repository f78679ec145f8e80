//! A fake SSO on 127.0.0.1: OpenID discovery, a JWKS whose keys the test can rotate, and a
//! userinfo endpoint for opaque tokens; it counts what it was asked and can go down.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::http::StatusCode;
use poem::listener::TcpAcceptor;
use poem::{Request, Response, Server};
use serde_json::{Value, json};

#[path = "../../src/adapters/jwks/test_keys.rs"]
#[allow(dead_code)]
mod test_keys;

pub const ISSUER: &str = "https://sso.test";
pub const AUDIENCE: &str = "study-mode";

#[derive(Default)]
struct State {
    keys: Vec<Jwk>,
    opaque: HashMap<String, Value>,
    down: bool,
    /// How long every answer waits, so concurrent requests overlap.
    delay: Duration,
    jwks_hits: usize,
    userinfo_hits: usize,
}

/// The running fake.
#[derive(Clone)]
pub struct FakeSso {
    pub base: String,
    state: Arc<Mutex<State>>,
}

pub fn rsa_1() -> EncodingKey {
    EncodingKey::from_rsa_pem(test_keys::TEST_ONLY_RSA_1_PRIVATE_PEM.as_bytes()).expect("rsa 1")
}

pub fn rsa_2() -> EncodingKey {
    EncodingKey::from_rsa_pem(test_keys::TEST_ONLY_RSA_2_PRIVATE_PEM.as_bytes()).expect("rsa 2")
}

pub fn ec_1() -> EncodingKey {
    EncodingKey::from_ec_pem(test_keys::TEST_ONLY_EC_1_PRIVATE_PEM.as_bytes()).expect("ec 1")
}

pub fn rsa_1_public_pem() -> &'static [u8] {
    test_keys::TEST_ONLY_RSA_1_PUBLIC_PEM.as_bytes()
}

/// Public JWK of `key` under `kid`.
pub fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    jwk
}

pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Claims of a valid token for `sub`.
pub fn claims(sub: &str) -> Value {
    json!({
        "sub": sub,
        "email": format!("{sub}@example.com"),
        "name": sub,
        "role": "student",
        "tenant_id": "org-1",
        "iss": ISSUER,
        "aud": AUDIENCE,
        "exp": now() + 600,
    })
}

pub fn sign(alg: Algorithm, kid: &str, key: &EncodingKey, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

/// A valid RS256 token for `sub` under `rsa-1`.
pub fn token(sub: &str) -> String {
    sign(Algorithm::RS256, "rsa-1", &rsa_1(), &claims(sub))
}

impl FakeSso {
    /// Starts the fake publishing `rsa-1` (RS256) and `ec-1` (ES256).
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
        let state = Arc::new(Mutex::new(State {
            keys: vec![
                jwk(&rsa_1(), Algorithm::RS256, "rsa-1"),
                jwk(&ec_1(), Algorithm::ES256, "ec-1"),
            ],
            ..State::default()
        }));
        let shared = state.clone();
        let jwks_uri = format!("{base}/api/auth/jwks");
        let endpoint = poem::endpoint::make(move |req: Request| {
            let delay = shared.lock().unwrap().delay;
            let response = answer(&shared, &req, &jwks_uri);
            async move {
                tokio::time::sleep(delay).await;
                response
            }
        });
        tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
        Self { base, state }
    }

    /// Environment that points the service at this SSO.
    pub fn env(&self) -> Vec<(String, String)> {
        crate::helpers::pairs(&[
            ("SSO_URL", &self.base),
            ("JWT_ISSUER", ISSUER),
            ("JWT_AUDIENCE", AUDIENCE),
            ("JWKS_MIN_REFRESH_SECS", "0"),
        ])
    }

    pub fn add_key(&self, key: Jwk) {
        self.state.lock().unwrap().keys.push(key);
    }

    /// Makes every answer wait `delay`.
    pub fn set_delay(&self, delay: Duration) {
        self.state.lock().unwrap().delay = delay;
    }

    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }

    /// Makes `token` an opaque token of `claims`.
    pub fn add_opaque(&self, token: &str, claims: Value) {
        self.state
            .lock()
            .unwrap()
            .opaque
            .insert(token.to_string(), claims);
    }

    pub fn jwks_hits(&self) -> usize {
        self.state.lock().unwrap().jwks_hits
    }

    pub fn userinfo_hits(&self) -> usize {
        self.state.lock().unwrap().userinfo_hits
    }
}

fn answer(state: &Arc<Mutex<State>>, req: &Request, jwks_uri: &str) -> Response {
    let mut state = state.lock().unwrap();
    if state.down {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .finish();
    }
    match req.uri().path() {
        "/.well-known/openid-configuration" => {
            Response::builder().body(json!({ "jwks_uri": jwks_uri }).to_string())
        }
        "/api/auth/jwks" => {
            state.jwks_hits += 1;
            let set = JwkSet {
                keys: state.keys.clone(),
            };
            Response::builder().body(serde_json::to_string(&set).expect("jwks json"))
        }
        "/api/auth/oauth2/userinfo" => {
            state.userinfo_hits += 1;
            let token = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer "))
                .unwrap_or_default();
            match state.opaque.get(token) {
                Some(claims) => Response::builder().body(claims.to_string()),
                None => Response::builder()
                    .status(StatusCode::UNAUTHORIZED)
                    .finish(),
            }
        }
        _ => Response::builder().status(StatusCode::NOT_FOUND).finish(),
    }
}
