//! The own sign-in end to end, against fake GitHub and Google servers on loopback: the browser
//! flow, sessions (refresh, rotation, reuse, logout), refusals, keys, and the student's data.

mod data;
mod flow;
mod keys;
mod outage;
mod refusals;
mod sessions;

use reqwest::header::{COOKIE, LOCATION, ORIGIN, SET_COOKIE};
use serde_json::{Value, json};

use crate::chatkit_client::lessons_dir;
use crate::fake_oauth::{FakeGithub, FakeGoogle, follow_authorize};
use crate::helpers::{TestApp, pairs, spawn_app_with, spawn_with_config, test_config};

/// Test-only HS256 secret (≥ 32 bytes).
pub const SECRET: &str = "test-only-hs256-secret-0123456789-abcdefghij";

/// The front end the sign-in returns to (the default `ALLOWED_ORIGINS`).
pub const FRONT_END: &str = "http://localhost:3000";

/// A service with its own sign-in through the two fakes.
pub struct Auth {
    pub app: TestApp,
    pub github: FakeGithub,
    pub google: FakeGoogle,
    /// Follows no redirects: the test looks at each one.
    pub http: reqwest::Client,
    /// The variables the service was started with (database aside).
    pub vars: Vec<(String, String)>,
}

/// What a finished sign-in left in the browser.
#[derive(Debug, Clone)]
pub struct Browser {
    /// The `sm_refresh` cookie value.
    pub refresh_cookie: String,
    /// Where the callback sent the browser.
    pub landed_at: String,
}

/// `base` with `pairs` as its query string.
pub fn with_query(base: &str, pairs: &[(&str, &str)]) -> String {
    url::Url::parse_with_params(base, pairs)
        .expect("valid URL")
        .to_string()
}

/// The value cookie `name` gets in `resp`'s `Set-Cookie` headers, with its attributes.
pub fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<(String, String)> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|header| {
            let (pair, attributes) = header.split_once(';').unwrap_or((header, ""));
            let (key, value) = pair.split_once('=')?;
            (key == name).then(|| (value.to_string(), attributes.to_string()))
        })
}

