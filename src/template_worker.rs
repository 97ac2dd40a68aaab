//! Injector templates that could build huge strings run in a worker process with a
//! memory and CPU limit, so that a hostile or careless template costs the worker, never
//! the server.
//!
//! Why a process: minijinja bounds a template's instructions (fuel) and we bound what it
//! writes, but not the strings it builds on the way. `~` and `+` chains, a string doubled
//! in a `namespace()` loop or by a recursive macro reach gigabytes in a few dozen steps,
//! and an allocation that fails aborts a Rust process. The worker is this same binary
//! (`credstore template-worker`), started per request with `RLIMIT_AS` and
//! `RLIMIT_CPU`: it reads one JSON request on standard input, answers on standard output
//! and exits; when a limit ends it, the request is refused as too costly.
//!
//! Templates that only name values (`{{ username }}`, see
//! [`custom_type::injectors_are_plain`]), which is what injectors almost always are, build
//! no string of their own and run in the server's process, without a process start.

use crate::domain::credential_type::InputSchema;
use crate::domain::custom_type;
use crate::domain::injection::{self, CustomInjection, RenderError, Subject};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Condvar, Mutex};

/// The hidden subcommand that runs one request in a worker.
pub const WORKER_COMMAND: &str = "template-worker";

/// Address space of a worker: room for any real template and far more than its output
/// bound, far less than the gigabytes a doubling loop asks for.
const WORKER_MEMORY_BYTES: u64 = 512 << 20;

/// CPU a worker may use; fuel ends a template's loops long before.
const WORKER_CPU_SECONDS: u64 = 10;

/// Workers that may run at once: each may take up to [`WORKER_MEMORY_BYTES`], so a burst
/// of costly templates cannot take the machine's memory; the next request waits for one.
const MAX_WORKERS: usize = 4;

/// The message under `injectors` when the worker did not answer.
pub const TOO_COSTLY: &str = "injector templates need more memory or time than a template may take";

/// One piece of template work, sent to a worker.
#[derive(Serialize, Deserialize)]
enum Request {
    /// `custom_type::validate_injectors`.
    Check { injectors: Value, inputs: Value },
    /// `injection::render_custom` for one credential.
    Render {
        id: i64,
        type_name: String,
        namespace: Option<String>,
        managed: bool,
        schema: InputSchema,
        injectors: Value,
        values: Map<String, Value>,
    },
}

/// A worker's answer.
#[derive(Serialize, Deserialize)]
enum Answer {
    Checked(Result<(), Vec<String>>),
    Rendered(Box<Result<CustomInjection, RenderError>>),
}

/// Runs template work in this process or in a worker, as the templates need.
#[derive(Debug)]
pub struct Templates {
    /// The `credstore` executable that has the worker subcommand.
    program: PathBuf,
    /// Workers running now, at most [`MAX_WORKERS`].
    running: Mutex<usize>,
    finished: Condvar,
}

impl Templates {
    /// Workers are started as `program template-worker`.
    pub fn new(program: PathBuf) -> Self {
        Templates {
            program,
            running: Mutex::new(0),
            finished: Condvar::new(),
        }
    }

    /// `custom_type::validate_injectors`, in a worker unless every template is plain.
    pub fn check_injectors(&self, injectors: &Value, inputs: &Value) -> Result<(), Vec<String>> {
        if custom_type::injectors_are_plain(injectors) {
            return custom_type::validate_injectors(injectors, inputs);
        }
        let request = Request::Check {
            injectors: injectors.clone(),
            inputs: inputs.clone(),
        };
        match self.ask(&request) {
            Some(Answer::Checked(result)) => result,
            _ => Err(vec![TOO_COSTLY.to_string()]),
        }
    }

    /// `injection::render_custom` for `subject`, in a worker unless every template is plain.
    pub fn render_custom(&self, subject: &Subject<'_>) -> Result<CustomInjection, RenderError> {
        if custom_type::injectors_are_plain(subject.injectors) {
            return injection::render_custom(subject);
        }
        let request = Request::Render {
            id: subject.id,
            type_name: subject.type_name.to_string(),
            namespace: subject.namespace.map(str::to_string),
            managed: subject.managed,
            schema: subject.schema.clone(),
            injectors: subject.injectors.clone(),
            values: subject.values.clone(),
        };
        match self.ask(&request) {
            Some(Answer::Rendered(result)) => *result,
            _ => Err(RenderError::TooCostly {
                type_name: subject.type_name.to_string(),
            }),
        }
    }

    /// Starts a worker, sends `request`, and reads its answer; `None` when the worker
    /// could not start or ended without one (a limit reached).
    fn ask(&self, request: &Request) -> Option<Answer> {
        let _slot = self.worker_slot();
        let child = Command::new(&self.program)
            .arg(WORKER_COMMAND)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            // Nothing of a request (secret values included) may reach the server's log.
            .stderr(Stdio::null())
            .spawn();
        let mut worker = match child {
            Ok(child) => Worker(child),
            Err(e) => {
                tracing::error!(program = %self.program.display(), error = %e, "cannot start the template worker");
                return None;
            }
        };
        let answer = worker.exchange(request);
        let ended_well = worker.0.wait().is_ok_and(|status| status.success());
        if !ended_well {
            tracing::warn!("a template worker ended without an answer (memory or CPU limit)");
        }
        answer.filter(|_| ended_well)
    }
}

