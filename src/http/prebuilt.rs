//! A JSON body serialised once and sent many times: the payload type behind responses whose
//! bytes are kept with the data they describe (cached lessons), documented in the spec as the
//! object they hold.

use std::marker::PhantomData;

use bytes::Bytes;
use poem::{IntoResponse, Response};
use poem_openapi::payload::Payload;
use poem_openapi::registry::{MetaSchemaRef, Registry};
use poem_openapi::types::{ToJSON, Type};

/// JSON bytes of a `T`, already serialised; the OpenAPI spec shows `T`'s schema.
pub struct PrebuiltJson<T> {
    body: Bytes,
    _schema: PhantomData<fn() -> T>,
}

impl<T: ToJSON> PrebuiltJson<T> {
    /// Serialises `value` exactly as `poem_openapi::payload::Json` would.
    pub fn serialise(value: &T) -> Bytes {
        // A `serde_json::Value` always serialises; the fallback is never taken.
        serde_json::to_vec(&value.to_json()).map_or_else(|_| Bytes::new(), Bytes::from)
    }
}

impl<T> PrebuiltJson<T> {
    /// Wraps bytes produced by [`PrebuiltJson::serialise`] (cloning `Bytes` copies nothing).
    pub fn new(body: Bytes) -> Self {
        Self {
            body,
            _schema: PhantomData,
        }
    }
}

impl<T: Type> Payload for PrebuiltJson<T> {
    const CONTENT_TYPE: &'static str = "application/json; charset=utf-8";

    fn schema_ref() -> MetaSchemaRef {
        T::schema_ref()
    }

    fn register(registry: &mut Registry) {
        T::register(registry);
    }
}

impl<T: Send> IntoResponse for PrebuiltJson<T> {
    fn into_response(self) -> Response {
        Response::builder()
            .content_type("application/json; charset=utf-8")
            .body(self.body)
    }
}
