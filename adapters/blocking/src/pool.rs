//! Shared call threads (Linux and Android): each runs many calls over one `epoll` instance,
//! so a relayed frame costs a turn of the call's loop, not a wake-up of a thread of its own.
//!
//! Measured (bench/README, 200 calls x 20 ms frames): with a thread per call, a third of the
//! adapter's CPU was the kernel switching between those threads (`finish_task_switch`);
//! a frame then cost 1.2x what a hand-written tokio relay spends.
//!
//! A worker owns its calls. It registers each call's sockets (Teler's, the remote's once it
//! is open, and the command wake-up) edge-triggered for reading and writing, marks a call
//! ready when one of them fires or its deadline passes, and runs ready calls one turn each
//! (a turn reads at most 64 frames per side, so a busy call cannot starve the others).
//! A call that ends is handed back, with its summary, to the thread that called
//! `bridge_stream`, which closes its sockets (the close handshake may wait) and returns.
//! A panic in a call's handler is caught on the worker and resumed on that thread, as it
//! would have been with a thread per call; the worker's other calls go on.

use std::any::Any;
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::io::{Read, Write};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::thread;
use std::time::{Duration, Instant};

use rustix::event::Timespec;
use rustix::event::epoll::{self, CreateFlags, EventData, EventFlags};
use teler_core::media::EndSummary;

use crate::bridge::Turn;

/// Which of a call's sockets an event is for (the low bits of its epoll key).
pub(crate) const TELER: usize = 0;
pub(crate) const REMOTE: usize = 1;
pub(crate) const WAKE: usize = 2;
const KINDS: u64 = 4;
/// The key of a worker's own intake wake-up.
const INTAKE: u64 = u64::MAX;
/// How soon a call whose socket could not be registered is looked at again.
const RETRY: Duration = Duration::from_millis(5);

/// A call a worker can run: its loop, one turn at a time.
pub(crate) trait PooledCall: Send {
    /// One turn of the call's loop (in the call's span).
    fn turn(&mut self) -> Turn;
    /// The sockets to wait on: Teler's, the remote's (once open), the command wake-up.
    fn fds(&self) -> [Option<BorrowedFd<'_>>; 3];
    /// `epoll` says socket `kind` is ready (`readable`: for reading, or closed).
    fn ready(&mut self, kind: usize, readable: bool);
    /// Closes both sockets (the close handshake, bounded): on the calling thread.
    fn finish(self: Box<Self>);
    /// Runs the whole call on this thread instead (no worker took it).
    fn run_here(self: Box<Self>) -> EndSummary;
}

/// How a call comes back to the thread that called `bridge_stream`.
pub(crate) type Outcome = Result<(Box<dyn PooledCall>, Box<EndSummary>), Box<dyn Any + Send>>;

struct Job {
    call: Box<dyn PooledCall>,
    done: Sender<Outcome>,
}

struct WorkerHandle {
    jobs: Sender<Job>,
    wake: UnixStream,
    load: Arc<AtomicUsize>,
}

/// The shared call threads of one connector, started with its first call.
pub(crate) struct Pool {
    workers: Vec<WorkerHandle>,
}

impl Pool {
    /// Starts `threads` workers (at least one); `None` if the system refuses (no epoll, no
    /// thread), and then calls run on their own threads.
    pub(crate) fn start(threads: usize) -> Option<Pool> {
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let ep = epoll::create(CreateFlags::CLOEXEC).ok()?;
            let (wake_rx, wake_tx) = UnixStream::pair().ok()?;
            wake_rx.set_nonblocking(true).ok()?;
            wake_tx.set_nonblocking(true).ok()?;
            epoll::add(
                &ep,
                &wake_rx,
                EventData::new_u64(INTAKE),
                EventFlags::IN | EventFlags::ET,
            )
            .ok()?;
            let (jobs, intake) = mpsc::channel();
            let load = Arc::new(AtomicUsize::new(0));
            let worker = Worker {
                ep,
                wake: wake_rx,
                intake,
                load: load.clone(),
                calls: HashMap::new(),
                next: 0,
                ready: VecDeque::new(),
                timers: BinaryHeap::new(),
            };
            thread::Builder::new()
                .name(format!("teler-calls-{i}"))
                .spawn(move || worker.run())
                .ok()?;
            workers.push(WorkerHandle {
                jobs,
                wake: wake_tx,
                load,
            });
        }
        Some(Pool { workers })
    }

