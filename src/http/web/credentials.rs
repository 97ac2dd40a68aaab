//! Credential pages: the list (search, filters, ordering, paging), one credential (its
//! fields with secrets only as set/not set, who has access, its activity), the create
//! and edit forms generated from the type's inputs, copy and delete.

use super::form::{input_fields, inputs_from, Fields, FormErrors, InputField};
use super::{after_post, error_page, first_rows, render, Posted, Viewer};
use crate::domain::credential::WriteMode;
use crate::http::{activity_stream, credential_access, render as api, AppState};
use crate::service::activity::About;
use crate::service::lists::QueryPairs;
use crate::service::{activity, credential_types, credentials, teams};
use crate::store::{CredentialTypeRow, Scope};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use minijinja::context;
use serde::Deserialize;
use serde_json::{json, Map, Value};

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/credentials/", get(list))
        .route("/credentials/new/", get(new_form).post(create))
        .route("/credentials/{id}/", get(detail))
        .route("/credentials/{id}/edit/", get(edit_form).post(update))
        .route(
            "/credentials/{id}/delete/",
            get(confirm_delete).post(delete),
        )
        .route("/credentials/{id}/copy/", axum::routing::post(copy))
        .route("/credentials/{id}/access/", axum::routing::post(access))
}

/// Rows per page of the list.
const PAGE_SIZE: i64 = 25;
/// Orderings the list offers (field, label).
const ORDERINGS: [(&str, &str); 6] = [
    ("name", "Name"),
    ("-name", "Name, descending"),
    ("-modified", "Recently modified"),
    ("modified", "Least recently modified"),
    ("credential_type__name", "Type"),
    ("organization__name", "Organization"),
];

/// The list's controls, as the query string carries them.
#[derive(Debug, Default, Deserialize, serde::Serialize)]
struct ListQuery {
    #[serde(default)]
    search: String,
    #[serde(default)]
    credential_type: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    organization: String,
    #[serde(default)]
    order_by: String,
    page: Option<i64>,
}

impl ListQuery {
    /// The API query the list asks the use case for.
    fn api_query(&self) -> QueryPairs {
        let mut q = vec![("page_size".to_string(), PAGE_SIZE.to_string())];
        for (key, value) in [
            ("search", &self.search),
            ("credential_type", &self.credential_type),
            ("credential_type__kind", &self.kind),
            ("organization", &self.organization),
        ] {
            if !value.trim().is_empty() {
                q.push((key.into(), value.trim().into()));
            }
        }
        let order = if ORDERINGS.iter().any(|(o, _)| *o == self.order_by) {
            self.order_by.as_str()
        } else {
            "name"
        };
        q.push(("order_by".into(), format!("{order},id")));
        q.push(("page".into(), self.page.unwrap_or(1).max(1).to_string()));
        QueryPairs(q)
    }

    /// This query on another page, for the paging links.
    fn page_link(&self, page: i64) -> String {
        let mut pairs = form_urlencoded::Serializer::new(String::new());
        for (key, value) in [
            ("search", &self.search),
            ("credential_type", &self.credential_type),
            ("kind", &self.kind),
            ("organization", &self.organization),
            ("order_by", &self.order_by),
        ] {
            if !value.is_empty() {
                pairs.append_pair(key, value);
            }
        }
        pairs.append_pair("page", &page.to_string());
        format!("/credentials/?{}", pairs.finish())
    }
}

/// The types and organizations the filters and forms offer.
async fn choices(state: &AppState, viewer: &Viewer) -> Result<(Value, Value), Response> {
    let ctx = &state.ctx;
    let (_, _, types) = credential_types::list(ctx, &viewer.caller, &first_rows("name"))
        .await
        .map_err(|e| error_page(viewer, e))?;
    let types: Vec<Value> = types
        .rows
        .iter()
        .map(|t| json!({"id": t.id, "name": t.name, "kind": t.kind}))
        .collect();
    let orgs = super::organizations::options(state, viewer)
        .await
        .map_err(|e| error_page(viewer, e))?;
    Ok((Value::from(types), orgs))
}

