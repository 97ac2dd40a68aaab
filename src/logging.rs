//! Log output that costs a request little. Lines are collected in one buffer in front of
//! standard error and written out when it fills, or every 100 ms by a flusher thread, so
//! under load many lines share one `write`. A write per line cost about a quarter of the
//! cached read throughput (one info line per request); handing each line to a writer
//! thread cost more (a wake-up per line). Warnings and errors are written at once. At
//! most the last 100 ms of info lines are lost if the process is killed outright.

use std::io::Write;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

/// How long an info line may wait in the buffer.
const FLUSH_EVERY: Duration = Duration::from_millis(100);
/// Bytes collected before they are written regardless of the clock.
const BUFFER: usize = 64 * 1024;

static OUT: OnceLock<Mutex<std::io::BufWriter<std::io::Stderr>>> = OnceLock::new();

fn out() -> MutexGuard<'static, std::io::BufWriter<std::io::Stderr>> {
    let out = OUT.get_or_init(|| {
        // Without the flusher, lines are written when the buffer fills and at exit.
        let _ = std::thread::Builder::new()
            .name("log-flush".into())
            .spawn(|| loop {
                std::thread::sleep(FLUSH_EVERY);
                flush();
            });
        Mutex::new(std::io::BufWriter::with_capacity(BUFFER, std::io::stderr()))
    });
    // A panic while holding the lock leaves at worst a partial line in the buffer.
    out.lock().unwrap_or_else(|e| e.into_inner())
}

/// The subscriber's writer: `Buffered` for info and below, `Immediate` for warnings and
/// errors (an operator watching a failure should not wait for the clock).
#[derive(Clone, Copy, Debug, Default)]
pub struct Sink;

/// One event's text, added to the buffer when the subscriber is done with it.
pub struct Line {
    text: Vec<u8>,
    immediate: bool,
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Sink {
    type Writer = Line;

    fn make_writer(&'a self) -> Line {
        Line {
            text: Vec::with_capacity(256),
            immediate: true,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Line {
        Line {
            text: Vec::with_capacity(256),
            immediate: *meta.level() <= tracing::Level::WARN,
        }
    }
}

impl Write for Line {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.text.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for Line {
    fn drop(&mut self) {
        let mut out = out();
        // A closed pipe or a full disk must not stop the service: the line is lost.
        let _ = out.write_all(&self.text);
        if self.immediate {
            let _ = out.flush();
        }
    }
}

/// Writes out every line logged so far (the flusher calls it; so does `main` at exit).
pub fn flush() {
    let _ = out().flush();
}
