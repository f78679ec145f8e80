//! The book's listing from GitHub in one call: the git trees API, recursive, for the branch,
//! filtered to the docs prefix. Each entry's version is its blob SHA, so a sync skips unchanged
//! lessons without downloading them.

use std::time::Duration;

use anyhow::{Context, bail};
use async_trait::async_trait;
use reqwest::Client;
use reqwest::header::{ACCEPT, AUTHORIZATION, HeaderValue};
use secrecy::SecretString;
use serde::Deserialize;

use super::{http_client, rate_limit_refusal, token_header, transport_error};
use crate::domain::book::{MAX_BOOK_LESSONS, lesson_path_of_file};
use crate::domain::ports::{CatalogEntry, LessonCatalog, LessonSourceError};

/// Largest tree answer read (GitHub itself truncates trees past about 7 MB).
const MAX_TREE_BYTES: usize = 16 * 1024 * 1024;

/// Where the book's repository is, for listing.
#[derive(Debug, Clone)]
pub struct CatalogSettings {
    /// REST API base, `https://api.github.com` (`GITHUB_API_BASE_URL`).
    pub api_base_url: String,
    /// `owner/name`.
    pub repo: String,
    /// Branch.
    pub branch: String,
    /// Folder of the lessons in the repository.
    pub docs_prefix: String,
    /// Token, sent as `Authorization: token …`, never logged.
    pub token: Option<SecretString>,
}

/// [`LessonCatalog`] over GitHub's git trees API.
pub struct GithubCatalog {
    client: Client,
    url: String,
    prefix: String,
    authorization: Option<HeaderValue>,
}

impl std::fmt::Debug for GithubCatalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GithubCatalog")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct Tree {
    #[serde(default)]
    tree: Vec<TreeEntry>,
    #[serde(default)]
    truncated: bool,
}

#[derive(Deserialize)]
struct TreeEntry {
    path: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    sha: String,
}

impl GithubCatalog {
    /// The catalog and its HTTP client (3 s connect, `total` for the whole answer).
    ///
    /// # Errors
    /// When the base URL is not http(s), the repository or branch is empty, or the token
    /// cannot be a header.
    pub fn new(settings: CatalogSettings, total: Duration) -> anyhow::Result<Self> {
        let base = settings.api_base_url.trim().trim_end_matches('/');
        let parsed = url::Url::parse(base).context("GitHub API base URL is not a URL")?;
        if !matches!(parsed.scheme(), "http" | "https") {
            bail!("GitHub API base URL must be http or https");
        }
        let repo = settings.repo.trim().trim_matches('/');
        let branch = settings.branch.trim().trim_matches('/');
        if repo.is_empty() || branch.is_empty() {
            bail!("GitHub repository and branch must not be empty");
        }
        let authorization = token_header(settings.token.as_ref())?;
        let client = http_client(
            super::CONNECT_TIMEOUT,
            total,
            reqwest::redirect::Policy::default(),
        )?;
        let prefix = settings.docs_prefix.trim().trim_matches('/');
        Ok(Self {
            client,
            url: format!("{base}/repos/{repo}/git/trees/{branch}?recursive=1"),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            authorization,
        })
    }

