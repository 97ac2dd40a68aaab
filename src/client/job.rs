//! A render answer made real: its files written (mode 0600) into a directory the caller
//! owns, and every placeholder path (`@@CREDSTORE_FILE(<credential>.<file>)@@`) in env
//! values, arguments, extra vars and other files replaced with the path written.

use super::ClientError;
use serde_json::Value;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use zeroize::Zeroize;

/// The id of the file a Machine or Source Control credential's private key comes in.
pub const AGENT_KEY: &str = "ssh_key";
/// The id of that key's OpenSSH certificate.
pub const AGENT_KEY_CERT: &str = "ssh_key_cert";

/// One file written for the job.
#[derive(Debug, Clone)]
pub struct WrittenFile {
    pub id: String,
    pub credential: i64,
    pub path: PathBuf,
}

/// A rendered job with its files on disk. Secret strings are zeroed when it is dropped;
/// the files stay until their directory goes.
#[derive(Default)]
pub struct Job {
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub extra_vars: serde_json::Map<String, Value>,
    /// (prompt regex, answer)
    pub passwords: Vec<(String, String)>,
    pub files: Vec<WrittenFile>,
}

impl Drop for Job {
    fn drop(&mut self) {
        for (_, value) in &mut self.env {
            value.zeroize();
        }
        for (_, value) in &mut self.passwords {
            value.zeroize();
        }
        self.args.iter_mut().for_each(Zeroize::zeroize);
        self.extra_vars.values_mut().for_each(forget);
    }
}

fn forget(value: &mut Value) {
    match value {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(forget),
        Value::Object(map) => map.values_mut().for_each(forget),
        _ => {}
    }
}

impl Job {
    /// The answer to `prompt`, if the render gave one.
    pub fn answer(&self, prompt: &str) -> Option<&str> {
        self.passwords
            .iter()
            .find(|(p, _)| p == prompt)
            .map(|(_, v)| v.as_str())
    }

    /// Files of this kind (`ssh_key`, ...).
    pub fn files_with_id<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a WrittenFile> + 'a {
        self.files.iter().filter(move |f| f.id == id)
    }
}

/// Writes `content` to a new file only the owner may read.
pub fn write_private(path: &Path, content: &[u8]) -> Result<(), ClientError> {
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| ClientError::Io(format!("cannot write {}: {e}", path.display())))?;
    file.write_all(content)
        .map_err(|e| ClientError::Io(format!("cannot write {}: {e}", path.display())))
}

/// Replaces every placeholder in `text`.
fn replace_all(text: &str, paths: &[(String, String)]) -> String {
    let mut out = text.to_string();
    for (placeholder, real) in paths {
        if out.contains(placeholder.as_str()) {
            out = out.replace(placeholder.as_str(), real);
        }
    }
    out
}

fn replace_in(value: &Value, paths: &[(String, String)]) -> Value {
    match value {
        Value::String(s) => Value::String(replace_all(s, paths)),
        Value::Array(items) => Value::Array(items.iter().map(|v| replace_in(v, paths)).collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (replace_all(k, paths), replace_in(v, paths)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Writes the answer's files into `dir` under the names `name_for(credential, id)`
/// gives, and returns the job with every placeholder replaced.
pub fn materialize(
    answer: &Value,
    dir: &Path,
    name_for: impl Fn(i64, &str) -> String,
) -> Result<Job, ClientError> {
    let files = answer["files"].as_array().cloned().unwrap_or_default();
    let mut written = Vec::with_capacity(files.len());
    let mut paths = Vec::with_capacity(files.len());
    for file in &files {
        let id = file["id"].as_str().unwrap_or("file").to_string();
        let credential = file["credential"].as_i64().unwrap_or(0);
        let path = dir.join(name_for(credential, &id));
        if let Some(placeholder) = file["path"].as_str() {
            paths.push((placeholder.to_string(), path.display().to_string()));
        }
        written.push(WrittenFile {
            id,
            credential,
            path,
        });
    }
    for (file, target) in files.iter().zip(&written) {
        let mut content = replace_all(file["content"].as_str().unwrap_or(""), &paths);
        let result = write_private(&target.path, content.as_bytes());
        content.zeroize();
        result?;
    }
    let text = |v: &Value| {
        v.as_str()
            .map(|s| replace_all(s, &paths))
            .unwrap_or_default()
    };
    let env = answer["env"]
        .as_object()
        .map(|m| m.iter().map(|(k, v)| (k.clone(), text(v))).collect())
        .unwrap_or_default();
    let args = answer["args"]
        .as_array()
        .map(|a| a.iter().map(text).collect())
        .unwrap_or_default();
    let extra_vars = match replace_in(&answer["extra_vars"], &paths) {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let passwords = answer["passwords"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| (text(&p["prompt"]), text(&p["value"])))
                .collect()
        })
        .unwrap_or_default();
    Ok(Job {
        env,
        args,
        extra_vars,
        passwords,
        files: written,
    })
}

/// A file name for a credential's file in a directory shared by several credentials.
pub fn file_name(credential: i64, id: &str) -> String {
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("credential_{credential}_{safe}")
}