    /// Hands `call` to the least loaded worker; its outcome arrives on the receiver. `Err`
    /// gives the call back if no worker takes it.
    pub(crate) fn submit(
        &self,
        call: Box<dyn PooledCall>,
    ) -> Result<Receiver<Outcome>, Box<dyn PooledCall>> {
        let Some(worker) = self
            .workers
            .iter()
            .min_by_key(|w| w.load.load(Ordering::Relaxed))
        else {
            return Err(call);
        };
        let (done, outcome) = mpsc::channel();
        worker.load.fetch_add(1, Ordering::Relaxed);
        if let Err(mpsc::SendError(job)) = worker.jobs.send(Job { call, done }) {
            worker.load.fetch_sub(1, Ordering::Relaxed);
            return Err(job.call);
        }
        // A full socket already wakes the worker.
        let _ = (&worker.wake).write(&[1]);
        Ok(outcome)
    }

    /// How many calls each worker runs now.
    pub(crate) fn loads(&self) -> Vec<usize> {
        self.workers
            .iter()
            .map(|w| w.load.load(Ordering::Relaxed))
            .collect()
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        // The workers see their intake closed and stop once their last call has ended.
        for w in &self.workers {
            let _ = (&w.wake).write(&[1]);
        }
    }
}

struct Entry {
    call: Box<dyn PooledCall>,
    done: Sender<Outcome>,
    /// Which of the call's sockets are registered with the worker's epoll.
    registered: [bool; 3],
    deadline: Option<Instant>,
    queued: bool,
}

struct Worker {
    ep: OwnedFd,
    wake: UnixStream,
    intake: Receiver<Job>,
    load: Arc<AtomicUsize>,
    calls: HashMap<u64, Entry>,
    next: u64,
    /// Calls to turn, in order.
    ready: VecDeque<u64>,
    /// Deadlines, earliest first; an entry whose call has another deadline by now is stale.
    timers: BinaryHeap<Reverse<(Instant, u64)>>,
}

impl Worker {
    fn run(mut self) {
        let mut events = Vec::with_capacity(256);
        let mut open = true;
        loop {
            if open {
                open = self.take_jobs();
            }
            if !open && self.calls.is_empty() {
                return;
            }
            for id in std::mem::take(&mut self.ready) {
                self.turn(id);
            }
            let now = Instant::now();
            while let Some(Reverse((at, id))) = self.timers.peek().copied()
                && at <= now
            {
                self.timers.pop();
                if let Some(e) = self.calls.get_mut(&id)
                    && e.deadline == Some(at)
                {
                    e.deadline = None;
                    queue(&mut self.ready, id, e);
                }
            }
            let timeout = match (self.ready.is_empty(), self.timers.peek()) {
                (false, _) => Some(Duration::ZERO),
                (true, Some(Reverse((at, _)))) => Some(at.saturating_duration_since(now)),
                (true, None) => None,
            };
            events.clear();
            if self.wait(&mut events, timeout).is_err() {
                continue; // EINTR: look again
            }
            for ev in &events {
                let (key, flags) = (ev.data.u64(), { ev.flags });
                if key == INTAKE {
                    let mut buf = [0u8; 64];
                    while matches!((&self.wake).read(&mut buf), Ok(n) if n > 0) {}
                    open = true;
                    continue;
                }
                let (id, kind) = (key / KINDS, (key % KINDS) as usize);
                let readable = flags.intersects(
                    EventFlags::IN | EventFlags::HUP | EventFlags::ERR | EventFlags::RDHUP,
                );
                if let Some(e) = self.calls.get_mut(&id) {
                    e.call.ready(kind, readable);
                    queue(&mut self.ready, id, e);
                }
            }
        }
    }