async fn list(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(query): Query<ListQuery>,
) -> Response {
    let q = query.api_query();
    let listed = credentials::list(&state.ctx, &viewer.caller, Scope::All, &q).await;
    let (page, req, creds) = match listed {
        Ok(found) => found,
        Err(e) => return error_page(&viewer, e),
    };
    let rows: Result<Vec<Value>, _> = creds
        .rows
        .iter()
        .map(|c| api::credential(c, &creds, &viewer.caller, false))
        .collect();
    let rows = match rows {
        Ok(rows) => rows,
        Err(e) => return error_page(&viewer, e),
    };
    let (types, orgs) = match choices(&state, &viewer).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let pages = super::pager(&page, req.size, |p| query.page_link(p));
    render(
        StatusCode::OK,
        "credentials.html",
        context! {
            frame => viewer.frame(),
            rows => rows,
            count => page.count,
            paging => pages,
            query => query,
            types => types,
            orgs => orgs,
            kinds => crate::domain::credential_type::KINDS.map(|(k, l)| [k, l]),
            orderings => ORDERINGS.map(|(o, l)| [o, l]),
        },
    )
}

/// The API's answer for one credential, and its type.
async fn load(
    state: &AppState,
    viewer: &Viewer,
    id: &str,
) -> Result<(Value, CredentialTypeRow), Response> {
    let ctx = &state.ctx;
    let creds = credentials::detail(ctx, &viewer.caller, id, &QueryPairs::default())
        .await
        .map_err(|e| error_page(viewer, e))?;
    let Some(row) = creds.rows.first() else {
        return Err(error_page(
            viewer,
            crate::service::Error::NotFound("Credential"),
        ));
    };
    let shown =
        api::credential(row, &creds, &viewer.caller, true).map_err(|e| error_page(viewer, e))?;
    let ty = credential_types::by_id(ctx, row.credential_type_id)
        .await
        .map_err(|e| error_page(viewer, e))?;
    Ok((shown, ty))
}

/// The teams granted each of the credential's roles, for the page's revoke buttons.
async fn team_grants(state: &AppState, viewer: &Viewer, shown: &Value) -> Vec<Value> {
    let mut out = Vec::new();
    for field in ["admin_role", "use_role", "read_role"] {
        let role = &shown["summary_fields"]["object_roles"][field];
        let Some(id) = role["id"].as_i64() else {
            continue;
        };
        let q = first_rows("name");
        if let Ok((_, _, granted)) =
            teams::list_granted_role(&state.ctx, &viewer.caller, id, &q).await
        {
            for t in &granted.rows {
                out.push(
                    json!({"field": field, "role": role["name"], "team_id": t.id, "team": t.name}),
                );
            }
        }
    }
    out
}

/// A field of the credential for the detail page: a secret only as set or not set.
fn shown_fields(fields: &[InputField], inputs: &Value) -> Vec<Value> {
    fields
        .iter()
        .map(|f| {
            let value = inputs.get(&f.id).cloned().unwrap_or(Value::Null);
            let set = !value.is_null() && value != json!("");
            let text = match (&value, f.secret) {
                (_, true) => Value::Null,
                (Value::String(s), _) => Value::from(s.clone()),
                (Value::Null, _) => Value::from(""),
                (other, _) => Value::from(other.to_string()),
            };
            json!({"id": f.id, "label": f.label, "secret": f.secret, "set": set, "text": text,
                   "multiline": f.control == "textarea"})
        })
        .collect()
}

