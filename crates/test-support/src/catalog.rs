//! A catalog that answers `DS <child>` from the parent zone.
//!
//! RFC 4035 §3.1.4.1: "The DS resource record type is unusual in that it
//! appears only on the upper side of a zone cut". A plain hickory `Catalog`
//! picks the longest matching zone, so it would answer `DS child.` from the
//! child zone (NODATA) and every chain of trust would break.

use std::collections::HashMap;

use hickory_proto::rr::{LowerName, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::Catalog;

pub(crate) struct DsAwareCatalog {
    /// Every zone.
    pub(crate) all: Catalog,
    /// For each non-root zone origin: every zone except that one, so the
    /// longest match for the origin is its parent.
    pub(crate) without_child: HashMap<LowerName, Catalog>,
}

#[async_trait::async_trait]
impl RequestHandler for DsAwareCatalog {
    async fn handle_request<R: ResponseHandler, T: Time>(&self, request: &Request, response_handle: R) -> ResponseInfo {
        if let Ok(info) = request.request_info()
            && info.query.query_type() == RecordType::DS
            && let Some(parent) = self.without_child.get(info.query.name())
        {
            return parent.handle_request::<R, T>(request, response_handle).await;
        }
        self.all.handle_request::<R, T>(request, response_handle).await
    }
}