impl Auth {
    /// GitHub and Google on, HS256, plus `extra` variables.
    pub async fn start(extra: &[(&str, &str)]) -> Self {
        let github = FakeGithub::start().await;
        let google = FakeGoogle::start().await;
        github.set_user(
            1001,
            "ada",
            Some("Ada Lovelace"),
            vec![("ada@example.org", true, true)],
        );
        google.set_user(
            "g-1001",
            Some("grace@example.org"),
            true,
            Some("Grace Hopper"),
        );
        let mut vars = pairs(&[
            ("OAUTH2_PROVIDERS", "github,google"),
            ("JWT_SECRET_KEY", SECRET),
            ("LESSONS_DIR", &lessons_dir()),
        ]);
        vars.extend(github.env());
        vars.extend(google.env());
        vars.retain(|(name, _)| !extra.iter().any(|(k, _)| k == name));
        vars.extend(pairs(extra));
        // A database of the test's own (Postgres through a proxy) or a fresh SQLite one.
        let app = if vars.iter().any(|(k, _)| k == "DATABASE_URL") {
            spawn_with_config(test_config(vars.clone())).await
        } else {
            spawn_app_with(vars.clone()).await
        };
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            app,
            github,
            google,
            http,
            vars,
        }
    }

    /// The URL of the service's database.
    pub fn database_url(&self) -> String {
        if let Some((_, url)) = self.vars.iter().find(|(k, _)| k == "DATABASE_URL") {
            return url.clone();
        }
        let dir = self.app._dir.as_ref().expect("SQLite folder");
        format!(
            "sqlite://{}/nested/app.sqlite?mode=rwc",
            dir.path().display()
        )
    }

    /// A second replica of the service on the same database and keys.
    pub async fn replica(&self) -> TestApp {
        let mut vars = self.vars.clone();
        vars.retain(|(k, _)| k != "DATABASE_URL");
        vars.push(("DATABASE_URL".into(), self.database_url()));
        spawn_with_config(test_config(vars)).await
    }

    /// `GET /auth/{provider}/login[?redirect_to=…]`, not followed.
    pub async fn login(&self, provider: &str, redirect_to: Option<&str>) -> reqwest::Response {
        let base = self.app.url(&format!("/auth/{provider}/login"));
        let url = match redirect_to {
            Some(to) => with_query(&base, &[("redirect_to", to)]),
            None => base,
        };
        self.http.get(url).send().await.expect("login answers")
    }

    /// Starts a sign-in: the provider URL and the `sm_signin` cookie.
    pub async fn begin(&self, provider: &str) -> (String, String) {
        let resp = self
            .login(provider, Some(&format!("{FRONT_END}/lesson")))
            .await;
        assert_eq!(resp.status(), 302, "login redirects to the provider");
        let location = resp.headers()[LOCATION].to_str().unwrap().to_string();
        let (cookie, attributes) = set_cookie(&resp, "sm_signin").expect("sign-in cookie");
        assert!(attributes.contains("HttpOnly"), "{attributes}");
        (location, cookie)
    }

    /// `GET /auth/{provider}/callback?code&state` with the sign-in cookie.
    pub async fn callback(
        &self,
        provider: &str,
        code: &str,
        state: &str,
        cookie: Option<&str>,
    ) -> reqwest::Response {
        let url = with_query(
            &self.app.url(&format!("/auth/{provider}/callback")),
            &[("code", code), ("state", state)],
        );
        let mut req = self.http.get(url);
        if let Some(cookie) = cookie {
            req = req.header(COOKIE, format!("sm_signin={cookie}"));
        }
        req.send().await.expect("callback answers")
    }

    /// The whole browser sign-in at `provider`.
    pub async fn sign_in(&self, provider: &str) -> Browser {
        let (location, cookie) = self.begin(provider).await;
        let (code, state) = follow_authorize(&location).await;
        let resp = self.callback(provider, &code, &state, Some(&cookie)).await;
        assert_eq!(resp.status(), 302, "callback redirects back");
        let landed_at = resp.headers()[LOCATION].to_str().unwrap().to_string();
        let (refresh_cookie, attributes) = set_cookie(&resp, "sm_refresh").expect("refresh cookie");
        assert!(attributes.contains("HttpOnly"), "{attributes}");
        assert!(attributes.contains("SameSite=Strict"), "{attributes}");
        assert!(attributes.contains("Path=/auth"), "{attributes}");
        Browser {
            refresh_cookie,
            landed_at,
        }
    }

    /// `POST /auth/refresh` as the front end, with the cookie: status, body, the new cookie.
    pub async fn refresh_cookie(&self, cookie: &str) -> (u16, Value, Option<String>) {
        let resp = self
            .http
            .post(self.app.url("/auth/refresh"))
            .header(COOKIE, format!("sm_refresh={cookie}"))
            .header(ORIGIN, FRONT_END)
            .json(&json!({}))
            .send()
            .await
            .expect("refresh answers");
        let status = resp.status().as_u16();
        let cookie = set_cookie(&resp, "sm_refresh").map(|(value, _)| value);
        (status, resp.json().await.expect("JSON"), cookie)
    }

    /// `POST /auth/refresh` as a CLI, with the token in the body.
    pub async fn refresh_body(&self, token: &str) -> (u16, Value) {
        let resp = self
            .http
            .post(self.app.url("/auth/refresh"))
            .json(&json!({ "refresh_token": token }))
            .send()
            .await
            .expect("refresh answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.expect("JSON"))
    }

    /// A signed-in session: its access token and current refresh token (the cookie's value,
    /// which a CLI would hold in its own storage).
    pub async fn tokens(&self, provider: &str) -> (String, String) {
        let browser = self.sign_in(provider).await;
        let (status, body, cookie) = self.refresh_cookie(&browser.refresh_cookie).await;
        assert_eq!(status, 200, "{body}");
        assert!(
            body.get("refresh_token").is_none(),
            "browsers never see it: {body}"
        );
        (
            body["access_token"].as_str().unwrap().to_string(),
            cookie.expect("rotated cookie"),
        )
    }

    /// `GET path` with a bearer token: status and body.
    pub async fn get_as(&self, token: &str, path: &str) -> (u16, Value) {
        let resp = self
            .http
            .get(self.app.url(path))
            .bearer_auth(token)
            .send()
            .await
            .expect("answers");
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(Value::Null))
    }
}
