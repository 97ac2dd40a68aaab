//! `credstore render --runner-dir DIR`: an ansible-runner private data directory with
//! the credentials as AWX hands them to ansible-runner: `env/envvars`, `env/extravars`,
//! `env/passwords` (prompt → answer, answered by runner through pexpect), `env/cmdline`,
//! `env/ssh_key` (loaded into ssh-agent by runner) and the injector files under `env/`.
//! Then `ansible-runner run DIR -p playbook.yml` runs as AWX would have run it.

use super::job::{file_name, materialize, write_private, AGENT_KEY, AGENT_KEY_CERT};
use super::{ClientError, Connection};
use serde_json::{Map, Value};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Renders `credentials` into `dir`; returns how many files went under `env/`.
pub async fn write_runner_dir(
    connection: &Connection,
    credentials: &[String],
    purpose: Option<&str>,
    dir: &Path,
) -> Result<usize, ClientError> {
    let mut ids = Vec::with_capacity(credentials.len());
    for name in credentials {
        ids.push(connection.credential_id(name).await?);
    }
    let purpose = purpose.unwrap_or("credstore render --runner-dir");
    let answer = connection.render(&ids, purpose).await?;
    let env_dir = dir.join("env");
    std::fs::create_dir_all(&env_dir)
        .and_then(|()| std::fs::set_permissions(&env_dir, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| ClientError::Io(format!("cannot make {}: {e}", env_dir.display())))?;
    let env_dir = std::fs::canonicalize(&env_dir)
        .map_err(|e| ClientError::Io(format!("cannot resolve {}: {e}", env_dir.display())))?;
    let first_key = answer["files"]
        .as_array()
        .and_then(|files| files.iter().find(|f| f["id"] == AGENT_KEY))
        .and_then(|f| f["credential"].as_i64());
    let job = materialize(&answer, &env_dir, |credential, id| {
        match (Some(credential) == first_key, id) {
            (true, AGENT_KEY) => "ssh_key".to_string(),
            (true, AGENT_KEY_CERT) => "ssh_key-cert.pub".to_string(),
            _ => file_name(credential, id),
        }
    })?;
    drop(answer);
    let env: Map<String, Value> = job
        .env
        .iter()
        .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
        .collect();
    let passwords: Map<String, Value> = job
        .passwords
        .iter()
        .map(|(p, v)| (p.clone(), Value::from(v.as_str())))
        .collect();
    write_json(&env_dir.join("envvars"), Value::Object(env))?;
    write_json(
        &env_dir.join("extravars"),
        Value::Object(job.extra_vars.clone()),
    )?;
    write_json(&env_dir.join("passwords"), Value::Object(passwords))?;
    let cmdline: Vec<String> = job.args.iter().map(|a| shell_quote(a)).collect();
    write_private(&env_dir.join("cmdline"), cmdline.join(" ").as_bytes())?;
    Ok(job.files.len())
}

fn write_json(path: &Path, value: Value) -> Result<(), ClientError> {
    let mut text = value.to_string();
    let written = write_private(path, text.as_bytes());
    zeroize::Zeroize::zeroize(&mut text);
    written
}

/// One argument as `shlex.split` reads it back.
fn shell_quote(arg: &str) -> String {
    let plain = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./@=:,+%".contains(c));
    if plain {
        arg.to_string()
    } else {
        format!("'{}'", arg.replace('\'', r#"'"'"'"#))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_quote;

    #[test]
    fn arguments_survive_shell_splitting() {
        assert_eq!(shell_quote("-u"), "-u");
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r#"'it'"'"'s'"#);
        assert_eq!(shell_quote(""), "''");
    }
}
