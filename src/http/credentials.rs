//! `/api/v2/credentials/` and copy. Handlers stay thin; the orchestration of a write
//! (parse → authorize → check references → domain rules → seal → one store transaction)
//! lives in the helper functions below them.

use super::auth::{Auth, AuthGeneration};
use super::error::{ApiError, ApiResult};
use super::extract::{JsonObject, QueryPairs};
use super::named::resolve;
use super::render::{self, CredentialContext};
use super::{created, list_ids, method_not_allowed, page_response, AppState};
use crate::domain::activity::{credential_fields, diff, ActivityRecord};
use crate::domain::credential::{
    check_galaxy_owner, copy_name, creation_owner, parse_credential_body, prepare_inputs, Owner,
    PkValue, PreparedInputs, SecretAction, StoredInputs, WriteMode,
};
use crate::domain::errors::FieldErrors;
use crate::domain::named_url::NamedKind;
use crate::domain::rbac::{effective_level, Caller, Level};
use crate::domain::resource::CREDENTIAL;
use crate::store::sql::{Bind, Sql};
use crate::store::{CredentialRow, CredentialSave, CredentialTypeRow};
use axum::extract::{OriginalUri, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Json, Router};
use secrecy::SecretString;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v2/credentials/",
            get(list).post(create).fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/",
            get(detail)
                .put(put)
                .patch(patch)
                .delete(delete)
                .fallback(method_not_allowed),
        )
        .route(
            "/api/v2/credentials/{id}/copy/",
            get(can_copy).post(copy).fallback(method_not_allowed),
        )
}

/// The SQL restriction to credentials the caller may read.
pub(super) fn visibility(caller: &Caller) -> Sql {
    if caller.sees_everything() {
        return Sql::raw("1=1");
    }
    crate::store::readable_sql("credentials.id", "credential", caller.user_id)
}

/// A page of credentials within `scope`.
pub(super) async fn list_credentials(
    state: &AppState,
    caller: &Caller,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
) -> ApiResult<Json<Value>> {
    let level = super::role_level_scope(caller, q, "credentials.id", "credential")?;
    let scope = crate::store::sql::and_all(vec![scope, level]);
    let (page, req) = list_ids(state, &CREDENTIAL, scope, q).await?;
    let rows = state.store.credentials_by_ids(&page.ids).await?;
    let ctx = CredentialContext::load(&state.store, &rows, caller).await?;
    let results = rows
        .iter()
        .map(|c| render::credential(c, &ctx, caller, false))
        .collect();
    Ok(page_response(path, q, &page, &req, results))
}

/// The same page without the top-level `organization` key, as AWX renders the user and
/// team credential sub-lists.
pub(super) async fn list_credentials_without_organization(
    state: &AppState,
    caller: &Caller,
    path: &str,
    q: &QueryPairs,
    scope: Sql,
) -> ApiResult<Json<Value>> {
    let Json(mut page) = list_credentials(state, caller, path, q, scope).await?;
    if let Some(items) = page.get_mut("results").and_then(Value::as_array_mut) {
        for item in items.iter_mut().filter_map(Value::as_object_mut) {
            item.remove("organization");
        }
    }
    Ok(Json(page))
}

async fn list(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Extension(generation): Extension<AuthGeneration>,
    OriginalUri(uri): OriginalUri,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let q = QueryPairs::parse(raw.as_deref());
    let render = list_credentials(&state, &caller, uri.path(), &q, visibility(&caller));
    state
        .responses
        .json(generation, &caller, &uri.to_string(), render)
        .await
}

/// The caller's effective level on one credential.
pub(super) async fn level_on(
    state: &AppState,
    caller: &Caller,
    credential: i64,
) -> ApiResult<Level> {
    let held = if caller.is_superuser {
        Level::Admin
    } else {
        state
            .store
            .credential_levels(caller.user_id, &[credential])
            .await?
            .get(&credential)
            .copied()
            .unwrap_or(Level::None)
    };
    Ok(effective_level(caller, held))
}

/// Loads a credential the caller can at least read: 404 when missing, 403 when hidden.
pub(super) async fn load(
    state: &AppState,
    caller: &Caller,
    raw: &str,
) -> ApiResult<(CredentialRow, Level)> {
    let resolved = resolve(state, NamedKind::Credential, raw, "Credential").await?;
    let id = resolved.id;
    let row = state
        .store
        .credential(id)
        .await?
        .ok_or(ApiError::NotFound("Credential"))?;
    let level = level_on(state, caller, id).await?;
    if level == Level::None {
        return Err(resolved.hide(ApiError::Forbidden(None), "Credential"));
    }
    Ok((row, level))
}

