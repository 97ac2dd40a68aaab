//! The activity stream page: the entries the viewer may see, newest first, filterable by
//! the kind of object, an operation and the user who acted.

use super::{error_page, render, Viewer};
use crate::http::{activity_stream, AppState};
use crate::service::activity;
use crate::service::lists::QueryPairs;
use crate::store::Scope;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde::{Deserialize, Serialize};

pub(super) fn routes() -> Router<AppState> {
    Router::new().route("/activity/", get(page))
}

/// Kinds of objects the filter offers (AWX's `object1` values).
const OBJECTS: [&str; 5] = [
    "credential",
    "credential_type",
    "organization",
    "team",
    "user",
];
const OPERATIONS: [&str; 7] = [
    "create",
    "update",
    "delete",
    "associate",
    "disassociate",
    "use",
    "test",
];
const PAGE_SIZE: i64 = 50;

#[derive(Debug, Default, Deserialize, Serialize)]
struct Filters {
    #[serde(default)]
    object: String,
    #[serde(default)]
    operation: String,
    #[serde(default)]
    actor: String,
    page: Option<i64>,
}

impl Filters {
    fn api_query(&self) -> QueryPairs {
        let mut q = vec![
            ("page_size".to_string(), PAGE_SIZE.to_string()),
            ("order_by".into(), "-timestamp".into()),
            ("page".into(), self.page.unwrap_or(1).max(1).to_string()),
        ];
        if OBJECTS.contains(&self.object.as_str()) {
            q.push(("object1".into(), self.object.clone()));
        }
        if OPERATIONS.contains(&self.operation.as_str()) {
            q.push(("operation".into(), self.operation.clone()));
        }
        if !self.actor.trim().is_empty() {
            q.push(("actor__username".into(), self.actor.trim().into()));
        }
        QueryPairs(q)
    }

    fn page_link(&self, page: i64) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("object", &self.object),
            ("operation", &self.operation),
            ("actor", &self.actor),
        ] {
            if !value.is_empty() {
                pairs.append_pair(key, value);
            }
        }
        pairs.append_pair("page", &page.to_string());
        format!("/activity/?{}", pairs.finish())
    }
}

async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(filters): Query<Filters>,
) -> Response {
    let q = filters.api_query();
    let (page, req, entries) =
        match activity::list(&state.ctx, &viewer.caller, Scope::All, &q).await {
            Ok(found) => found,
            Err(e) => return error_page(&viewer, e),
        };
    let rows = match activity_stream::render(&entries) {
        Ok(rows) => rows,
        Err(e) => return error_page(&viewer, e),
    };
    let pages = super::pager(&page, req.size, |p| filters.page_link(p));
    render(
        StatusCode::OK,
        "activity.html",
        context! {
            frame => viewer.frame(),
            rows => rows,
            count => page.count,
            paging => pages,
            filters => filters,
            objects => OBJECTS,
            operations => OPERATIONS,
        },
    )
}