async fn detail(State(state): State<AppState>, viewer: Viewer, Path(id): Path<String>) -> Response {
    let (shown, ty) = match load(&state, &viewer, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let fields = input_fields(&ty.inputs_json().unwrap_or_default());
    let ctx = &state.ctx;
    let access_q = QueryPairs(vec![
        ("page_size".into(), "50".into()),
        ("order_by".into(), "username".into()),
    ]);
    let access = credential_access::access_items(&state, &viewer.caller, &id, &access_q)
        .await
        .map(|(_, _, items)| items)
        .unwrap_or_default();
    let recent = QueryPairs(vec![
        ("page_size".into(), "10".into()),
        ("order_by".into(), "-timestamp".into()),
    ]);
    let entries =
        match activity::list_about(ctx, &viewer.caller, About::Credential(&id), &recent).await {
            Ok((_, _, entries)) => activity_stream::render(&entries).unwrap_or_default(),
            Err(_) => Vec::new(),
        };
    let org = shown["organization"].as_i64();
    let teams = match org {
        Some(org) => {
            teams::list_of_organization(ctx, &viewer.caller, &org.to_string(), &first_rows("name"))
                .await
                .map(|(_, _, t)| {
                    t.rows
                        .iter()
                        .map(|t| json!({"id": t.id, "name": t.name}))
                        .collect::<Vec<_>>()
                })
                .unwrap_or_default()
        }
        None => Vec::new(),
    };
    let team_grants = team_grants(&state, &viewer, &shown).await;
    render(
        StatusCode::OK,
        "credential.html",
        context! {
            frame => viewer.frame(),
            credential => shown,
            kind => ty.kind,
            fields => shown_fields(&fields, &shown["inputs"]),
            access => access,
            activity => entries,
            teams => teams,
            team_grants => team_grants,
            sources => super::input_sources::sources_of(&state, &viewer, &id).await,
        },
    )
}

#[derive(Debug, Deserialize)]
struct NewQuery {
    credential_type: Option<i64>,
}

/// The create form of a chosen type, or the choice of a type first.
async fn new_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(q): Query<NewQuery>,
) -> Response {
    let (types, orgs) = match choices(&state, &viewer).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let Some(type_id) = q.credential_type else {
        return render(
            StatusCode::OK,
            "choose_type.html",
            context! {frame => viewer.frame(), types => types},
        );
    };
    let ty = match credential_types::get(&state.ctx, &viewer.caller, &type_id.to_string()).await {
        Ok(ty) => ty,
        Err(e) => return error_page(&viewer, e),
    };
    form_page(
        &viewer,
        StatusCode::OK,
        FormPage::new(&ty, orgs),
        FormErrors::default(),
    )
}

/// What the credential form shows: its type's fields and the values to put back.
struct FormPage {
    credential: Option<i64>,
    type_id: i64,
    type_name: String,
    fields: Vec<InputField>,
    orgs: Value,
    values: Map<String, Value>,
    /// Secrets the credential has, by input id (shown as "set; leave empty to keep").
    secrets_set: Vec<String>,
}

impl FormPage {
    fn new(ty: &CredentialTypeRow, orgs: Value) -> Self {
        FormPage {
            credential: None,
            type_id: ty.id,
            type_name: ty.name.clone(),
            fields: input_fields(&ty.inputs_json().unwrap_or_default()),
            orgs,
            values: Map::new(),
            secrets_set: Vec::new(),
        }
    }

    /// The posted values to show again: never a secret.
    fn refill(&mut self, form: &Fields) {
        for key in ["name", "description", "organization"] {
            self.values
                .insert(key.into(), Value::from(form.get(key).unwrap_or_default()));
        }
        for f in self.fields.iter().filter(|f| !f.secret) {
            let name = format!("input.{}", f.id);
            let value = match f.control {
                "checkbox" => Value::Bool(form.get(&name).is_some()),
                _ => Value::from(form.get(&name).unwrap_or_default()),
            };
            self.values.insert(name, value);
        }
    }
}

fn form_page(viewer: &Viewer, status: StatusCode, page: FormPage, errors: FormErrors) -> Response {
    render(
        status,
        "credential_form.html",
        context! {
            frame => viewer.frame(),
            credential => page.credential,
            type_id => page.type_id,
            type_name => page.type_name,
            fields => page.fields,
            orgs => page.orgs,
            values => page.values,
            secrets_set => page.secrets_set,
            errors => errors,
        },
    )
}

async fn create(State(state): State<AppState>, viewer: Viewer, Posted(form): Posted) -> Response {
    let ctx = &state.ctx;
    let type_id = form.get("credential_type").unwrap_or_default().to_string();
    let ty = match credential_types::get(ctx, &viewer.caller, &type_id).await {
        Ok(ty) => ty,
        Err(e) => return error_page(&viewer, e),
    };
    let (_, orgs) = match choices(&state, &viewer).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let page = FormPage::new(&ty, orgs);
    let mut body = Map::new();
    body.insert(
        "name".into(),
        Value::from(form.get("name").unwrap_or_default()),
    );
    body.insert(
        "description".into(),
        Value::from(form.get("description").unwrap_or_default()),
    );
    body.insert("credential_type".into(), Value::from(ty.id));
    let organization = form.id("organization");
    if organization.is_null() {
        // No organization: the signed-in user's own credential.
        body.insert("user".into(), Value::from(viewer.caller.user_id));
    } else {
        body.insert("organization".into(), organization);
    }
    body.insert(
        "inputs".into(),
        inputs_from(&form, &page.fields, &Map::new()),
    );
    let result = credentials::create(ctx, &viewer.caller, &body, true).await;
    saved(&viewer, result, page, &form).await
}

