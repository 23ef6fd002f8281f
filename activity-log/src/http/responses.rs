//! The failure responses several routes share, for their OpenAPI
//! annotations: each is an `application/problem+json` [`Problem`](super::Problem).

use std::collections::BTreeMap;
use utoipa::openapi::{ContentBuilder, Ref, RefOr, Response, ResponseBuilder};
use utoipa::IntoResponses;

fn problem(status: &str, description: &str) -> BTreeMap<String, RefOr<Response>> {
    let content = ContentBuilder::new().schema(Some(Ref::from_schema_name("Problem"))).build();
    let response = ResponseBuilder::new().description(description).content("application/problem+json", content).build();
    BTreeMap::from([(status.to_owned(), RefOr::T(response))])
}

macro_rules! problem_responses {
    ($($name:ident => $status:literal, $description:literal;)*) => {$(
        #[doc = concat!("`", $status, "`: ", $description, ".")]
        pub(crate) struct $name;

        impl IntoResponses for $name {
            fn responses() -> BTreeMap<String, RefOr<Response>> {
                problem($status, $description)
            }
        }
    )*};
}

problem_responses! {
    BadQuery => "400", "A query parameter is unknown or invalid";
    Unauthorized => "401", "No or bad credentials";
    ReadForbidden => "403", "Another tenant, or no read permission";
    ReadLimited => "429", "Over the read rate limit";
    WriteLimited => "429", "Over the write rate limit";
    StoreDown => "503", "The store is unavailable";
}
