//! Fake OAuth providers on 127.0.0.1: a GitHub (authorize, token exchange, `/user`,
//! `/user/emails`) and a Google (discovery, authorize, token exchange with an RS256 ID token,
//! JWKS). Both auto-approve as their current user, check client credentials, redirect URI and
//! PKCE (S256) like the real ones, accept each code once, and can go down.

// Paths spelled out, so `examples/fake_providers.rs` can load these files as well.
#[path = "fake_oauth/flow.rs"]
mod flow;
#[path = "fake_oauth/google.rs"]
mod google;

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use poem::http::StatusCode;
use poem::{Request, Response, Server};
use serde_json::json;

use flow::{Flow, answer_json, bearer, query_pairs};
pub use google::{FakeGoogle, IdTokenTamper};

pub const GITHUB_CLIENT_ID: &str = "gh-client-id";
pub const GITHUB_CLIENT_SECRET: &str = "gh-client-secret";

/// The account GitHub signs in as.
#[derive(Clone)]
struct GithubUser {
    id: u64,
    login: String,
    name: Option<String>,
    emails: Vec<(String, bool, bool)>,
}

struct GithubState {
    flow: Flow,
    user: GithubUser,
    tokens: HashSet<String>,
    down: bool,
}

/// The running fake GitHub.
#[derive(Clone)]
pub struct FakeGithub {
    pub base: String,
    state: Arc<Mutex<GithubState>>,
}

impl FakeGithub {
    /// Starts the fake, signed in as `octocat` (id 583231) with a primary verified address.
    pub async fn start() -> Self {
        let (base, acceptor) = flow::bind().await;
        let state = Arc::new(Mutex::new(GithubState {
            flow: Flow::default(),
            user: GithubUser {
                id: 583_231,
                login: "octocat".into(),
                name: Some("The Octocat".into()),
                emails: vec![("octocat@example.com".into(), true, true)],
            },
            tokens: HashSet::new(),
            down: false,
        }));
        let shared = state.clone();
        let endpoint = poem::endpoint::make(move |req: Request| {
            let shared = shared.clone();
            async move { github_answer(&shared, req).await }
        });
        tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
        Self { base, state }
    }

    /// Environment that points the service at this GitHub.
    pub fn env(&self) -> Vec<(String, String)> {
        crate::helpers::pairs(&[
            ("OAUTH_GITHUB_CLIENT_ID", GITHUB_CLIENT_ID),
            ("OAUTH_GITHUB_CLIENT_SECRET", GITHUB_CLIENT_SECRET),
            (
                "OAUTH_GITHUB_AUTHORIZE_URL",
                &format!("{}/login/oauth/authorize", self.base),
            ),
            (
                "OAUTH_GITHUB_TOKEN_URL",
                &format!("{}/login/oauth/access_token", self.base),
            ),
            ("OAUTH_GITHUB_API_URL", &format!("{}/api/v3", self.base)),
        ])
    }

    /// The account the next authorizations approve as; `emails` are `(address, primary,
    /// verified)`.
    pub fn set_user(
        &self,
        id: u64,
        login: &str,
        name: Option<&str>,
        emails: Vec<(&str, bool, bool)>,
    ) {
        self.state.lock().unwrap().user = GithubUser {
            id,
            login: login.into(),
            name: name.map(Into::into),
            emails: emails
                .into_iter()
                .map(|(email, primary, verified)| (email.into(), primary, verified))
                .collect(),
        };
    }

    /// Makes every endpoint answer 503.
    pub fn set_down(&self, down: bool) {
        self.state.lock().unwrap().down = down;
    }
}

async fn github_answer(state: &Arc<Mutex<GithubState>>, mut req: Request) -> Response {
    let body = req.take_body().into_bytes().await.unwrap_or_default();
    let mut state = state.lock().unwrap();
    if state.down {
        return Response::builder()
            .status(StatusCode::SERVICE_UNAVAILABLE)
            .finish();
    }
    let path = req.uri().path().to_string();
    match path.as_str() {
        "/login/oauth/authorize" => state.flow.authorize(&query_pairs(&req), GITHUB_CLIENT_ID),
        "/login/oauth/access_token" => {
            match state
                .flow
                .redeem(&req, &body, GITHUB_CLIENT_ID, GITHUB_CLIENT_SECRET)
            {
                Ok(_) => {
                    let token = format!("gho_{}", uuid::Uuid::new_v4().simple());
                    state.tokens.insert(token.clone());
                    answer_json(
                        StatusCode::OK,
                        &json!({
                            "access_token": token,
                            "token_type": "bearer",
                            "scope": "read:user,user:email",
                        }),
                    )
                }
                // GitHub answers refusals with 200 and an error object.
                Err(error) => answer_json(
                    StatusCode::OK,
                    &json!({ "error": error, "error_description": "refused by the fake" }),
                ),
            }
        }
        "/api/v3/user" | "/api/v3/user/emails" => {
            if !bearer(&req).is_some_and(|token| state.tokens.contains(token)) {
                return answer_json(
                    StatusCode::UNAUTHORIZED,
                    &json!({ "message": "Bad credentials" }),
                );
            }
            let user = &state.user;
            if path.ends_with("/emails") {
                let emails: Vec<_> = user
                    .emails
                    .iter()
                    .map(|(email, primary, verified)| {
                        json!({
                            "email": email,
                            "primary": primary,
                            "verified": verified,
                            "visibility": null,
                        })
                    })
                    .collect();
                answer_json(StatusCode::OK, &json!(emails))
            } else {
                answer_json(
                    StatusCode::OK,
                    &json!({ "id": user.id, "login": user.login, "name": user.name }),
                )
            }
        }
        _ => Response::builder().status(StatusCode::NOT_FOUND).finish(),
    }
}

/// Follows the authorization `url` once, without following the redirect, as a browser whose
/// user approves would: the `code` and `state` of the `Location` it is sent to.
pub async fn follow_authorize(url: &str) -> (String, String) {
    flow::install_crypto_provider();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let response = client.get(url).send().await.expect("authorize");
    assert_eq!(
        response.status(),
        reqwest::StatusCode::FOUND,
        "authorize answer"
    );
    let location = response
        .headers()
        .get("location")
        .and_then(|v| v.to_str().ok())
        .expect("location");
    let location = url::Url::parse(location).expect("location URL");
    let param = |name: &str| {
        location
            .query_pairs()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
            .unwrap_or_else(|| panic!("no {name} in the callback"))
    };
    (param("code"), param("state"))
}
