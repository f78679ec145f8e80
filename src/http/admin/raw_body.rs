//! A request body taken as raw bytes whatever its `Content-Type`, documented as JSON.
//!
//! Webhook signatures cover the exact bytes sent, and the purge workflow's `curl` posts
//! without `Content-Type: application/json` (or with no body at all), so a JSON payload
//! extractor, which parses and insists on the content type, does not fit either.

use std::marker::PhantomData;

use poem::{FromRequest, Request, RequestBody};
use poem_openapi::registry::{MetaMediaType, MetaRequest, Registry};
use poem_openapi::types::Type;
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

/// The raw body; `T` only describes it in the spec. `REQUIRED` says whether the spec marks
/// the body as required (an empty body is accepted either way and left to the handler).
pub struct RawJson<T, const REQUIRED: bool = true> {
    /// The bytes as received (already bounded by the body-size limit).
    pub bytes: Vec<u8>,
    _schema: PhantomData<fn() -> T>,
}

impl<T, const REQUIRED: bool> RawJson<T, REQUIRED> {
    /// A body of `bytes` (tests).
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            bytes,
            _schema: PhantomData,
        }
    }
}

impl<'a, T: Type, const REQUIRED: bool> ApiExtractor<'a> for RawJson<T, REQUIRED> {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::RequestObject];

    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        T::register(registry);
    }

    fn request_meta() -> Option<MetaRequest> {
        Some(MetaRequest {
            description: None,
            content: vec![MetaMediaType {
                content_type: "application/json",
                schema: T::schema_ref(),
            }],
            required: REQUIRED,
        })
    }

    async fn from_request(
        request: &'a Request,
        body: &mut RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(Self::new(
            <Vec<u8> as FromRequest>::from_request(request, body).await?,
        ))
    }
}
