//! `credstore run`: render credentials, write their files into a private temporary
//! directory, run a command with them, and remove the directory when the command ends
//! (also when credstore is interrupted or terminated: the signal goes to the command,
//! credstore waits for it, cleans up and passes its exit status on).
//!
//! For `ansible-playbook` and `ansible`, AWX's arguments come along, with what AWX
//! answers at prompts turned into what the command reads without a terminal: the SSH and
//! become passwords into extra vars (`ansible_password`, `ansible_become_password`),
//! Vault passwords into password files (`--vault-password-file`, `--vault-id id@file`),
//! the Machine key into `--private-key`. A key with a passphrase needs a prompt that only
//! ansible-runner answers: `credstore render --runner-dir`.

use super::job::{file_name, materialize, write_private, Job, AGENT_KEY, AGENT_KEY_CERT};
use super::{ClientError, Connection};
use std::path::Path;
use std::process::ExitStatus;
use tokio::signal::unix::{signal, Signal, SignalKind};

const SSH_PASSWORD_PROMPT: &str = r"SSH password:\s*?$";
const BECOME_PASSWORD_PROMPT: &str = r"BECOME password.*:\s*?$";
const VAULT_PASSWORD_PROMPT: &str = r"Vault password:\s*?$";
const KEY_UNLOCK_PROMPT: &str = r"Enter passphrase for .*:\s*?$";

/// The exit status of a command that could not be found, as shells report it.
pub const COMMAND_NOT_FOUND: i32 = 127;
/// The exit status of a command that could not be executed.
pub const COMMAND_NOT_EXECUTABLE: i32 = 126;

/// What to run with which credentials.
pub struct RunRequest<'a> {
    pub credentials: &'a [String],
    pub purpose: Option<&'a str>,
    /// The command and its arguments.
    pub command: &'a [String],
}

/// Signals passed on to the command.
struct Forwarded {
    interrupt: Signal,
    terminate: Signal,
    hangup: Signal,
    quit: Signal,
}

impl Forwarded {
    /// Listens before anything is written, so that no signal finds files to leave behind.
    fn listen() -> Result<Self, ClientError> {
        let listen = |kind: SignalKind| {
            signal(kind).map_err(|e| ClientError::Io(format!("cannot handle signals: {e}")))
        };
        Ok(Forwarded {
            interrupt: listen(SignalKind::interrupt())?,
            terminate: listen(SignalKind::terminate())?,
            hangup: listen(SignalKind::hangup())?,
            quit: listen(SignalKind::quit())?,
        })
    }

    /// The next signal that arrives, as the command is to receive it.
    async fn next(&mut self) -> rustix::process::Signal {
        use rustix::process::Signal as Sig;
        tokio::select! {
            _ = self.interrupt.recv() => Sig::INT,
            _ = self.terminate.recv() => Sig::TERM,
            _ = self.hangup.recv() => Sig::HUP,
            _ = self.quit.recv() => Sig::QUIT,
        }
    }
}

/// Runs the request; returns the command's exit status (127 when it does not exist).
pub async fn run(connection: &Connection, request: &RunRequest<'_>) -> Result<i32, ClientError> {
    let Some(program) = request.command.first() else {
        return Err(ClientError::Usage("no command given after --".into()));
    };
    let mut signals = Forwarded::listen()?;
    let mut ids = Vec::with_capacity(request.credentials.len());
    for name in request.credentials {
        ids.push(connection.credential_id(name).await?);
    }
    let default_purpose = format!("credstore run {}", program_name(program));
    let purpose = request.purpose.unwrap_or(&default_purpose);
    let answer = connection.render(&ids, purpose).await?;
    let dir = tempfile::Builder::new()
        .prefix("credstore-run-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|e| ClientError::Io(format!("cannot make a private directory: {e}")))?;
    let job = materialize(&answer, dir.path(), run_file_name)?;
    drop(answer);
    let mut args = if is_ansible(program) {
        ansible_args(&job, dir.path())?
    } else {
        Vec::new()
    };
    args.extend(request.command[1..].iter().cloned());
    let spawned = tokio::process::Command::new(program)
        .args(&args)
        .envs(job.env.iter().map(|(k, v)| (k, v)))
        .spawn();
    drop(job);
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            let (code, why) = match e.kind() {
                std::io::ErrorKind::NotFound => {
                    (COMMAND_NOT_FOUND, "command not found".to_string())
                }
                std::io::ErrorKind::PermissionDenied => {
                    (COMMAND_NOT_EXECUTABLE, "permission denied".to_string())
                }
                _ => (COMMAND_NOT_EXECUTABLE, e.to_string()),
            };
            eprintln!("credstore run: {program}: {why}");
            return Ok(code);
        }
    };
    let status = loop {
        tokio::select! {
            status = child.wait() => break status,
            signal = signals.next() => forward(&child, signal),
        }
    };
    dir.close()
        .map_err(|e| ClientError::Io(format!("cannot remove the private directory: {e}")))?;
    let status = status.map_err(|e| ClientError::Io(format!("lost the command: {e}")))?;
    Ok(exit_code(status))
}

