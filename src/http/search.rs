//! `GET /v1/book/search`: passages of the synced book ranked for a question.

use std::sync::Arc;

use poem::Request;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};

use super::error::{ApiError, configured};
use super::tags::ApiTags;
use crate::app::search::{MAX_RESULTS, SearchError, SearchService};
use crate::domain::ports::StoreError;
use crate::domain::rate_limit::Bucket;
use crate::domain::search::{MAX_QUERY_CHARS, Passage};

/// Passages returned when `limit` is left out.
pub const DEFAULT_RESULTS: u32 = 10;

/// The book search endpoint.
pub struct SearchApi {
    /// `None` only in the instance built to print the spec.
    search: Option<Arc<SearchService>>,
}

impl SearchApi {
    /// The endpoint over `search` (`None`: spec generation only).
    pub fn new(search: Option<Arc<SearchService>>) -> Self {
        Self { search }
    }
}

impl From<SearchError> for ApiError {
    fn from(e: SearchError) -> Self {
        match e {
            SearchError::Unavailable => StoreError::Unavailable.into(),
            SearchError::Unexpected(e) => {
                tracing::error!(error = ?e, "book search failed");
                ApiError::internal()
            }
        }
    }
}

/// One passage found.
#[derive(Debug, Clone, Object)]
pub struct SearchResultOut {
    /// The lesson it belongs to.
    pub path: String,
    /// The lesson's title.
    pub lesson_title: String,
    /// Position of the section in the lesson, from 0.
    pub section_index: u32,
    /// The section's heading.
    pub section_title: String,
    /// Up to about 240 characters of the section around the matches: plain text,
    /// HTML-escaped, each matching word wrapped in `<mark>`…`</mark>`, `…` where text was cut.
    pub snippet: String,
    /// Relevance, higher is better; comparable within one answer only.
    pub score: f64,
}

impl From<Passage> for SearchResultOut {
    fn from(p: Passage) -> Self {
        Self {
            path: p.path.as_str().to_owned(),
            lesson_title: p.lesson_title,
            section_index: p.section_index,
            section_title: p.section_title,
            snippet: p.snippet,
            score: p.score,
        }
    }
}

/// What a search found.
#[derive(Debug, Clone, Object)]
pub struct SearchOut {
    /// The question, as asked.
    pub query: String,
    /// Best first; empty when nothing matches.
    pub results: Vec<SearchResultOut>,
    /// `full_text` (word matches only) or `hybrid` (word matches fused with vector
    /// similarity, when an embeddings model is configured and answered).
    pub mode: String,
}

/// `GET /v1/book/search` answers.
#[derive(ApiResponse)]
pub enum SearchResponse {
    /// The passages found.
    #[oai(status = 200)]
    Ok(Json<SearchOut>),
}

#[OpenApi(response_header(
    name = "X-Request-Id",
    ty = "String",
    description = "Request id, echoed or generated"
))]
impl SearchApi {
    /// Search the book
    ///
    /// Sections of the synced book that answer a question, best first: each with its lesson,
    /// headings and a highlighted snippet. A section matching any of the question's words
    /// (common words like "what" or "the" aside) is found, more and rarer words ranking
    /// higher; with an embeddings model configured (`EMBEDDINGS_MODEL`), sections similar in
    /// meaning are found too and the two rankings are fused (`mode: hybrid`). Empty until a
    /// sync ran.
    #[oai(
        path = "/v1/book/search",
        method = "get",
        operation_id = "searchBook",
        tag = "ApiTags::Book"
    )]
    async fn search(
        &self,
        req: &Request,
        /// The question or words to look for: 1 to 200 characters.
        q: Query<String>,
        /// Most passages returned: 1 to 50, 10 when left out.
        limit: Query<Option<u32>>,
    ) -> Result<SearchResponse, ApiError> {
        super::auth::caller(req, Bucket::Api).await?;
        let chars = q.0.chars().count();
        if chars == 0 || chars > MAX_QUERY_CHARS {
            return Err(ApiError::bad_request(
                "invalid_query",
                format!("q must be 1 to {MAX_QUERY_CHARS} characters"),
            ));
        }
        let limit = limit.0.unwrap_or(DEFAULT_RESULTS);
        if limit == 0 || limit > MAX_RESULTS {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("limit must be 1 to {MAX_RESULTS}"),
            ));
        }
        let search = configured(&self.search, "book search")?;
        let found = search.search_ranked(&q.0, limit).await?;
        Ok(SearchResponse::Ok(Json(SearchOut {
            query: q.0,
            results: found.passages.into_iter().map(Into::into).collect(),
            mode: found.mode.as_str().to_owned(),
        })))
    }
}
