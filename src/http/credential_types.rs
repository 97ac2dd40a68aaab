//! `/api/v2/credential_types/`: everyone reads, superusers write custom types.

use super::auth::Auth;
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::named::resolve;
use super::render::{self, People};
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::activity::{credential_type_fields, python_json, ActivityRecord};
use crate::domain::credential_type::{validate_type_write, TypeWrite};
use crate::domain::named_url::NamedKind;
use crate::domain::rbac::Caller;
use crate::domain::resource::CREDENTIAL_TYPE;
use crate::store::sql::Sql;
use crate::store::{CredentialTypeRow, NewCredentialType};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/credential_types/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credential_types/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credential_types/{id}/credentials/",
            get(credentials).fallback(method_not_allowed),
        )
}

async fn render_many(
    state: &AppState,
    ids: &[i64],
    caller: &Caller,
    detail: bool,
) -> ApiResult<Vec<Value>> {
    let rows = state.store.credential_types_by_ids(ids).await?;
    let people = People::load(
        &state.store,
        rows.iter().flat_map(|r| [r.created_by, r.modified_by]),
    )
    .await?;
    Ok(rows
        .iter()
        .map(|t| render::credential_type(t, &people, caller, detail))
        .collect())
}

async fn render_one(state: &AppState, id: i64, caller: &Caller) -> ApiResult<Value> {
    render_many(state, &[id], caller, true)
        .await?
        .pop()
        .ok_or(ApiError::NotFound("CredentialType"))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let q = QueryPairs::parse(raw.as_deref());
    let (page, req) = list_ids(&state, &CREDENTIAL_TYPE, Sql::raw("1=1"), &q).await?;
    let results = render_many(&state, &page.ids, &caller, false).await?;
    Ok(page_response(uri.path(), &q, &page, &req, results))
}

async fn load(state: &AppState, raw: &str) -> ApiResult<CredentialTypeRow> {
    let id = resolve(state, NamedKind::CredentialType, raw, "CredentialType")
        .await?
        .id;
    state
        .store
        .credential_type(id)
        .await?
        .ok_or(ApiError::NotFound("CredentialType"))
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let t = load(&state, &id).await?;
    Ok(Json(render_one(&state, t.id, &caller).await?))
}

fn stored(write: TypeWrite) -> NewCredentialType {
    NewCredentialType {
        name: write.name,
        description: write.description,
        kind: write.kind,
        inputs: write.inputs.to_string(),
        injectors: write.injectors.to_string(),
    }
}

/// The fields the activity stream records for a custom type.
fn recorded(t: &NewCredentialType) -> serde_json::Map<String, Value> {
    let as_python = |text: &str| python_json(&serde_json::from_str(text).unwrap_or_default());
    let (inputs, injectors) = (as_python(&t.inputs), as_python(&t.injectors));
    credential_type_fields(
        &t.name,
        &t.description,
        &t.kind,
        Some((&inputs, &injectors)),
    )
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    if !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    let write = validate_type_write(&body, None, false, false)?;
    let row = stored(write);
    let record = ActivityRecord::create(Some(caller.user_id), "credential_type", recorded(&row));
    let id = state
        .store
        .create_credential_type(&row, caller.user_id, &record)
        .await?;
    Ok(created(
        &format!("/api/v2/credential_types/{id}/"),
        render_one(&state, id, &caller).await?,
    ))
}

fn current_write(t: &CredentialTypeRow) -> TypeWrite {
    TypeWrite {
        name: t.name.clone(),
        description: t.description.clone(),
        kind: t.kind.clone(),
        inputs: serde_json::from_str(&t.inputs).unwrap_or_default(),
        injectors: serde_json::from_str(&t.injectors).unwrap_or_default(),
    }
}

async fn update(
    state: AppState,
    caller: Caller,
    id: &str,
    body: Map<String, Value>,
    partial: bool,
) -> ApiResult<Json<Value>> {
    let t = load(&state, id).await?;
    if !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    if t.managed {
        return Err(ApiError::Forbidden(Some(
            "Modifications not allowed for managed credential types".into(),
        )));
    }
    let in_use = state.store.credential_type_in_use(t.id).await?;
    let write = validate_type_write(&body, Some(&current_write(&t)), partial, in_use)?;
    let row = stored(write);
    let before = recorded(&stored(current_write(&t)));
    let record = ActivityRecord::update(
        Some(caller.user_id),
        "credential_type",
        t.id,
        &before,
        &recorded(&row),
    );
    state
        .store
        .update_credential_type(t.id, &row, caller.user_id, record.as_ref())
        .await?;
    Ok(Json(render_one(&state, t.id, &caller).await?))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, caller, &id, body, false).await
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    update(state, caller, &id, body, true).await
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let t = load(&state, &id).await?;
    if !caller.is_superuser {
        return Err(ApiError::Forbidden(None));
    }
    if t.managed {
        return Err(ApiError::Forbidden(Some(
            "Deletion not allowed for managed credential types".into(),
        )));
    }
    if state.store.credential_type_in_use(t.id).await? {
        return Err(ApiError::Forbidden(Some(
            "Credential types that are in use cannot be deleted".into(),
        )));
    }
    let record = ActivityRecord::delete(
        Some(caller.user_id),
        "credential_type",
        t.id,
        recorded(&stored(current_write(&t))),
    );
    state.store.delete_credential_type(t.id, &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The credentials of this type that the caller may read.
async fn credentials(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Json<Value>> {
    let t = load(&state, &id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    let scope = crate::store::sql::and_all(vec![
        Sql::with(
            "credentials.credential_type_id = ?",
            vec![crate::store::sql::Bind::Int(t.id)],
        ),
        super::credentials::visibility(&caller),
    ]);
    super::credentials::list_credentials(&state, &caller, uri.path(), &q, scope).await
}
