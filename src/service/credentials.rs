//! Credential use cases: list, read, create, replace, update, delete and copy. Each
//! decides the caller's permission, applies `domain::credential`'s rules, seals secrets
//! through [`super::inputs`] and writes in one store transaction.

use super::auth::caller_of;
use super::inputs::{self, Sealed};
use super::lists::{self, PageRequest, QueryPairs};
use super::named::resolve;
use super::related::{administers, Credentials};
use super::{credential_types, organizations, teams, users, Context, Error, Result};
use crate::domain::activity::{credential_fields, diff, ActivityRecord};
use crate::domain::credential::{
    check_galaxy_owner, copy_name, copy_name_taken, creation_owner, parse_credential_body,
    prepare_inputs, Owner, StoredInputs, WriteMode,
};
use crate::domain::credential_type::check_credential_placement;
use crate::domain::errors::FieldErrors;
use crate::domain::named_url::NamedKind;
use crate::domain::pk::{does_not_exist, PkValue};
use crate::domain::rbac::{effective_level, role, Caller, Level};
use crate::domain::resource::CREDENTIAL;
use crate::store::{CredentialRow, CredentialSave, CredentialTypeRow, Page, Scope, StoreError};
use serde_json::{json, Map, Value};

/// A page of the credentials within `within` that the caller may read, filtered and
/// ordered by the query.
pub async fn list(
    ctx: &Context,
    caller: &Caller,
    within: Scope,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Credentials)> {
    let scope = within
        .and(lists::readable(caller))
        .and(lists::role_level(caller, q)?);
    let (page, req) = lists::page_of(ctx, &CREDENTIAL, &scope, q).await?;
    let rows = ctx.store.credentials_by_ids(&page.ids).await?;
    Ok((
        page,
        req,
        Credentials::load(&ctx.store, rows, caller).await?,
    ))
}

/// Credentials that both the caller and the user `raw` names may read.
pub async fn list_of_user(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Credentials)> {
    let user = users::get(ctx, caller, raw).await?;
    list(ctx, caller, lists::readable(&caller_of(&user)), q).await
}

/// Credentials granted to the team `raw` names: their use or admin role hangs under the
/// team's.
pub async fn list_of_team(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Credentials)> {
    let team = teams::get(ctx, caller, raw).await?;
    list(ctx, caller, Scope::GrantedToTeam(team.id), q).await
}

/// Credentials of the organization `raw` names.
pub async fn list_of_organization(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Credentials)> {
    let org = organizations::get(ctx, caller, raw).await?;
    list(ctx, caller, Scope::InOrganization(org.id), q).await
}

