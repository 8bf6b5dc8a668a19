//! A streamed aggregate report's [`Writer`] on a task of its own, fed row
//! batches through a bounded channel: the parser reads the next batch while
//! the database stores the last one (issue 14's import rate is the slower
//! of the two, not their sum). At most [`DEPTH`] batches wait, so memory
//! stays that of a few batches whatever the report's size.

use mailwarden_ingest::aggregate::Record;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::StoreError;
use crate::reports::{Writer, block_on};

/// Batches queued between the parser and the writer: 12,000 rows, a few
/// MB. Enough that the parser keeps going while PostgreSQL writes a
/// flush of the rollup's 10,000 sums (`reports_copy::SUMS`); with 2
/// batches it stopped within 1,000 rows and the two sides took turns
/// (300,000 rows: 7.4 s → 4.6 s wall, bench/reports.sh).
const DEPTH: usize = 24;

/// The writer's task and the channel into it.
pub(crate) struct Pipe {
    handle: tokio::runtime::Handle,
    batches: Option<mpsc::Sender<Vec<Record>>>,
    task: JoinHandle<Result<Writer, StoreError>>,
}

impl Pipe {
    /// Start `writer` on `handle`'s runtime.
    pub(crate) fn start(handle: &tokio::runtime::Handle, mut writer: Writer) -> Pipe {
        let (batches, mut rx) = mpsc::channel::<Vec<Record>>(DEPTH);
        let task = handle.spawn(async move {
            writer.stream(&mut rx).await?;
            Ok(writer)
        });
        Pipe {
            handle: handle.clone(),
            batches: Some(batches),
            task,
        }
    }

    /// Queue a batch; waits while [`DEPTH`] batches wait. When the writer
    /// has failed, its error.
    pub(crate) fn send(&mut self, batch: Vec<Record>) -> Result<(), StoreError> {
        let Some(batches) = self.batches.as_ref() else {
            return Err(StoreError::NotFound("the report's writer has stopped".into()));
        };
        if block_on(&self.handle, batches.send(batch)).is_ok() {
            return Ok(());
        }
        // The task ended (a failed INSERT): say why.
        self.batches = None;
        match block_on(&self.handle, &mut self.task) {
            Ok(Ok(_)) => Err(StoreError::NotFound("the report's writer stopped early".into())),
            Ok(Err(e)) => Err(e),
            Err(join) => Err(StoreError::NotFound(format!("the report's writer failed: {join}"))),
        }
    }

    /// Every batch stored: the writer back, for its commit or abort.
    pub(crate) fn finish(mut self) -> Result<Writer, StoreError> {
        self.batches = None;
        match block_on(&self.handle, self.task) {
            Ok(done) => done,
            Err(join) => Err(StoreError::NotFound(format!("the report's writer failed: {join}"))),
        }
    }
}