    async fn fetch_tree(&self) -> Result<Tree, LessonSourceError> {
        let mut request = self
            .client
            .get(&self.url)
            .header(ACCEPT, "application/vnd.github+json");
        if let Some(value) = &self.authorization {
            request = request.header(AUTHORIZATION, value.clone());
        }
        let mut response = request.send().await.map_err(transport_error)?;
        let status = response.status();
        if let Some(refusal) = rate_limit_refusal(status, response.headers()) {
            return Err(refusal);
        }
        if !status.is_success() {
            return Err(LessonSourceError::Unavailable(format!(
                "GitHub trees answered {}",
                status.as_u16()
            )));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport_error)? {
            if body.len() + chunk.len() > MAX_TREE_BYTES {
                return Err(LessonSourceError::Unavailable(
                    "GitHub tree larger than 16 MiB".into(),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|_| {
            LessonSourceError::Unavailable("GitHub tree is not the JSON expected".into())
        })
    }
}

#[async_trait]
impl LessonCatalog for GithubCatalog {
    async fn list(&self) -> Result<Vec<CatalogEntry>, LessonSourceError> {
        let tree = self.fetch_tree().await?;
        if tree.truncated {
            tracing::warn!("GitHub truncated the book's tree: some lessons are not listed");
        }
        let mut listed: Vec<CatalogEntry> = tree
            .tree
            .into_iter()
            .filter(|e| e.kind == "blob")
            .filter_map(|e| {
                let relative = e.path.strip_prefix(self.prefix.as_str())?;
                let path = lesson_path_of_file(relative)?;
                Some(CatalogEntry {
                    path,
                    version: e.sha.chars().take(64).collect(),
                })
            })
            .collect();
        if listed.len() > MAX_BOOK_LESSONS {
            tracing::warn!(
                limit = MAX_BOOK_LESSONS,
                "the book lists more lessons than the limit"
            );
            listed.truncate(MAX_BOOK_LESSONS);
        }
        listed.sort_by(|a, b| a.path.as_str().cmp(b.path.as_str()));
        listed.dedup_by(|later, first| later.path == first.path);
        Ok(listed)
    }
}

#[cfg(test)]
mod tests {
    use poem::listener::TcpAcceptor;
    use poem::{Request, Response, Server};
    use serde_json::json;

    use super::*;

    async fn serve(status: u16, body: serde_json::Value) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let acceptor = TcpAcceptor::from_tokio(listener).expect("acceptor");
        let endpoint = poem::endpoint::make(move |req: Request| {
            let body = body.to_string();
            let path = req.uri().to_string();
            async move {
                if path != "/repos/o/book/git/trees/main?recursive=1" {
                    return Response::builder()
                        .status(poem::http::StatusCode::NOT_FOUND)
                        .finish();
                }
                Response::builder()
                    .status(poem::http::StatusCode::from_u16(status).expect("status"))
                    .body(body)
            }
        });
        tokio::spawn(Server::new_with_acceptor(acceptor).run(endpoint));
        base
    }

    fn catalog(base: String) -> GithubCatalog {
        GithubCatalog::new(
            CatalogSettings {
                api_base_url: base,
                repo: "o/book".into(),
                branch: "main".into(),
                docs_prefix: "apps/docs".into(),
                token: None,
            },
            Duration::from_secs(5),
        )
        .expect("catalog")
    }

    #[tokio::test]
    async fn the_tree_gives_every_lesson_under_the_prefix_with_its_blob_sha() {
        let base = serve(
            200,
            json!({"sha": "t", "truncated": false, "tree": [
                {"path": "apps/docs/01-A", "type": "tree", "sha": "d1"},
                {"path": "apps/docs/01-A/02-two.mdx", "type": "blob", "sha": "s2"},
                {"path": "apps/docs/01-A/01-one.md", "type": "blob", "sha": "s1"},
                {"path": "apps/docs/01-A/pic.png", "type": "blob", "sha": "p"},
                {"path": "README.md", "type": "blob", "sha": "r"},
                {"path": "apps/other/x.md", "type": "blob", "sha": "x"}
            ]}),
        )
        .await;
        let listed = catalog(base).list().await.expect("listed");
        let got: Vec<(&str, &str)> = listed
            .iter()
            .map(|e| (e.path.as_str(), e.version.as_str()))
            .collect();
        assert_eq!(got, [("01-A/01-one", "s1"), ("01-A/02-two", "s2")]);
    }

    #[tokio::test]
    async fn failures_and_throttling_are_typed() {
        let down = catalog(serve(500, json!({})).await).list().await;
        assert!(matches!(down, Err(LessonSourceError::Unavailable(_))));
        let garbage = catalog(serve(200, json!("not a tree")).await).list().await;
        assert!(matches!(garbage, Err(LessonSourceError::Unavailable(_))));
        let throttled = catalog(serve(429, json!({})).await).list().await;
        assert!(matches!(throttled, Err(LessonSourceError::Backoff { .. })));
    }
}