/// Credentials of the credential type `raw` names.
pub async fn list_of_type(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<(Page, PageRequest, Credentials)> {
    let ty = credential_types::get(ctx, caller, raw).await?;
    list(ctx, caller, Scope::OfCredentialType(ty.id), q).await
}

/// Creates a credential of the credential type `raw` names (the type comes from the URL).
pub async fn create_of_type(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    mut body: Map<String, Value>,
) -> Result<i64> {
    let ty = credential_types::get(ctx, caller, raw).await?;
    body.insert("credential_type".into(), json!(ty.id));
    create(ctx, caller, &body, true).await
}

/// Who a credential created on a sub-list belongs to: the object of the URL.
#[derive(Debug, Clone, Copy)]
pub enum OwnerRef<'a> {
    User(&'a str),
    Team(&'a str),
    Organization(&'a str),
}

/// Creates a credential owned by the object of a sub-list's URL (any owner in the body is
/// replaced). As in AWX, the creator is not granted the admin role.
pub async fn create_owned(
    ctx: &Context,
    caller: &Caller,
    owner: OwnerRef<'_>,
    mut body: Map<String, Value>,
) -> Result<i64> {
    let (key, id) = match owner {
        OwnerRef::User(raw) => ("user", users::get(ctx, caller, raw).await?.id),
        OwnerRef::Team(raw) => ("team", teams::get(ctx, caller, raw).await?.id),
        OwnerRef::Organization(raw) => (
            "organization",
            organizations::get(ctx, caller, raw).await?.id,
        ),
    };
    for k in ["user", "team", "organization"] {
        body.remove(k);
    }
    body.insert(key.to_string(), json!(id));
    create(ctx, caller, &body, false).await
}

/// The caller's effective level on one credential.
pub async fn level_on(ctx: &Context, caller: &Caller, credential: i64) -> Result<Level> {
    let held = if caller.is_superuser {
        Level::Admin
    } else {
        ctx.store
            .credential_levels(caller.user_id, &[credential])
            .await?
            .get(&credential)
            .copied()
            .unwrap_or(Level::None)
    };
    Ok(effective_level(caller, held))
}

/// The credential that `raw` (an id or a named URL) names, if the caller may read it:
/// 404 when missing, 403 when hidden (404 when asked for by name).
pub async fn get(ctx: &Context, caller: &Caller, raw: &str) -> Result<(CredentialRow, Level)> {
    let resolved = resolve(ctx, NamedKind::Credential, raw, "Credential").await?;
    let row = ctx
        .store
        .credential(resolved.id)
        .await?
        .ok_or(Error::NotFound("Credential"))?;
    let level = level_on(ctx, caller, row.id).await?;
    if level == Level::None {
        return Err(resolved.refusal());
    }
    Ok((row, level))
}

/// One credential for its detail answer; 404 when the query's filters exclude it.
pub async fn detail(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    q: &QueryPairs,
) -> Result<Credentials> {
    let (row, _) = get(ctx, caller, raw).await?;
    if !lists::passes_filters(ctx, &CREDENTIAL, row.id, q).await? {
        return Err(Error::NotFound("Credential"));
    }
    Credentials::load(&ctx.store, vec![row], caller).await
}

/// A credential just written, for the answer to its write.
pub async fn written(ctx: &Context, caller: &Caller, id: i64) -> Result<Credentials> {
    let row = ctx
        .store
        .credential(id)
        .await?
        .ok_or(Error::NotFound("Credential"))?;
    Credentials::load(&ctx.store, vec![row], caller).await
}

/// Creates a credential from a request body; returns its id. `creator_grant` is false on
/// the user, team and organization sub-lists, which (as in AWX) do not add the creator's
/// admin role.
pub async fn create(
    ctx: &Context,
    caller: &Caller,
    body: &Map<String, Value>,
    creator_grant: bool,
) -> Result<i64> {
    if !caller.is_superuser {
        check_create_permission(ctx, caller, body).await?;
    }
    let parsed = parse_credential_body(body, WriteMode::Create)?;
    let org = match parsed.organization {
        Some(PkValue::Id(o)) => Some(o),
        _ => None,
    };
    let Some(PkValue::Id(type_id)) = parsed.credential_type else {
        return Err(Error::Validation(
            FieldErrors::one("credential_type", "This field is required.").into_json(),
        ));
    };
    let (ty, team_org) = check_references(ctx, type_id, org, parsed.user, parsed.team).await?;
    let owner = creation_owner(&parsed)?;
    let organization = if let Owner::Team(_) = owner {
        team_org
    } else {
        org
    };
    check_galaxy_owner(&ty.kind, org)?;
    check_type_use(ctx, caller, &ty, organization).await?;
    let raw = parsed.inputs.clone().unwrap_or_else(|| json!({}));
    let schema = ctx.schemas.schema(&ty)?;
    let prepared = prepare_inputs(&schema, ty.managed, &raw, None)?;
    let uid = inputs::new_uid();
    let sealed = inputs::seal(ctx, &uid, prepared)?;
    let save = sealed.into_save(
        uid,
        parsed.name.unwrap_or_default(),
        parsed.description.unwrap_or_default(),
        organization,
        ty.id,
    );
    // A team's admins (the only non-superusers who may create for it) reach the new
    // credential through the team; AWX adds no direct grant, and so lists no user owner.
    let needs_grant = match owner {
        Owner::User(u) => u != caller.user_id,
        Owner::Team(_) | Owner::Organization(_) => false,
    };
    let creator = (creator_grant && !caller.is_superuser && needs_grant).then_some(caller.user_id);
    let record = ActivityRecord::create(
        Some(caller.user_id),
        "credential",
        recorded(ctx, &save, (&ty.name, ty.id)).await?,
    );
    Ok(ctx
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

/// Replaces (PUT) or updates (PATCH) the credential `raw` names; returns its id.
pub async fn update(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
    mode: WriteMode,
) -> Result<i64> {
    let (row, level) = get(ctx, caller, raw).await?;
    if level < Level::Admin {
        return Err(Error::Forbidden(None));
    }
    if row.managed {
        return Err(Error::Forbidden(Some(
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
    let (ty, _) = check_references(ctx, type_id, org, PkValue::None, PkValue::None).await?;
    if org != row.organization_id && !caller.is_superuser {
        for o in [org, row.organization_id].into_iter().flatten() {
            if !may_create_in(ctx, caller, Some(o)).await? {
                return Err(Error::Forbidden(None));
            }
        }
    }
    if org.is_none() && row.organization_id.is_some() {
        check_galaxy_owner(&ty.kind, org)?;
    }
    if ty.id != row.credential_type_id {
        check_type_use(ctx, caller, &ty, org).await?;
    } else if org != row.organization_id {
        check_credential_placement(&ty.name, ty.organization_id, org)?;
    }
    let stored = inputs::open(ctx, &row).await?;
    let raw = match (&parsed.inputs, mode) {
        (Some(v), _) => v.clone(),
        (None, WriteMode::Put) => json!({}),
        (None, _) => Value::Object(stored.public.clone()),
    };
    let schema = ctx.schemas.schema(&ty)?;
    let prepared = prepare_inputs(
        &schema,
        ty.managed,
        &raw,
        Some(&StoredInputs {
            public: &stored.public,
            secrets: &stored.secrets,
        }),
    )?;
    let sealed = inputs::seal(ctx, &row.uid, prepared)?;
    let inputs_changed = row.inputs != sealed.inputs
        || !sealed.new_secrets.is_empty()
        || sealed.kept_secrets.len() != stored.secrets.len();
    let description = match (parsed.description, mode) {
        (Some(d), _) => d,
        (None, WriteMode::Put) => String::new(),
        (None, _) => row.description.clone(),
    };
    let name = parsed.name.unwrap_or_else(|| row.name.clone());
    let save = sealed.into_save(row.uid.clone(), name, description, org, ty.id);
    let mut changes = diff(
        &fields_of(&row),
        &recorded(ctx, &save, (&ty.name, ty.id)).await?,
    );
    if inputs_changed {
        changes.insert("inputs".into(), json!(["hidden", "hidden"]));
    }
    let record = ActivityRecord::update_with(Some(caller.user_id), "credential", row.id, changes);
    ctx.store
        .update_credential(row.id, &save, Some(caller.user_id), record.as_ref())
        .await?;
    Ok(row.id)
}

/// Deletes the credential `raw` names (admins; never a managed one).
pub async fn delete(ctx: &Context, caller: &Caller, raw: &str) -> Result<()> {
    let (row, level) = get(ctx, caller, raw).await?;
    if level < Level::Admin {
        return Err(Error::Forbidden(None));
    }
    if row.managed {
        return Err(Error::Forbidden(Some(
            "Deletion not allowed for managed credentials".into(),
        )));
    }
    let record =
        ActivityRecord::delete(Some(caller.user_id), "credential", row.id, fields_of(&row));
    ctx.store.delete_credential(row.id, &record).await?;
    Ok(())
}

/// Whether the caller could copy the credential `raw` names.
pub async fn can_copy(ctx: &Context, caller: &Caller, raw: &str) -> Result<bool> {
    let (row, _) = get(ctx, caller, raw).await?;
    may_create_in(ctx, caller, row.organization_id).await
}

/// Copies the credential `raw` names, secrets and input sources included, under the
/// body's `name`; returns the copy's id. One transaction writes all of it.
pub async fn copy(
    ctx: &Context,
    caller: &Caller,
    raw: &str,
    body: &Map<String, Value>,
) -> Result<i64> {
    let (row, _) = get(ctx, caller, raw).await?;
    if !may_create_in(ctx, caller, row.organization_id).await? {
        return Err(Error::Forbidden(None));
    }
    let name = copy_name(body, &row.name)?;
    let uid = inputs::new_uid();
    let sealed = inputs::reseal(ctx, &row, &uid).await?;
    let save = sealed.into_save(
        uid,
        name,
        row.description.clone(),
        row.organization_id,
        row.credential_type_id,
    );
    let record = ActivityRecord::create(
        Some(caller.user_id),
        "credential",
        recorded(ctx, &save, (&row.type_name, row.credential_type_id)).await?,
    );
    let copied = ctx
        .store
        .copy_credential(row.id, &save, caller.user_id, &record)
        .await;
    match (copied, row.organization_id) {
        (Err(StoreError::Unique("credential_name")), Some(org)) => Err(Error::BadRequest(json!(
            copy_name_taken(org, &save.name, row.credential_type_id)
        ))),
        (copied, _) => Ok(copied?),
    }
}

/// "Could create a credential in this organization": superusers, and org (credential)
/// admins; nobody else for personal credentials.
async fn may_create_in(ctx: &Context, caller: &Caller, org: Option<i64>) -> Result<bool> {
    if caller.is_superuser {
        return Ok(true);
    }
    match org {
        Some(o) => Ok(ctx
            .store
            .holds_role(caller.user_id, "organization", o, role::CREDENTIAL_ADMIN)
            .await?),
        None => Ok(false),
    }
}

/// The owner rule for non-superusers, checked on the raw body before any validation (AWX
/// answers 403 before 400): every owner given must be one the caller may create for, and
/// at least one must be given.
async fn check_create_permission(
    ctx: &Context,
    caller: &Caller,
    body: &Map<String, Value>,
) -> Result<()> {
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
                Error::BadRequest(json!(format!("Bad data found in related field {field}.")))
            })?;
        if !may_own_for(ctx, caller, field, model, id).await? {
            return Err(Error::Forbidden(None));
        }
    }
    if any {
        Ok(())
    } else {
        Err(Error::Forbidden(None))
    }
}

/// Whether the caller may create a credential owned by this organization, team or user.
async fn may_own_for(
    ctx: &Context,
    caller: &Caller,
    field: &str,
    model: &str,
    id: i64,
) -> Result<bool> {
    let missing = || Error::BadRequest(json!(format!("{model} matching query does not exist.")));
    match field {
        "organization" => {
            ctx.store.organization(id).await?.ok_or_else(missing)?;
            may_create_in(ctx, caller, Some(id)).await
        }
        "team" => {
            ctx.store.team(id).await?.ok_or_else(missing)?;
            administers(ctx, caller, "team", id).await
        }
        _ => {
            let user = ctx.store.user(id).await?.ok_or_else(missing)?;
            Ok(id == caller.user_id || users::may_admin(ctx, caller, &user).await?)
        }
    }
}

/// Checks that referenced rows exist; returns the credential type and the team's
/// organization.
async fn check_references(
    ctx: &Context,
    type_id: i64,
    org: Option<i64>,
    user: PkValue,
    team: PkValue,
) -> Result<(CredentialTypeRow, Option<i64>)> {
    let mut errors = FieldErrors::new();
    let ty = ctx.store.credential_type(type_id).await?;
    if ty.is_none() {
        errors.add("credential_type", does_not_exist(type_id));
    }
    if let Some(o) = org {
        if ctx.store.organization(o).await?.is_none() {
            errors.add("organization", does_not_exist(o));
        }
    }
    if let PkValue::Id(u) = user {
        if ctx.store.user(u).await?.is_none() {
            errors.add("user", does_not_exist(u));
        }
    }
    let mut team_org = None;
    if let PkValue::Id(t) = team {
        match ctx.store.team(t).await? {
            Some(row) => team_org = Some(row.organization_id),
            None => errors.add("team", does_not_exist(t)),
        }
    }
    errors.into_result()?;
    let ty = ty.ok_or(Error::NotFound("CredentialType"))?;
    Ok((ty, team_org))
}

/// A credential of an organization's type: the caller must see the type (else it does
/// not exist for them) and hold its use role, and the credential must belong to the
/// type's organization or be personal. Global types pass.
async fn check_type_use(
    ctx: &Context,
    caller: &Caller,
    ty: &CredentialTypeRow,
    organization: Option<i64>,
) -> Result<()> {
    if ty.organization_id.is_none() {
        return Ok(());
    }
    if !credential_types::may_see(ctx, caller, ty).await? {
        let mut errors = FieldErrors::new();
        errors.add("credential_type", does_not_exist(ty.id));
        errors.into_result()?;
    }
    if !credential_types::may_use(ctx, caller, ty).await? {
        return Err(Error::Forbidden(Some(
            "You do not have permission to use this credential type.".into(),
        )));
    }
    Ok(check_credential_placement(
        &ty.name,
        ty.organization_id,
        organization,
    )?)
}

/// The fields the activity stream records for a stored credential.
fn fields_of(row: &CredentialRow) -> Map<String, Value> {
    credential_fields(
        &row.name,
        &row.description,
        row.org_name.as_deref().zip(row.organization_id),
        (&row.type_name, row.credential_type_id),
    )
}

/// The fields the activity stream records for a credential about to be saved, of the type
/// named `ty` (name, id).
async fn recorded(
    ctx: &Context,
    save: &CredentialSave,
    ty: (&str, i64),
) -> Result<Map<String, Value>> {
    let org = match save.organization_id {
        Some(o) => ctx.store.organization(o).await?.map(|row| (row.name, o)),
        None => None,
    };
    Ok(credential_fields(
        &save.name,
        &save.description,
        org.as_ref().map(|(n, i)| (n.as_str(), *i)),
        ty,
    ))
}

impl Sealed {
    /// The write of a credential with these inputs.
    fn into_save(
        self,
        uid: String,
        name: String,
        description: String,
        organization_id: Option<i64>,
        credential_type_id: i64,
    ) -> CredentialSave {
        CredentialSave {
            uid,
            name,
            description,
            organization_id,
            credential_type_id,
            managed: false,
            inputs: self.inputs,
            new_secrets: self.new_secrets,
            kept_secrets: self.kept_secrets,
        }
    }
}
