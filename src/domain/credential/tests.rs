use super::*;
use crate::domain::credential_type::InputSchema;
use serde_json::json;

fn ssh_schema() -> InputSchema {
    let types = crate::domain::managed_types::managed_types();
    let ssh = types.iter().find(|t| t.namespace == "ssh").unwrap();
    InputSchema::parse(&ssh.inputs)
}

fn errors_of(r: Result<PreparedInputs, DomainError>) -> serde_json::Value {
    match r {
        Err(DomainError::Validation(e)) => e.into_json(),
        Err(other) => panic!("unexpected {other:?}"),
        Ok(_) => panic!("expected an error"),
    }
}

#[test]
fn secrets_are_split_out_and_masked() {
    let p = prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"username": "u", "password": "pw"}),
        None,
    )
    .unwrap();
    assert_eq!(
        serde_json::Value::Object(p.public),
        json!({"username": "u", "password": "$encrypted$"})
    );
    assert!(
        matches!(&p.secrets[..], [(f, SecretAction::Set(s))] if f == "password" && s.expose_secret() == "pw")
    );
}

#[test]
fn ask_is_public_and_blank_secrets_vanish() {
    let p = prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"password": "ASK", "become_password": null, "become_method": ""}),
        None,
    )
    .unwrap();
    assert_eq!(
        serde_json::Value::Object(p.public),
        json!({"password": "ASK", "become_method": ""})
    );
    assert!(p.secrets.is_empty());
}

#[test]
fn reserved_keyword_on_create() {
    let e = errors_of(prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"password": "$encrypted$"}),
        None,
    ));
    assert_eq!(
        e,
        json!({"inputs": ["$encrypted$ is a reserved keyword, and cannot be used for password."]})
    );
}

#[test]
fn unknown_key_and_wrong_types() {
    let e = errors_of(prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"invalid_field": 1}),
        None,
    ));
    assert_eq!(
        e,
        json!({"inputs": ["Additional properties are not allowed ('invalid_field' was unexpected)"]})
    );
    let e = errors_of(prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"username": 5}),
        None,
    ));
    assert_eq!(
        e,
        json!({"inputs": {"username": ["5 is not of type 'string'"]}})
    );
    let e = errors_of(prepare_inputs(&ssh_schema(), true, &json!("x"), None));
    assert_eq!(e, json!({"inputs": ["str provided, expected dict"]}));
}

#[test]
fn encrypted_keeps_stored_value_and_needs_one() {
    let public = json!({"password": "$encrypted$"})
        .as_object()
        .cloned()
        .unwrap();
    let mut secrets = BTreeMap::new();
    secrets.insert(
        "password".to_string(),
        SecretString::from("old".to_string()),
    );
    let stored = StoredInputs {
        public: &public,
        secrets: &secrets,
    };
    let p = prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"password": "$encrypted$", "username": "x"}),
        Some(&stored),
    )
    .unwrap();
    assert!(matches!(&p.secrets[..], [(f, SecretAction::Keep)] if f == "password"));
    let e = errors_of(prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"become_password": "$encrypted$"}),
        Some(&stored),
    ));
    assert_eq!(
        e,
        json!({"inputs": {"become_password": ["no stored value to keep"]}})
    );
    let e = errors_of(prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"password": 5}),
        Some(&stored),
    ));
    assert_eq!(
        e,
        json!({"inputs": ["secret values must be of type string, not int"]})
    );
}

#[test]
fn a_secret_that_starts_with_the_marker_is_sealed_like_any_other() {
    let prepared = prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"username": "$encrypted$", "password": "$encrypted$abc"}),
        None,
    )
    .unwrap();
    assert_eq!(prepared.public["password"], "$encrypted$");
    assert_eq!(prepared.public["username"], "$encrypted$", "kept as sent");
    assert!(matches!(
        prepared.secrets.as_slice(),
        [(field, SecretAction::Set(_))] if field == "password"
    ));
}

#[test]
fn owner_rules() {
    let body = |v: serde_json::Value| {
        parse_credential_body(v.as_object().unwrap(), WriteMode::Create).unwrap()
    };
    assert!(matches!(
        creation_owner(&body(json!({"name": "n", "credential_type": 1}))),
        Err(DomainError::BadRequest(_))
    ));
    let Err(DomainError::BadRequest(v)) = creation_owner(&body(
        json!({"name": "n", "credential_type": 1, "user": 1, "team": 2, "organization": 3}),
    )) else {
        panic!()
    };
    assert_eq!(v, json!(["Only one of 'user', 'team', or 'organization' should be provided, received organization, team, user fields."]));
    assert_eq!(
        creation_owner(&body(
            json!({"name": "n", "credential_type": 1, "user": "7"})
        ))
        .unwrap(),
        Owner::User(7)
    );
    let Err(DomainError::Validation(e)) = parse_credential_body(
        json!({"name": "n", "credential_type": 1, "user": "asdf"})
            .as_object()
            .unwrap(),
        WriteMode::Create,
    ) else {
        panic!()
    };
    assert_eq!(
        e.into_json(),
        json!({"user": ["Incorrect type. Expected pk value, received str."]})
    );
}

#[test]
fn copy_name_rules() {
    assert!(copy_name(json!({}).as_object().unwrap(), "a").is_err());
    let Err(DomainError::Validation(e)) = copy_name(json!({"name": "a"}).as_object().unwrap(), "a")
    else {
        panic!()
    };
    assert_eq!(
        e.into_json(),
        json!({"__all__": ["The original object is already named a, a copy from it cannot have the same name."]})
    );
}

#[test]
fn errors_about_secrets_do_not_quote_them() {
    let e = errors_of(prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"ssh_key_data": "PLANTED-not-a-key"}),
        None,
    ));
    let text = e.to_string();
    assert!(!text.contains("PLANTED"), "{text}");
    assert!(e["inputs"]["ssh_key_data"][0]
        .as_str()
        .unwrap()
        .starts_with("Invalid certificate or key: "));
    let e = errors_of(prepare_inputs(
        &ssh_schema(),
        true,
        &json!({"password": 918273645}),
        None,
    ));
    assert!(!e.to_string().contains("918273645"));
}

#[test]
fn output_masking_replaces_only_marker_values() {
    let mut inputs = json!({
        "username": "u",
        "password": "$encrypted$",
        "ssh_key_data": "$encrypted$UTF8$AESGCM$stale",
        "become_password": "$encrypted$AESCBC$stale",
        "port": 22,
        "note": "ends with $encrypted$",
        "label": "$encrypted$ as sent",
    });
    let map = inputs.as_object_mut().unwrap();
    mask_inputs(map);
    assert_eq!(
        inputs,
        json!({
            "username": "u",
            "password": "$encrypted$",
            "ssh_key_data": "$encrypted$",
            "become_password": "$encrypted$",
            "port": 22,
            "note": "ends with $encrypted$",
            "label": "$encrypted$ as sent",
        })
    );
}