pub(super) async fn render_detail(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Value> {
    let row = state
        .store
        .credential(id)
        .await?
        .ok_or(ApiError::NotFound("Credential"))?;
    render_row(state, caller, row).await
}

/// The detail representation of a row already loaded.
async fn render_row(state: &AppState, caller: &Caller, row: CredentialRow) -> ApiResult<Value> {
    let rows = [row];
    let ctx = CredentialContext::load(&state.store, &rows, caller).await?;
    Ok(rows
        .first()
        .map(|c| render::credential(c, &ctx, caller, true))
        .unwrap_or_default())
}

async fn detail(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Extension(generation): Extension<AuthGeneration>,
    OriginalUri(uri): OriginalUri,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> ApiResult<Response> {
    let render = render_requested(&state, &caller, &id, raw);
    state
        .responses
        .json(generation, &caller, &uri.to_string(), render)
        .await
}

/// The detail answer, or 404 when query filters exclude the credential.
async fn render_requested(
    state: &AppState,
    caller: &Caller,
    id: &str,
    raw: Option<String>,
) -> ApiResult<Json<Value>> {
    let (row, _) = load(state, caller, id).await?;
    let q = QueryPairs::parse(raw.as_deref());
    if q.0
        .iter()
        .any(|(k, _)| !crate::domain::filter::RESERVED.contains(&k.as_str()))
    {
        let scope = Sql::with("credentials.id = ?", vec![Bind::Int(row.id)]);
        let (page, _) = list_ids(state, &CREDENTIAL, scope, &q).await?;
        if page.count == 0 {
            return Err(ApiError::NotFound("Credential"));
        }
    }
    Ok(Json(render_row(state, caller, row).await?))
}

async fn create(
    State(state): State<AppState>,
    Auth(caller): Auth,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let id = create_credential(&state, &caller, &body, true).await?;
    Ok(created(
        &format!("/api/v2/credentials/{id}/"),
        render_detail(&state, &caller, id).await?,
    ))
}

async fn put(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let (row, level) = load(&state, &caller, &id).await?;
    update_credential(&state, &caller, &row, level, &body, WriteMode::Put).await?;
    Ok(Json(render_detail(&state, &caller, row.id).await?))
}

async fn patch(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Json<Value>> {
    let (row, level) = load(&state, &caller, &id).await?;
    update_credential(&state, &caller, &row, level, &body, WriteMode::Patch).await?;
    Ok(Json(render_detail(&state, &caller, row.id).await?))
}

async fn delete(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let (row, level) = load(&state, &caller, &id).await?;
    if level < Level::Admin {
        return Err(ApiError::Forbidden(None));
    }
    if row.managed {
        return Err(ApiError::Forbidden(Some(
            "Deletion not allowed for managed credentials".into(),
        )));
    }
    let fields = credential_fields(
        &row.name,
        &row.description,
        row.org_name.as_deref().zip(row.organization_id),
        (&row.type_name, row.credential_type_id),
    );
    let record = ActivityRecord::delete(Some(caller.user_id), "credential", row.id, fields);
    state.store.delete_credential(row.id, &record).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn can_copy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let (row, _) = load(&state, &caller, &id).await?;
    Ok(Json(
        json!({"can_copy": may_create_in(&state, &caller, row.organization_id).await?}),
    ))
}

async fn copy(
    State(state): State<AppState>,
    Auth(caller): Auth,
    Path(id): Path<String>,
    JsonObject(body): JsonObject,
) -> ApiResult<Response> {
    let (row, _) = load(&state, &caller, &id).await?;
    if !may_create_in(&state, &caller, row.organization_id).await? {
        return Err(ApiError::Forbidden(None));
    }
    let name = copy_name(&body, &row.name)?;
    let new_id = copy_credential(&state, &caller, &row, name).await?;
    Ok(created(
        &format!("/api/v2/credentials/{new_id}/"),
        render_detail(&state, &caller, new_id).await?,
    ))
}

// ---- orchestration ----

/// "Could create a credential in this organization": superusers, and org (credential)
/// admins; nobody else for personal credentials.
async fn may_create_in(state: &AppState, caller: &Caller, org: Option<i64>) -> ApiResult<bool> {
    if caller.is_superuser {
        return Ok(true);
    }
    match org {
        Some(o) => Ok(state
            .store
            .holds_role(caller.user_id, "organization", o, "credential_admin_role")
            .await?),
        None => Ok(false),
    }
}

/// The owner rule of §8.4 for non-superusers, checked on the raw body before any
/// validation (AWX answers 403 before 400): every owner given must be one the caller may
/// create for, and at least one must be given.
async fn check_create_permission(
    state: &AppState,
    caller: &Caller,
    body: &Map<String, Value>,
) -> ApiResult<()> {
    let mut any = false;
    for (field, model) in [
        ("organization", "Organization"),
        ("team", "Team"),
        ("user", "User"),
    ] {
        let Some(raw) = body.get(field).filter(|v| !v.is_null()) else {
            continue;
        };
        any = true;
        let id = raw
            .as_i64()
            .or_else(|| raw.as_str().and_then(|s| s.trim().parse().ok()))
            .ok_or_else(|| {
                ApiError::BadRequest(json!(format!("Bad data found in related field {field}.")))
            })?;
        let missing =
            || ApiError::BadRequest(json!(format!("{model} matching query does not exist.")));
        let allowed = match field {
            "organization" => {
                state.store.organization(id).await?.ok_or_else(missing)?;
                may_create_in(state, caller, Some(id)).await?
            }
            "team" => {
                state.store.team(id).await?.ok_or_else(missing)?;
                state
                    .store
                    .holds_role(caller.user_id, "team", id, "admin_role")
                    .await?
            }
            _ => {
                let user = state.store.user(id).await?.ok_or_else(missing)?;
                id == caller.user_id || super::users::may_admin(state, caller, &user).await?
            }
        };
        if !allowed {
            return Err(ApiError::Forbidden(None));
        }
    }
    if any {
        Ok(())
    } else {
        Err(ApiError::Forbidden(None))
    }
}

fn invalid_pk(errors: &mut FieldErrors, field: &str, id: i64) {
    errors.add(
        field,
        format!("Invalid pk \"{id}\" - object does not exist."),
    );
}

/// Checks that referenced rows exist; returns the credential type.
async fn check_references(
    state: &AppState,
    type_id: i64,
    org: Option<i64>,
    user: PkValue,
    team: PkValue,
) -> ApiResult<(CredentialTypeRow, Option<i64>)> {
    let mut errors = FieldErrors::new();
    let ty = state.store.credential_type(type_id).await?;
    if ty.is_none() {
        invalid_pk(&mut errors, "credential_type", type_id);
    }
    if let Some(o) = org {
        if state.store.organization(o).await?.is_none() {
            invalid_pk(&mut errors, "organization", o);
        }
    }
    if let PkValue::Id(u) = user {
        if state.store.user(u).await?.is_none() {
            invalid_pk(&mut errors, "user", u);
        }
    }
    let mut team_org = None;
    if let PkValue::Id(t) = team {
        match state.store.team(t).await? {
            Some(row) => team_org = Some(row.organization_id),
            None => invalid_pk(&mut errors, "team", t),
        }
    }
    errors.into_result()?;
    let ty = ty.ok_or(ApiError::NotFound("CredentialType"))?;
    Ok((ty, team_org))
}

/// A credential's permanent identity, which its secrets are sealed for: 48 bits of
/// milliseconds then 80 random bits. Starting with the time puts new ids at the end of
/// the unique index, on the page the previous create already wrote, instead of on a
/// random page of it.
fn new_uid() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    let millis = chrono::Utc::now().timestamp_millis().to_be_bytes();
    bytes[..6].copy_from_slice(&millis[2..]);
    rand::rngs::OsRng.fill_bytes(&mut bytes[6..]);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Public inputs as stored, new envelopes, and the secret fields kept as they are.
struct Sealed {
    inputs: String,
    new_secrets: Vec<(String, u32, Vec<u8>)>,
    kept_secrets: Vec<String>,
}

/// Seals every new secret for `uid`; lists the kept ones.
fn seal(state: &AppState, uid: &str, prepared: PreparedInputs) -> ApiResult<Sealed> {
    let mut new = Vec::new();
    let mut kept = Vec::new();
    for (field, action) in prepared.secrets {
        match action {
            SecretAction::Keep => kept.push(field),
            SecretAction::Set(value) => {
                let (version, ct) = state.keys.seal(uid, &field, &value)?;
                new.push((field, version, ct));
            }
        }
    }
    Ok(Sealed {
        inputs: Value::Object(prepared.public).to_string(),
        new_secrets: new,
        kept_secrets: kept,
    })
}

/// Creates a credential from a request body. `creator_grant` is false on the user, team
/// and organization sub-lists, which (as in AWX) do not add the creator's admin role.
pub(super) async fn create_credential(
    state: &AppState,
    caller: &Caller,
    body: &Map<String, Value>,
    creator_grant: bool,
) -> ApiResult<i64> {
    if !caller.is_superuser {
        check_create_permission(state, caller, body).await?;
    }
    let parsed = parse_credential_body(body, WriteMode::Create)?;
    let org = match parsed.organization {
        Some(PkValue::Id(o)) => Some(o),
        _ => None,
    };
    let type_id = match parsed.credential_type {
        Some(PkValue::Id(t)) => t,
        _ => {
            return Err(ApiError::Validation(
                FieldErrors::one("credential_type", "This field is required.").into_json(),
            ))
        }
    };
    let (ty, team_org) = check_references(state, type_id, org, parsed.user, parsed.team).await?;
    let owner = creation_owner(&parsed)?;
    let organization = if let Owner::Team(_) = owner {
        team_org
    } else {
        org
    };
    check_galaxy_owner(&ty.kind, org)?;
    let raw = parsed.inputs.clone().unwrap_or_else(|| json!({}));
    let prepared = prepare_inputs(&state.schemas.schema(&ty.inputs), ty.managed, &raw, None)?;
    let uid = new_uid();
    let Sealed {
        inputs,
        new_secrets,
        kept_secrets,
    } = seal(state, &uid, prepared)?;
    let save = CredentialSave {
        uid,
        name: parsed.name.unwrap_or_default(),
        description: parsed.description.unwrap_or_default(),
        organization_id: organization,
        credential_type_id: ty.id,
        managed: false,
        inputs,
        new_secrets,
        kept_secrets,
    };
    let needs_grant = match owner {
        Owner::User(u) => u != caller.user_id,
        Owner::Team(_) => true,
        Owner::Organization(_) => false,
    };
    let creator = (creator_grant && !caller.is_superuser && needs_grant).then_some(caller.user_id);
    let record = ActivityRecord::create(
        Some(caller.user_id),
        "credential",
        recorded(state, &save, &ty).await?,
    );
    Ok(state
        .store
        .create_credential(
            &save,
            Some(owner),
            Some(caller.user_id),
            creator,
            Some(&record),
        )
        .await?)
}

/// The fields the activity stream records for a credential about to be saved.
async fn recorded(
    state: &AppState,
    save: &CredentialSave,
    ty: &CredentialTypeRow,
) -> ApiResult<Map<String, Value>> {
    let org = match save.organization_id {
        Some(o) => state.store.organization(o).await?.map(|row| (row.name, o)),
        None => None,
    };
    Ok(credential_fields(
        &save.name,
        &save.description,
        org.as_ref().map(|(n, i)| (n.as_str(), *i)),
        (&ty.name, ty.id),
    ))
}

/// Decrypts a credential's secrets (for the rules that need stored values, and copy).
pub(super) async fn stored_secrets(
    state: &AppState,
    row: &CredentialRow,
) -> ApiResult<BTreeMap<String, SecretString>> {
    let mut out = BTreeMap::new();
    for s in state.store.credential_secrets(row.id).await? {
        out.insert(
            s.field.clone(),
            state.keys.open(&row.uid, &s.field, &s.ciphertext)?,
        );
    }
    Ok(out)
}

async fn update_credential(
    state: &AppState,
    caller: &Caller,
    row: &CredentialRow,
    level: Level,
    body: &Map<String, Value>,
    mode: WriteMode,
) -> ApiResult<()> {
    if level < Level::Admin {
        return Err(ApiError::Forbidden(None));
    }
    if row.managed {
        return Err(ApiError::Forbidden(Some(
            "Modifications not allowed for managed credentials".into(),
        )));
    }
    let parsed = parse_credential_body(body, mode)?;
    let org = match parsed.organization {
        None => row.organization_id,
        Some(PkValue::Id(o)) => Some(o),
        Some(PkValue::None) => None,
    };
    let type_id = match parsed.credential_type {
        Some(PkValue::Id(t)) => t,
        _ => row.credential_type_id,
    };
    let (ty, _) = check_references(state, type_id, org, PkValue::None, PkValue::None).await?;
    if org != row.organization_id && !caller.is_superuser {
        for o in [org, row.organization_id].into_iter().flatten() {
            if !may_create_in(state, caller, Some(o)).await? {
                return Err(ApiError::Forbidden(None));
            }
        }
    }
    if org.is_none() && row.organization_id.is_some() {
        check_galaxy_owner(&ty.kind, org)?;
    }
    let public: Map<String, Value> = serde_json::from_str(&row.inputs).unwrap_or_default();
    let raw = match (&parsed.inputs, mode) {
        (Some(v), _) => v.clone(),
        (None, WriteMode::Put) => json!({}),
        (None, _) => Value::Object(public.clone()),
    };
    let secrets = stored_secrets(state, row).await?;
    let stored = StoredInputs {
        public: &public,
        secrets: &secrets,
    };
    let prepared = prepare_inputs(
        &state.schemas.schema(&ty.inputs),
        ty.managed,
        &raw,
        Some(&stored),
    )?;
    let Sealed {
        inputs,
        new_secrets,
        kept_secrets,
    } = seal(state, &row.uid, prepared)?;
    let save = CredentialSave {
        uid: row.uid.clone(),
        name: parsed.name.unwrap_or_else(|| row.name.clone()),
        description: match (parsed.description, mode) {
            (Some(d), _) => d,
            (None, WriteMode::Put) => String::new(),
            (None, _) => row.description.clone(),
        },
        organization_id: org,
        credential_type_id: ty.id,
        managed: row.managed,
        inputs,
        new_secrets,
        kept_secrets,
    };
    let before = credential_fields(
        &row.name,
        &row.description,
        row.org_name.as_deref().zip(row.organization_id),
        (&row.type_name, row.credential_type_id),
    );
    let after = recorded(state, &save, &ty).await?;
    let inputs_changed = row.inputs != save.inputs
        || !save.new_secrets.is_empty()
        || save.kept_secrets.len() != secrets.len();
    let mut changes = diff(&before, &after);
    if inputs_changed {
        changes.insert("inputs".into(), json!(["hidden", "hidden"]));
    }
    let record = ActivityRecord::update_with(Some(caller.user_id), "credential", row.id, changes);
    state
        .store
        .update_credential(row.id, &save, Some(caller.user_id), record.as_ref())
        .await?;
    Ok(())
}

async fn copy_credential(
    state: &AppState,
    caller: &Caller,
    row: &CredentialRow,
    name: String,
) -> ApiResult<i64> {
    let secrets = stored_secrets(state, row).await?;
    let uid = new_uid();
    let mut new_secrets = Vec::new();
    for (field, value) in &secrets {
        let (version, ct) = state.keys.seal(&uid, field, value)?;
        new_secrets.push((field.clone(), version, ct));
    }
    let save = CredentialSave {
        uid,
        name,
        description: row.description.clone(),
        organization_id: row.organization_id,
        credential_type_id: row.credential_type_id,
        managed: false,
        inputs: row.inputs.clone(),
        new_secrets,
        kept_secrets: Vec::new(),
    };
    let creator = (!caller.is_superuser).then_some(caller.user_id);
    let ty = state
        .store
        .credential_type(row.credential_type_id)
        .await?
        .ok_or(ApiError::NotFound("CredentialType"))?;
    let record = ActivityRecord::create(
        Some(caller.user_id),
        "credential",
        recorded(state, &save, &ty).await?,
    );
    let id = state
        .store
        .create_credential(&save, None, Some(caller.user_id), creator, Some(&record))
        .await?;
    state
        .store
        .copy_input_sources(row.id, id, caller.user_id)
        .await?;
    Ok(id)
}

#[cfg(test)]
mod tests {
    use super::new_uid;

    #[test]
    fn uids_sort_in_creation_order_and_stay_unique() {
        let first = new_uid();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let second = new_uid();
        let same_millisecond = [new_uid(), new_uid()];
        assert!(first < second, "{first} then {second}");
        assert_ne!(same_millisecond[0], same_millisecond[1]);
        for uid in [&first, &second] {
            assert_eq!(uid.len(), 32);
            assert!(uid.bytes().all(|b| b.is_ascii_hexdigit()), "{uid}");
        }
    }
}