    fn wait(
        &self,
        events: &mut Vec<epoll::Event>,
        timeout: Option<Duration>,
    ) -> rustix::io::Result<()> {
        // Rounded up to the millisecond, so a deadline is never woken for just before it.
        let timeout = timeout.map(|t| {
            let t = t.as_nanos().div_ceil(1_000_000) * 1_000_000;
            let t = Duration::from_nanos(u64::try_from(t).unwrap_or(u64::MAX));
            Timespec::try_from(t.min(Duration::from_secs(3600))).unwrap_or(Timespec {
                tv_sec: 3600,
                tv_nsec: 0,
            })
        });
        epoll::wait(
            &self.ep,
            rustix::buffer::spare_capacity(events),
            timeout.as_ref(),
        )?;
        Ok(())
    }

    /// Takes the calls handed over; `false` once the pool is gone.
    fn take_jobs(&mut self) -> bool {
        loop {
            match self.intake.try_recv() {
                Ok(job) => {
                    let id = self.next;
                    self.next += 1;
                    let mut entry = Entry {
                        call: job.call,
                        done: job.done,
                        registered: [false; 3],
                        deadline: None,
                        queued: false,
                    };
                    queue(&mut self.ready, id, &mut entry);
                    self.calls.insert(id, entry);
                    self.register(id);
                }
                Err(TryRecvError::Empty) => return true,
                Err(TryRecvError::Disconnected) => return false,
            }
        }
    }

    /// Registers the call's sockets that are new since its last turn.
    fn register(&mut self, id: u64) {
        let Some(e) = self.calls.get_mut(&id) else {
            return;
        };
        let mut failed = false;
        for (kind, fd) in e.call.fds().into_iter().enumerate() {
            match fd {
                Some(fd) if !e.registered[kind] => {
                    let flags =
                        EventFlags::IN | EventFlags::OUT | EventFlags::RDHUP | EventFlags::ET;
                    let key = EventData::new_u64(id * KINDS + kind as u64);
                    e.registered[kind] = epoll::add(&self.ep, fd, key, flags).is_ok();
                    failed |= !e.registered[kind];
                }
                // Closed by the call: the kernel dropped its registration with it.
                None => e.registered[kind] = false,
                Some(_) => {}
            }
        }
        if failed {
            // Out of kernel memory, say: look at the call again in a few ms (it reads every
            // socket once: an edge may have been missed).
            for kind in [TELER, REMOTE, WAKE] {
                e.call.ready(kind, true);
            }
            let at = Instant::now() + RETRY;
            e.deadline = Some(at);
            self.timers.push(Reverse((at, id)));
        }
    }

    fn turn(&mut self, id: u64) {
        let Some(e) = self.calls.get_mut(&id) else {
            return;
        };
        e.queued = false;
        let turned = catch_unwind(AssertUnwindSafe(|| e.call.turn()));
        match turned {
            Ok(Turn::Again) => {
                queue(&mut self.ready, id, e);
                self.register(id);
            }
            Ok(Turn::Wait(at)) => {
                if at != e.deadline {
                    e.deadline = at;
                    if let Some(at) = at {
                        self.timers.push(Reverse((at, id)));
                    }
                }
                self.register(id);
            }
            Ok(Turn::Ended(summary)) => {
                if let Some(e) = self.remove(id) {
                    let _ = e.done.send(Ok((e.call, summary)));
                }
            }
            Err(panic) => {
                if let Some(e) = self.remove(id) {
                    let _ = e.done.send(Err(panic));
                }
            }
        }
    }

    /// Takes a call off this worker: its sockets stay open, for the caller to close.
    fn remove(&mut self, id: u64) -> Option<Entry> {
        let e = self.calls.remove(&id)?;
        for (kind, fd) in e.call.fds().into_iter().enumerate() {
            if let Some(fd) = fd
                && e.registered[kind]
            {
                let _ = epoll::delete(&self.ep, fd);
            }
        }
        self.load.fetch_sub(1, Ordering::Relaxed);
        Some(e)
    }
}

fn queue(ready: &mut VecDeque<u64>, id: u64, e: &mut Entry) {
    if !e.queued {
        e.queued = true;
        ready.push_back(id);
    }
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pool")
            .field("calls", &self.loads())
            .finish()
    }
}
