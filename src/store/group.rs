//! Group commit on SQLite. Writers of this process take turns in one slot; a writer that
//! has finished leaves the transaction open for the writers queued behind it, and the
//! first of them to come round again commits the whole group at once.
//!
//! Why: a commit writes every page its transaction touched to the WAL and makes every
//! other connection drop its page cache. With writes queued back to back (one writer at a
//! time is all SQLite allows), each write paid for a commit of its own, mostly rewriting
//! the same index and activity pages its neighbours had just written. Each writer's
//! changes sit in a savepoint, so a writer that fails undoes only its own; and a writer's
//! answer waits for its group's commit, so no client is told of a change before the
//! database shows it to everyone.
//!
//! The rule this brings: every write of this process goes through the slot
//! ([`super::Store::begin`], [`super::query::Query::execute_write`]). Between two members
//! the group's transaction holds SQLite's write lock with nobody running it; a statement
//! that waited for that lock inside SQLite would block its runtime worker, which the group
//! may need to commit.

use super::sqlite::{SqliteDb, SqliteTx};
use super::{StoreError, StoreResult};
use std::sync::Arc;
use tokio::sync::{oneshot, Mutex, OwnedMutexGuard};

/// Writers in one group at most: bounds how long the first of them waits for its answer.
const MAX_GROUP: usize = 32;

/// What the members of a group learn when it ends: the commit's error, if it failed.
type Outcome = Result<(), String>;

/// The reason given when a group's transaction is gone before its commit.
const ROLLED_BACK: &str = "the database rolled back the transaction of the write group";

/// The writer slot, held by the writer whose turn it is: the group still open, if any.
#[derive(Default)]
pub struct Slot {
    open: Option<Group>,
    last_id: u64,
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Slot")
            .field("open_members", &self.open.as_ref().map(|g| g.members.len()))
            .finish()
    }
}

/// One transaction shared by consecutive writers.
struct Group {
    id: u64,
    tx: SqliteTx,
    /// Writers whose changes are in the transaction and who wait for its commit.
    members: Vec<oneshot::Sender<Outcome>>,
}

impl Group {
    /// Commits and tells every member.
    fn commit(self) -> Outcome {
        let started = std::time::Instant::now();
        let outcome = self.tx.commit().map_err(|e| e.to_string());
        crate::metrics::metrics()
            .commit_seconds
            .observe(started.elapsed());
        for member in self.members {
            // A member whose request was cancelled no longer listens; nothing to tell.
            let _ = member.send(outcome.clone());
        }
        outcome
    }

    /// Rolls back the whole transaction and tells every member why.
    fn fail(self, why: &str) {
        for member in self.members {
            let _ = member.send(Err(why.to_string()));
        }
    }
}

/// One writer's turn: its changes live in a savepoint of its group's transaction.
pub struct Member {
    /// Present until the member commits or is dropped.
    group: Option<Group>,
    slot: OwnedMutexGuard<Slot>,
    lock: Arc<Mutex<Slot>>,
}

/// Waits for the writer slot, then joins the open group or begins one.
///
/// `BEGIN IMMEDIATE` runs in place when the file is free (the usual case: writers of this
/// process have queued already); when another process holds the write lock it waits on a
/// blocking thread, not on a runtime worker. That wait runs in a task of its own, so it
/// completes even when the request that asked for it is cancelled: a transaction is
/// always built, and dropping it rolls back.
pub async fn join(lock: &Arc<Mutex<Slot>>, db: &SqliteDb) -> StoreResult<Member> {
    let queued = crate::metrics::Queued::enter();
    let mut slot = lock.clone().lock_owned().await;
    drop(queued);
    let group = match slot.open.take() {
        Some(group) => group,
        None => {
            slot.last_id += 1;
            Group {
                id: slot.last_id,
                tx: begin(db).await?,
                members: Vec::new(),
            }
        }
    };
    if let Err(e) = run(&group.tx, "SAVEPOINT member") {
        group.fail(ROLLED_BACK);
        return Err(e);
    }
    Ok(Member {
        group: Some(group),
        slot,
        lock: lock.clone(),
    })
}

async fn begin(db: &SqliteDb) -> StoreResult<SqliteTx> {
    if let Some(tx) = SqliteTx::try_begin(db)? {
        return Ok(tx);
    }
    let db = db.clone();
    tokio::task::spawn_blocking(move || SqliteTx::begin(&db))
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
        .map_err(StoreError::from)
}

fn run(tx: &SqliteTx, sql: &str) -> StoreResult<()> {
    let conn = tx
        .connection()
        .ok_or(StoreError::Task(ROLLED_BACK.into()))?;
    Ok(conn.execute_batch(sql)?)
}

impl Member {
    /// The group's transaction, for statements of this member.
    pub fn tx(&self) -> Option<&SqliteTx> {
        self.group.as_ref().map(|g| &g.tx)
    }

    /// Keeps this member's changes and answers once the group has committed them.
    ///
    /// The group stays open for the writers queued behind; this member queues again for
    /// the slot, and whichever member of the group gets it first commits. Waiting runs
    /// in a task of its own, so a group whose requests are all cancelled still commits.
    pub async fn commit(mut self) -> StoreResult<()> {
        let Some(mut group) = self.group.take() else {
            return Err(StoreError::Task(ROLLED_BACK.into()));
        };
        if let Err(e) = run(&group.tx, "RELEASE member") {
            group.fail(ROLLED_BACK);
            return Err(e);
        }
        let (sender, done) = oneshot::channel();
        group.members.push(sender);
        if group.members.len() >= MAX_GROUP {
            let outcome = group.commit();
            drop(self);
            tokio::task::yield_now().await;
            return outcome.map_err(StoreError::NotCommitted);
        }
        let id = group.id;
        self.slot.open = Some(group);
        let lock = self.lock.clone();
        drop(self);
        tokio::spawn(close_group(lock, id, done))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
            .map_err(StoreError::NotCommitted)
    }
}

/// Waits until group `id` has ended, committing it if the slot comes round first.
async fn close_group(
    lock: Arc<Mutex<Slot>>,
    id: u64,
    mut done: oneshot::Receiver<Outcome>,
) -> Outcome {
    tokio::select! {
        biased;
        outcome = &mut done => return outcome.unwrap_or_else(|_| Err(ROLLED_BACK.into())),
        mut slot = lock.lock_owned() => {
            if let Some(group) = slot.open.take_if(|g| g.id == id) {
                // Every member, this one included, hears the outcome through `done`.
                let _ = group.commit();
            }
            // Releasing the slot wakes the next writer into this worker's LIFO slot, which
            // no other worker may take: yield so that it starts at once.
            drop(slot);
            tokio::task::yield_now().await;
        }
    }
    done.await.unwrap_or_else(|_| Err(ROLLED_BACK.into()))
}

impl Drop for Member {
    /// Undoes this member's changes only; the transaction carries its group's others.
    fn drop(&mut self) {
        let Some(group) = self.group.take() else {
            return;
        };
        let undone = group.tx.connection().is_some_and(|conn| {
            !conn.is_autocommit()
                && conn
                    .execute_batch("ROLLBACK TO member; RELEASE member")
                    .is_ok()
        });
        if !undone {
            group.fail(ROLLED_BACK);
        } else if !group.members.is_empty() {
            self.slot.open = Some(group);
        }
        // A group with no other member is dropped here, and its transaction rolls back.
    }
}
