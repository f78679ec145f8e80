//! Cost of authenticating one request with a JWT once the key set is cached.
//!
//! `cargo bench --bench auth -- [--calls 20000]`
//!
//! Starts a fake SSO on 127.0.0.1 (discovery + JWKS), warms the verifier's key cache with one
//! verification, then verifies RS256 and ES256 tokens one after another: first each token once
//! (the signature is checked), then 1,000 users' tokens over and over (as clients resend their
//! token on every request; the verification is remembered). Prints p50/p99/max in
//! microseconds. Also measures the whole `Authenticator` path (classification, size check,
//! verifier). Traffic stays on 127.0.0.1.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::arg;
use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use poem::listener::TcpAcceptor;
use poem::{Request, Response, Server};
use serde_json::json;
use study_mode_api::adapters::jwks::{JwksSettings, JwksVerifier};
use study_mode_api::app::auth::{Authenticator, Credential};
use study_mode_api::app::identity::tokens::{LocalVerifier, SessionCache, TokenIssuer, TokenKeys};
use study_mode_api::config::identity::SigningKey;
use study_mode_api::domain::identity::{RefreshTokenRecord, User};
use study_mode_api::domain::ports::{RefreshTokenStore, Rotation, StoreError, TokenVerifier};
use study_mode_api::domain::principal::Tier;

#[path = "../src/adapters/jwks/test_keys.rs"]
#[allow(dead_code)]
mod test_keys;

fn jwk(key: &EncodingKey, alg: Algorithm, kid: &str) -> Jwk {
    let mut jwk = Jwk::from_encoding_key(key, alg).expect("jwk");
    jwk.common.key_id = Some(kid.to_string());
    jwk
}

async fn fake_sso(keys: Vec<Jwk>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let body = serde_json::to_string(&JwkSet { keys }).expect("jwks");
    let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
    let endpoint = poem::endpoint::make(move |_: Request| {
        let body = body.clone();
        async move { Response::builder().body(body) }
    });
    tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
    base
}

/// Every session is alive; counts nothing (the re-check is cached for 30 s anyway).
struct AliveSessions;

