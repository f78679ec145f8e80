//! The fake Google: OpenID discovery, authorization, a token endpoint that issues RS256 ID
//! tokens (which the test can spoil), and the JWKS.

use std::sync::{Arc, Mutex};

use jsonwebtoken::Algorithm;
use jsonwebtoken::jwk::JwkSet;
use poem::http::StatusCode;
use poem::{Request, Response, Server};
use serde_json::{Value, json};

use super::flow::{self, Flow, answer_json, query_pairs};
use crate::fake_sso::{jwk, now, rsa_1, rsa_2, sign};

pub const GOOGLE_CLIENT_ID: &str = "study-mode.apps.googleusercontent.com";
pub const GOOGLE_CLIENT_SECRET: &str = "google-client-secret";

/// The `kid` the fake publishes and signs with.
const KID: &str = "google-rsa-1";

/// How the next ID tokens are spoiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenTamper {
    /// A valid token.
    None,
    /// A `nonce` other than the authorization request's.
    WrongNonce,
    /// An `aud` of another client.
    WrongAudience,
    /// Expired ten minutes ago.
    Expired,
    /// Signed by a key the JWKS does not publish.
    UnknownKid,
}

struct GoogleUser {
    sub: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
}

struct GoogleState {
    flow: Flow,
    user: GoogleUser,
    tamper: IdTokenTamper,
    down: bool,
}

/// The running fake Google.
#[derive(Clone)]
pub struct FakeGoogle {
    pub base: String,
    state: Arc<Mutex<GoogleState>>,
}

impl FakeGoogle {
    /// Starts the fake, signed in as `Ada` (sub 110169484474386276334, verified address).
    pub async fn start() -> Self {
        let (base, acceptor) = flow::bind().await;
        let state = Arc::new(Mutex::new(GoogleState {
            flow: Flow::default(),
            user: GoogleUser {
                sub: "110169484474386276334".into(),
                email: Some("ada@example.com".into()),
                email_verified: true,
                name: Some("Ada Lovelace".into()),
            },
            tamper: IdTokenTamper::None,
            down: false,
        }));
        let shared = state.clone();
        let issuer = base.clone();
        let endpoint = poem::endpoint::make(move |req: Request| {
            let shared = shared.clone();
            let issuer = issuer.clone();
            async move { answer(&shared, &issuer, req).await }
        });
        tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
        Self { base, state }
    }

    /// Environment that points the service at this Google.
    pub fn env(&self) -> Vec<(String, String)> {
        crate::helpers::pairs(&[
            ("OAUTH_GOOGLE_CLIENT_ID", GOOGLE_CLIENT_ID),
            ("OAUTH_GOOGLE_CLIENT_SECRET", GOOGLE_CLIENT_SECRET),
            ("OAUTH_GOOGLE_ISSUER", &self.base),
        ])
    }

    /// The account the next ID tokens name.
    pub fn set_user(
        &self,
        sub: &str,
        email: Option<&str>,
        email_verified: bool,
        name: Option<&str>,
    ) {
        self.state.lock().unwrap().user = GoogleUser {
            sub: sub.into(),
            email: email.map(Into::into),
            email_verified,
            name: name.map(Into::into),
        };
    }

    /// Spoils the next ID tokens this way.
    pub fn set_id_token_tamper(&self, tamper: IdTokenTamper) {
        self.state.lock().unwrap().tamper = tamper;
    }

    /// Makes every endpoint answer 503.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }
}

async fn answer(state: &Arc<Mutex<GoogleState>>, issuer: &str, mut req: Request) -> Response {
    let body = req.take_body().into_bytes().await.unwrap_or_default();
    let mut state = state.lock().unwrap();
    if state.down {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .finish();
    }
    match req.uri().path() {
        "/.well-known/openid-configuration" => answer_json(
            StatusCode::OK,
            &json!({
                "issuer": issuer,
                "authorization_endpoint": format!("{issuer}/o/oauth2/v2/auth"),
                "token_endpoint": format!("{issuer}/token"),
                "jwks_uri": format!("{issuer}/oauth2/v3/certs"),
                "response_types_supported": ["code"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["plain", "S256"],
            }),
        ),
        "/o/oauth2/v2/auth" => state.flow.authorize(&query_pairs(&req), GOOGLE_CLIENT_ID),
        "/token" => match state
            .flow
            .redeem(&req, &body, GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET)
        {
            Ok(grant) => {
                let id_token = id_token(&state, issuer, grant.nonce.as_deref());
                answer_json(
                    StatusCode::OK,
                    &json!({
                        "access_token": format!("ya29.{}", uuid::Uuid::new_v4().simple()),
                        "token_type": "Bearer",
                        "expires_in": 3599,
                        "scope": "openid https://www.googleapis.com/auth/userinfo.email",
                        "id_token": id_token,
                    }),
                )
            }
            Err("incorrect_client_credentials") => answer_json(
                StatusCode::UNAUTHORIZED,
                &json!({ "error": "invalid_client" }),
            ),
            // Google refuses a bad, replayed or unverifiable code with 400 invalid_grant.
            Err(_) => answer_json(
                StatusCode::BAD_REQUEST,
                &json!({ "error": "invalid_grant", "error_description": "Bad Request" }),
            ),
        },
        "/oauth2/v3/certs" => {
            let set = JwkSet {
                keys: vec![jwk(&rsa_1(), Algorithm::RS256, KID)],
            };
            answer_json(StatusCode::OK, &serde_json::to_value(&set).expect("jwks"))
        }
        _ => Response::builder().status(StatusCode::NOT_FOUND).finish(),
    }
}

/// The ID token of the current user for an authorization that sent `nonce`.
fn id_token(state: &GoogleState, issuer: &str, nonce: Option<&str>) -> String {
    let user = &state.user;
    let tamper = state.tamper;
    let now = now();
    let mut claims = json!({
        "iss": issuer,
        "aud": GOOGLE_CLIENT_ID,
        "azp": GOOGLE_CLIENT_ID,
        "sub": user.sub,
        "email": user.email,
        "email_verified": user.email_verified,
        "name": user.name,
        "nonce": nonce,
        "iat": now,
        "exp": now + 3600,
    });
    match tamper {
        IdTokenTamper::None | IdTokenTamper::UnknownKid => {}
        IdTokenTamper::WrongNonce => claims["nonce"] = Value::from("not-the-nonce"),
        IdTokenTamper::WrongAudience => claims["aud"] = Value::from("someone-else"),
        IdTokenTamper::Expired => {
            claims["iat"] = Value::from(now - 4200);
            claims["exp"] = Value::from(now - 600);
        }
    }
    if tamper == IdTokenTamper::UnknownKid {
        sign(Algorithm::RS256, "unpublished", &rsa_2(), &claims)
    } else {
        sign(Algorithm::RS256, KID, &rsa_1(), &claims)
    }
}