impl Templates {
    /// Waits until fewer than [`MAX_WORKERS`] workers run, and counts this one in until
    /// the slot is dropped.
    fn worker_slot(&self) -> WorkerSlot<'_> {
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        while *running >= MAX_WORKERS {
            running = self
                .finished
                .wait(running)
                .unwrap_or_else(|e| e.into_inner());
        }
        *running += 1;
        WorkerSlot(self)
    }
}

/// One of the [`MAX_WORKERS`] places, given back when dropped.
struct WorkerSlot<'a>(&'a Templates);

impl Drop for WorkerSlot<'_> {
    fn drop(&mut self) {
        let mut running = self.0.running.lock().unwrap_or_else(|e| e.into_inner());
        *running = running.saturating_sub(1);
        self.0.finished.notify_one();
    }
}

/// A started worker; killed and reaped if dropped before it ends on its own.
struct Worker(Child);

impl Worker {
    /// Writes the whole request, then reads the whole answer (the worker reads all of
    /// its input before it writes, so neither side waits on the other).
    fn exchange(&mut self, request: &Request) -> Option<Answer> {
        let mut input = self.0.stdin.take()?;
        serde_json::to_writer(&mut input, request).ok()?;
        input.flush().ok()?;
        drop(input);
        let mut output = Vec::new();
        self.0.stdout.take()?.read_to_end(&mut output).ok()?;
        serde_json::from_slice(&output).ok()
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        if matches!(self.0.try_wait(), Ok(None)) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// The flag of the worker's second stage, which runs under the limits from its start.
const LIMITED_FLAG: &str = "--limited";

/// The worker's side. The first stage sets the limits and starts the second in its place
/// (`exec`): limits bind only mappings made after them, and by then the allocator has
/// reserved its arena, inside which it could take a gigabyte without a new mapping. The
/// second stage starts under them, answers one request from standard input on standard
/// output, and exits. A limit reached ends it without an answer.
pub fn run_worker(limited: bool) -> ExitCode {
    if !limited {
        if limit_worker().is_err() {
            return ExitCode::FAILURE;
        }
        // Returns only when the second stage could not start.
        let _ = Command::new("/proc/self/exe")
            .args([WORKER_COMMAND, LIMITED_FLAG])
            .exec();
        return ExitCode::FAILURE;
    }
    if !under_limits() {
        return ExitCode::FAILURE;
    }
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return ExitCode::FAILURE;
    }
    let Ok(request) = serde_json::from_slice::<Request>(&input) else {
        return ExitCode::FAILURE;
    };
    let answer = answer(request);
    let Ok(encoded) = serde_json::to_vec(&answer) else {
        return ExitCode::FAILURE;
    };
    let mut output = std::io::stdout().lock();
    match output.write_all(&encoded).and_then(|()| output.flush()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(_) => ExitCode::FAILURE,
    }
}

fn answer(request: Request) -> Answer {
    match request {
        Request::Check { injectors, inputs } => {
            Answer::Checked(custom_type::validate_injectors(&injectors, &inputs))
        }
        Request::Render {
            id,
            type_name,
            namespace,
            managed,
            schema,
            injectors,
            values,
        } => {
            let subject = Subject {
                id,
                type_name: &type_name,
                namespace: namespace.as_deref(),
                managed,
                schema: &schema,
                injectors: &injectors,
                values: &values,
            };
            Answer::Rendered(Box::new(injection::render_custom(&subject)))
        }
    }
}

/// Whether this process runs under the worker's memory limit.
fn under_limits() -> bool {
    let limit = rustix::process::getrlimit(rustix::process::Resource::As);
    limit
        .current
        .is_some_and(|bytes| bytes <= WORKER_MEMORY_BYTES)
}

fn limit_worker() -> rustix::io::Result<()> {
    use rustix::process::{setrlimit, Resource, Rlimit};
    let limit = |value: u64| Rlimit {
        current: Some(value),
        maximum: Some(value),
    };
    setrlimit(Resource::As, limit(WORKER_MEMORY_BYTES))?;
    setrlimit(Resource::Cpu, limit(WORKER_CPU_SECONDS))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    fn token_inputs() -> Value {
        json!({"fields": [{"id": "token", "label": "Token", "type": "string", "secret": true}]})
    }

    /// Plain templates never start a worker (here, none could start); any other template
    /// goes to one, and a worker that cannot answer refuses the template.
    #[test]
    fn only_templates_that_build_strings_go_to_a_worker() {
        let templates = Templates::new(PathBuf::from("/nonexistent/credstore"));
        let plain = json!({"env": {"TOKEN": "{{ token }}"}});
        assert_eq!(templates.check_injectors(&plain, &token_inputs()), Ok(()));
        let costly = json!({"env": {"TOKEN": "{{ token ~ token }}"}});
        assert_eq!(
            templates.check_injectors(&costly, &token_inputs()),
            Err(vec![TOO_COSTLY.to_string()])
        );
    }

    #[test]
    fn no_more_than_max_workers_hold_a_slot_at_once() {
        let templates = Arc::new(Templates::new(PathBuf::from("/nonexistent/credstore")));
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..16)
            .map(|_| {
                let (templates, inside, most) = (templates.clone(), inside.clone(), most.clone());
                std::thread::spawn(move || {
                    let _slot = templates.worker_slot();
                    let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(5));
                    inside.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
        assert!(most.load(Ordering::SeqCst) <= MAX_WORKERS);
        assert_eq!(*templates.running.lock().unwrap(), 0);
    }
}