#[async_trait::async_trait]
impl RefreshTokenStore for AliveSessions {
    async fn insert(&self, _: &RefreshTokenRecord) -> Result<(), StoreError> {
        Ok(())
    }
    async fn find(&self, _: &str) -> Result<Option<RefreshTokenRecord>, StoreError> {
        Ok(None)
    }
    async fn rotate(&self, _: &str, _: &RefreshTokenRecord) -> Result<Rotation, StoreError> {
        Ok(Rotation::Lost)
    }
    async fn revoke_family(
        &self,
        _: &str,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn revoke_user(
        &self,
        _: &str,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64, StoreError> {
        Ok(0)
    }
    async fn family_alive(
        &self,
        _: &str,
        _: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        Ok(true)
    }
}

/// Test-only Ed25519 key (PKCS#8 PEM).
const BENCH_ONLY_ED25519_PEM: &str = "-----BEGIN PRIVATE KEY-----
MC4CAQAwBQYDK2VwBCIEIJfCMo+Hew40y15J/BP3qKvkT//R5FATi6q3Tajz3VYS
-----END PRIVATE KEY-----
";

/// The own verifier over `signing`: p50/p99 of verifying 1,000 users' tokens over and over
/// (each user in one session, so the session re-check is a cache hit after the first).
async fn own_tokens(name: &str, signing: SigningKey, calls: usize) {
    let keys = TokenKeys::new(&signing).expect("keys");
    let issuer = TokenIssuer::new(
        keys.clone(),
        "https://api.bench".into(),
        std::time::Duration::from_secs(1_800),
    );
    let verifier = LocalVerifier::new(
        keys,
        "https://api.bench",
        Arc::new(AliveSessions),
        SessionCache::default(),
    );
    let signed: Vec<String> = (0..1_000)
        .map(|i| {
            let user = User {
                id: format!("usr_{i}"),
                email: Some("s@example.com".into()),
                email_verified: true,
                name: None,
                tier: Tier::Free,
                role: "student".into(),
                created_at: chrono::Utc::now(),
                disabled_at: None,
            };
            issuer
                .issue(&user, &format!("sid-{i}"))
                .expect("sign")
                .token
        })
        .collect();
    let mut took = Vec::with_capacity(calls);
    let mut errors = 0;
    for i in 0..calls {
        let started = Instant::now();
        if verifier.verify(&signed[i % signed.len()]).await.is_err() {
            errors += 1;
        }
        took.push(started.elapsed().as_nanos() as u64);
    }
    report(name, took, errors);
}

fn tokens(alg: Algorithm, kid: &str, key: &EncodingKey, count: usize) -> Vec<String> {
    let exp = chrono::Utc::now().timestamp() + 3_600;
    (0..count)
        .map(|i| {
            let mut header = Header::new(alg);
            header.kid = Some(kid.to_string());
            let claims = json!({"sub": format!("user-{i}"), "iss": "https://sso.bench",
                "aud": "study-mode", "exp": exp, "email": "s@example.com"});
            jsonwebtoken::encode(&header, &claims, key).expect("sign")
        })
        .collect()
}

fn report(name: &str, mut took: Vec<u64>, errors: usize) {
    took.sort_unstable();
    let at = |p: f64| took[((took.len() - 1) as f64 * p).round() as usize] as f64 / 1000.0;
    println!(
        "| {name} | {} | {:.1} | {:.1} | {:.1} | {errors} |",
        took.len(),
        at(0.5),
        at(0.99),
        at(1.0)
    );
}

fn main() {
    let calls: usize = arg("--calls", "20000").parse().unwrap_or(20_000);
    study_mode_api::bootstrap::install_tls_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let rsa = EncodingKey::from_rsa_pem(test_keys::TEST_ONLY_RSA_1_PRIVATE_PEM.as_bytes())
            .expect("rsa");
        let ec =
            EncodingKey::from_ec_pem(test_keys::TEST_ONLY_EC_1_PRIVATE_PEM.as_bytes()).expect("ec");
        let base = fake_sso(vec![
            jwk(&rsa, Algorithm::RS256, "rsa-1"),
            jwk(&ec, Algorithm::ES256, "ec-1"),
        ])
        .await;
        let verifier = Arc::new(
            JwksVerifier::new(JwksSettings {
                jwks_url: Some(base),
                issuer: Some("https://sso.bench".into()),
                audience: Some("study-mode".into()),
                ..JwksSettings::default()
            })
            .expect("verifier"),
        );
        let authenticator = Authenticator::new(Some(verifier.clone()), None, None);
        println!("| path | verifications | p50 µs | p99 µs | max µs | errors |");
        println!("|---|---|---|---|---|---|");
        for (name, alg, kid, key) in [
            (
                "JWKS verifier, RS256 (2048-bit)",
                Algorithm::RS256,
                "rsa-1",
                &rsa,
            ),
            (
                "JWKS verifier, ES256 (P-256)",
                Algorithm::ES256,
                "ec-1",
                &ec,
            ),
        ] {
            let signed = tokens(alg, kid, key, calls);
            verifier.verify(&signed[0]).await.expect("warm-up verifies");
            let mut took = Vec::with_capacity(calls);
            let mut errors = 0;
            for token in &signed {
                let started = Instant::now();
                if verifier.verify(token).await.is_err() {
                    errors += 1;
                }
                took.push(started.elapsed().as_nanos() as u64);
            }
            report(&format!("{name}, first sight of each token"), took, errors);
            // Real clients send the same token on every request until it expires.
            let mut took = Vec::with_capacity(calls);
            let mut errors = 0;
            for i in 0..calls {
                let token = &signed[i % 1_000];
                let started = Instant::now();
                if verifier.verify(token).await.is_err() {
                    errors += 1;
                }
                took.push(started.elapsed().as_nanos() as u64);
            }
            report(&format!("{name}, token seen before"), took, errors);
        }
        let signed = tokens(Algorithm::RS256, "rsa-1", &rsa, 1_000);
        let mut took = Vec::with_capacity(calls);
        let mut errors = 0;
        for i in 0..calls {
            let token = &signed[i % signed.len()];
            let started = Instant::now();
            if authenticator
                .authenticate(Credential::Bearer(token))
                .await
                .is_err()
            {
                errors += 1;
            }
            took.push(started.elapsed().as_nanos() as u64);
        }
        report(
            "Authenticator (bearer JWT RS256, 1,000 users' tokens)",
            took,
            errors,
        );
        own_tokens(
            "own access tokens, HS256, 1,000 users' tokens",
            SigningKey::Hmac {
                algorithm: Algorithm::HS256,
                secret: "bench-only-secret-0123456789-abcdefghijklmn".into(),
            },
            calls,
        )
        .await;
        own_tokens(
            "own access tokens, EdDSA, 1,000 users' tokens",
            SigningKey::Asymmetric {
                algorithm: Algorithm::EdDSA,
                pem: BENCH_ONLY_ED25519_PEM.into(),
                path: "bench".into(),
            },
            calls,
        )
        .await;
    });
}