/// The answer to a create or edit post: the credential's page, or the form again with
/// what was typed (never a secret) and the errors beside their fields.
async fn saved(
    viewer: &Viewer,
    result: crate::service::Result<i64>,
    mut page: FormPage,
    form: &Fields,
) -> Response {
    let again = async |errors| {
        page.refill(form);
        form_page(viewer, StatusCode::BAD_REQUEST, page, errors)
    };
    after_post(viewer, result, |id| format!("/credentials/{id}/"), again).await
}

async fn edit_form(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let (shown, ty) = match load(&state, &viewer, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    if shown["summary_fields"]["user_capabilities"]["edit"] != json!(true) {
        return error_page(&viewer, crate::service::Error::Forbidden(None));
    }
    let (_, orgs) = match choices(&state, &viewer).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut page = FormPage::new(&ty, orgs);
    page.credential = shown["id"].as_i64();
    for key in ["name", "description"] {
        page.values.insert(key.into(), shown[key].clone());
    }
    page.values.insert(
        "organization".into(),
        Value::from(
            shown["organization"]
                .as_i64()
                .map(|o| o.to_string())
                .unwrap_or_default(),
        ),
    );
    for f in &page.fields {
        let value = &shown["inputs"][&f.id];
        if f.secret {
            if !value.is_null() {
                page.secrets_set.push(f.id.clone());
            }
        } else if !value.is_null() {
            page.values.insert(format!("input.{}", f.id), value.clone());
        }
    }
    form_page(&viewer, StatusCode::OK, page, FormErrors::default())
}

async fn update(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let (shown, ty) = match load(&state, &viewer, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let (_, orgs) = match choices(&state, &viewer).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let mut page = FormPage::new(&ty, orgs);
    page.credential = shown["id"].as_i64();
    let stored = shown["inputs"].as_object().cloned().unwrap_or_default();
    page.secrets_set = page
        .fields
        .iter()
        .filter(|f| f.secret && stored.get(&f.id).is_some_and(|v| !v.is_null()))
        .map(|f| f.id.clone())
        .collect();
    let body = json!({
        "name": form.get("name").unwrap_or_default(),
        "description": form.get("description").unwrap_or_default(),
        "organization": form.id("organization"),
        "inputs": inputs_from(&form, &page.fields, &stored),
    });
    let body = body.as_object().cloned().unwrap_or_default();
    let result =
        credentials::update(&state.ctx, &viewer.caller, &id, &body, WriteMode::Patch).await;
    saved(&viewer, result, page, &form).await
}

async fn confirm_delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Response {
    let (shown, _) = match load(&state, &viewer, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    render(
        StatusCode::OK,
        "confirm.html",
        context! {
            frame => viewer.frame(),
            title => format!("Delete {}?", shown["name"].as_str().unwrap_or_default()),
            message => "The credential and its secrets are deleted for good. Jobs that use it will fail.",
            action => format!("/credentials/{id}/delete/"),
            button => "Delete",
            back => format!("/credentials/{id}/"),
        },
    )
}

async fn delete(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    _checked: Posted,
) -> Response {
    match credentials::delete(&state.ctx, &viewer.caller, &id).await {
        Ok(()) => Redirect::to("/credentials/").into_response(),
        Err(e) => error_page(&viewer, e),
    }
}

async fn copy(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let body = json!({"name": form.get("name").unwrap_or_default()});
    let body = body.as_object().cloned().unwrap_or_default();
    match credentials::copy(&state.ctx, &viewer.caller, &id, &body).await {
        Ok(copy) => Redirect::to(&format!("/credentials/{copy}/")).into_response(),
        Err(e) => error_page(&viewer, e),
    }
}

/// Grants or takes away a role of the credential, to a user (by name) or a team.
async fn access(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Posted(form): Posted,
) -> Response {
    let (shown, _) = match load(&state, &viewer, &id).await {
        Ok(found) => found,
        Err(page) => return page,
    };
    let field = form.get("role").unwrap_or_default();
    let Some(role_id) = shown["summary_fields"]["object_roles"][field]["id"].as_i64() else {
        return error_page(
            &viewer,
            crate::service::Error::BadRequest(json!("Choose a role.")),
        );
    };
    let back = format!("/credentials/{id}/#access");
    super::grants::change_role(&state, &viewer, role_id, &form, &back).await
}