fn forward(child: &tokio::process::Child, signal: rustix::process::Signal) {
    let Some(pid) = child
        .id()
        .and_then(|id| rustix::process::Pid::from_raw(id as i32))
    else {
        return;
    };
    // The command may have ended a moment ago; its status is collected next.
    let _ = rustix::process::kill_process(pid, signal);
}

/// The shell's convention: the code, or 128 + the signal that ended the command.
fn exit_code(status: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    status
        .code()
        .or_else(|| status.signal().map(|s| 128 + s))
        .unwrap_or(1)
}

fn program_name(program: &str) -> &str {
    Path::new(program)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or(program)
}

fn is_ansible(program: &str) -> bool {
    matches!(program_name(program), "ansible-playbook" | "ansible")
}

/// A key's certificate sits beside it as `<key>-cert.pub`, where ssh looks for it.
fn run_file_name(credential: i64, id: &str) -> String {
    if id == AGENT_KEY_CERT {
        return format!("{}-cert.pub", file_name(credential, AGENT_KEY));
    }
    file_name(credential, id)
}

/// AWX's arguments with its prompts answered from files and extra vars.
fn ansible_args(job: &Job, dir: &Path) -> Result<Vec<String>, ClientError> {
    let mut out = Vec::new();
    let mut extra_vars = job.extra_vars.clone();
    let mut args = job.args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ask-pass" => {
                if let Some(password) = job.answer(SSH_PASSWORD_PROMPT) {
                    extra_vars.insert("ansible_password".into(), password.into());
                }
            }
            "--ask-become-pass" => {
                if let Some(password) = job.answer(BECOME_PASSWORD_PROMPT) {
                    extra_vars.insert("ansible_become_password".into(), password.into());
                }
            }
            "--ask-vault-pass" => {
                let file = dir.join("vault_password");
                write_private(
                    &file,
                    job.answer(VAULT_PASSWORD_PROMPT).unwrap_or("").as_bytes(),
                )?;
                out.extend([
                    "--vault-password-file".to_string(),
                    file.display().to_string(),
                ]);
            }
            "--vault-id" => {
                let Some(spec) = args.next() else { continue };
                let id = spec.strip_suffix("@prompt").unwrap_or(spec);
                let prompt = format!(r"Vault password \({id}\):\s*?$");
                let file = dir.join(file_name(0, &format!("vault_password_{id}")));
                write_private(&file, job.answer(&prompt).unwrap_or("").as_bytes())?;
                out.extend(["--vault-id".to_string(), format!("{id}@{}", file.display())]);
            }
            _ => out.push(arg.clone()),
        }
    }
    if let Some(key) = job.files_with_id(AGENT_KEY).next() {
        out.extend(["--private-key".to_string(), key.path.display().to_string()]);
        if job.answer(KEY_UNLOCK_PROMPT).is_some() {
            eprintln!(
                "credstore run: the Machine key has a passphrase, which ansible-playbook would ask for on the terminal; \
                 load it into ssh-agent, or use `credstore render --runner-dir` with ansible-runner"
            );
        }
    }
    if !extra_vars.is_empty() {
        let file = dir.join("extra_vars.json");
        let mut text = serde_json::Value::Object(extra_vars).to_string();
        let written = write_private(&file, text.as_bytes());
        zeroize::Zeroize::zeroize(&mut text);
        written?;
        out.extend(["-e".to_string(), format!("@{}", file.display())]);
    }
    Ok(out)
}
