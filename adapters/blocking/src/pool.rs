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

/// Dropped with the pool, fields in this order: the intake closes, then the wake-up's
/// write end, which the worker sees as an end of file. So the worker looks at its intake,
/// finds it closed, and stops once its last call has ended.
struct WorkerHandle {
    jobs: Sender<Job>,
    wake: UnixStream,
    load: Arc<AtomicUsize>,
    /// Never joined by the pool (a call may outlive it); the tests wait on it.
    #[cfg_attr(not(test), allow(dead_code))]
    thread: Option<thread::JoinHandle<()>>,
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
            let thread = thread::Builder::new()
                .name(format!("teler-calls-{i}"))
                .spawn(move || worker.run())
                .ok()?;
            workers.push(WorkerHandle {
                jobs,
                wake: wake_tx,
                load,
                thread: Some(thread),
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

struct Entry {
    call: Box<dyn PooledCall>,
    done: Sender<Outcome>,
    /// Which of the call's sockets are registered with the worker's epoll.
    registered: [bool; 3],
    /// When the call wants its next turn at the latest (its core's deadline).
    deadline: Option<Instant>,
    /// The call's entry in the timer heap, if one is pending: at most one that matters per
    /// call, so a deadline that moves with every frame (an idle timeout) adds nothing to the
    /// heap until it fires early and is pushed again at its new place.
    timer: Option<Instant>,
    queued: bool,
}

impl Entry {
    /// The call wants a turn by `at`; pushes a timer only if it is earlier than the pending
    /// one (a later deadline is re-pushed when the pending timer fires).
    fn wake_by(&mut self, at: Option<Instant>, id: u64, timers: &mut Timers) {
        self.deadline = at;
        if let Some(at) = at
            && self.timer.is_none_or(|t| at < t)
        {
            self.timer = Some(at);
            timers.push(Reverse((at, id)));
        }
    }
}

type Timers = BinaryHeap<Reverse<(Instant, u64)>>;

struct Worker {
    ep: OwnedFd,
    wake: UnixStream,
    intake: Receiver<Job>,
    load: Arc<AtomicUsize>,
    calls: HashMap<u64, Entry>,
    next: u64,
    /// Calls to turn, in order.
    ready: VecDeque<u64>,
    /// Timers, earliest first; one that is not its call's pending `timer` is stale.
    timers: Timers,
}

impl Worker {
    fn run(mut self) {
        let mut events = Vec::with_capacity(256);
        let mut batch = VecDeque::new();
        // Whether the pool still hands over calls, and whether it said it did.
        let (mut open, mut handed) = (true, true);
        loop {
            if std::mem::take(&mut handed) {
                open = self.take_jobs();
            }
            std::mem::swap(&mut batch, &mut self.ready);
            for id in batch.drain(..) {
                self.turn(id);
            }
            let now = Instant::now();
            while let Some(Reverse((at, id))) = self.timers.peek().copied()
                && at <= now
            {
                self.timers.pop();
                let Some(e) = self.calls.get_mut(&id) else {
                    continue; // the call has ended
                };
                if e.timer != Some(at) {
                    continue; // superseded by an earlier one
                }
                e.timer = None;
                match e.deadline {
                    Some(d) if d <= now => queue(&mut self.ready, id, e),
                    later => e.wake_by(later, id, &mut self.timers),
                }
            }
            if !open && self.calls.is_empty() {
                return; // the pool is gone and so is the last call
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
                    handed = true;
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
                        timer: None,
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
            e.wake_by(Some(Instant::now() + RETRY), id, &mut self.timers);
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
                e.wake_by(at, id, &mut self.timers);
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

#[cfg(test)]
mod tests {
    //! The pool on a real `epoll`, with scripted calls on real socket pairs.
    use super::*;
    use std::os::fd::AsFd;
    use teler_core::media::{EndReason, Stats};

    type Plan = Box<dyn FnMut(usize, bool) -> Turn + Send>;

    /// A call whose turns follow `plan(turn number, readable)`; reports each turn's time.
    struct Fake {
        rx: UnixStream,
        readable: bool,
        n: usize,
        turns: Sender<(usize, Instant, bool)>,
        plan: Plan,
        /// Names its socket twice (as Teler's and as the wake-up): the second registration
        /// fails (`EEXIST`).
        twice: bool,
        /// Writes into its socket each turn until it is full, and tells the plan whether
        /// anything went (in place of `readable`).
        fill: bool,
    }

    impl PooledCall for Fake {
        fn turn(&mut self) -> Turn {
            self.n += 1;
            let mut readable = std::mem::take(&mut self.readable);
            if self.fill {
                let mut wrote = 0;
                while let Ok(n) = (&self.rx).write(&[0u8; 4096]) {
                    wrote += n;
                }
                readable = wrote > 0;
            } else if readable {
                let mut buf = [0u8; 64];
                while matches!((&self.rx).read(&mut buf), Ok(n) if n > 0) {}
            }
            let _ = self.turns.send((self.n, Instant::now(), readable));
            (self.plan)(self.n, readable)
        }
        fn fds(&self) -> [Option<BorrowedFd<'_>>; 3] {
            let again = self.twice.then(|| self.rx.as_fd());
            [Some(self.rx.as_fd()), None, again]
        }
        fn ready(&mut self, kind: usize, readable: bool) {
            if kind == TELER {
                self.readable |= readable;
            }
        }
        fn finish(self: Box<Self>) {}
        fn run_here(self: Box<Self>) -> EndSummary {
            summary()
        }
    }

    fn summary() -> EndSummary {
        EndSummary {
            reason: EndReason::StoppedByApp {
                reason: "done".into(),
            },
            stats: Stats::default(),
            start: None,
        }
    }

    fn ended() -> Turn {
        Turn::Ended(Box::new(summary()))
    }

    /// Submits a fake call; returns its peer socket, its turns and its outcome.
    fn submit(pool: &Pool, plan: impl FnMut(usize, bool) -> Turn + Send + 'static) -> Submitted {
        submit_with(pool, false, false, plan)
    }

    type Submitted = (
        UnixStream,
        Receiver<(usize, Instant, bool)>,
        Receiver<Outcome>,
    );

    fn submit_with(
        pool: &Pool,
        twice: bool,
        fill: bool,
        plan: impl FnMut(usize, bool) -> Turn + Send + 'static,
    ) -> Submitted {
        let (rx, peer) = UnixStream::pair().unwrap();
        rx.set_nonblocking(true).unwrap();
        let (turns_tx, turns) = mpsc::channel();
        let call = Fake {
            rx,
            readable: false,
            n: 0,
            turns: turns_tx,
            plan: Box::new(plan),
            twice,
            fill,
        };
        let outcome = pool.submit(Box::new(call)).ok().unwrap();
        (peer, turns, outcome)
    }

    const LONG: Duration = Duration::from_secs(10);

    /// The turns of a call until it ended (a socket's first writable edge may add one).
    fn all_turns(turns: &Receiver<(usize, Instant, bool)>) -> Vec<(usize, Instant, bool)> {
        turns.iter().collect()
    }

    #[test]
    fn a_call_turns_again_at_its_deadline_not_before() {
        let pool = Pool::start(1).unwrap();
        let at = Instant::now() + Duration::from_millis(40);
        // Waits for `at` (again after any early turn), then ends.
        let (_peer, turns, outcome) = submit(&pool, move |_, _| {
            if Instant::now() < at {
                Turn::Wait(Some(at))
            } else {
                ended()
            }
        });
        let (_, s) = outcome.recv_timeout(LONG).unwrap().ok().unwrap();
        assert_eq!(*s, summary());
        assert_eq!(pool.loads(), vec![0]);
        let turns = all_turns(&turns);
        let (_, last, _) = turns[turns.len() - 1];
        assert!(last >= at, "ended {:?} early", at - last);
        // The first turn, maybe the socket's first writable edge, then the deadline's.
        assert!(
            turns.len() <= 3,
            "no turns but for a reason: {}",
            turns.len()
        );
    }

    #[test]
    fn a_readable_socket_wakes_a_waiting_call_and_again_turns_at_once() {
        let pool = Pool::start(1).unwrap();
        let mut reads = 0;
        let (mut peer, turns, outcome) = submit(&pool, move |_, readable| {
            reads += usize::from(readable);
            match (readable, reads) {
                (false, _) => Turn::Wait(None),
                (true, 1) => Turn::Again,
                (true, _) => ended(),
            }
        });
        assert!(!turns.recv_timeout(LONG).unwrap().2);
        peer.write_all(b"x").unwrap();
        // Turns until the byte is seen (a writable edge may come first).
        while !turns.recv_timeout(LONG).unwrap().2 {}
        // Again: one more turn, with nothing written, finding nothing to read.
        assert!(!turns.recv_timeout(LONG).unwrap().2);
        peer.write_all(b"y").unwrap();
        assert!(outcome.recv_timeout(LONG).unwrap().is_ok());
        assert!(all_turns(&turns).last().unwrap().2, "ended on reading y");
    }

    #[test]
    fn a_panicking_call_comes_back_as_its_panic_and_the_others_go_on() {
        let pool = Pool::start(1).unwrap();
        let (mut b_peer, b_turns, b_outcome) = submit(&pool, |n, _| match n {
            1 | 2 => Turn::Wait(None),
            _ => ended(),
        });
        assert_eq!(b_turns.recv_timeout(LONG).unwrap().0, 1);
        let (_a_peer, _a_turns, a_outcome) = submit(&pool, |_, _| panic!("boom"));
        let panic = a_outcome.recv_timeout(LONG).unwrap().err().unwrap();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"boom"));
        assert_eq!(pool.loads(), vec![1], "only B is left");
        b_peer.write_all(b"x").unwrap();
        assert_eq!(b_turns.recv_timeout(LONG).unwrap().0, 2);
        b_peer.write_all(b"x").unwrap();
        assert!(b_outcome.recv_timeout(LONG).unwrap().is_ok());
        assert_eq!(pool.loads(), vec![0]);
    }

    #[test]
    fn a_thread_with_no_call_left_waits_for_the_next() {
        let pool = Pool::start(1).unwrap();
        for _ in 0..3 {
            let (_peer, _turns, outcome) = submit(&pool, |_, _| ended());
            assert!(outcome.recv_timeout(LONG).unwrap().is_ok());
            assert_eq!(pool.loads(), vec![0]);
        }
    }

    #[test]
    fn dropping_the_pool_stops_its_threads_once_their_calls_have_ended() {
        let mut pool = Pool::start(2).unwrap();
        // A live call on one thread; the other is idle.
        let (mut peer, turns, outcome) = submit(&pool, |_, readable| match readable {
            false => Turn::Wait(None),
            true => ended(),
        });
        turns.recv_timeout(LONG).unwrap();
        let threads: Vec<_> = pool
            .workers
            .iter_mut()
            .map(|w| w.thread.take().unwrap())
            .collect();
        let busy = pool.loads().iter().position(|&n| n == 1).unwrap();
        drop(pool);
        let (idle, busy) = match busy {
            0 => (&threads[1], &threads[0]),
            _ => (&threads[0], &threads[1]),
        };
        while !idle.is_finished() {
            thread::sleep(Duration::from_millis(2)); // under the test harness's own limit
        }
        assert!(!busy.is_finished(), "the thread with a call goes on");
        peer.write_all(b"x").unwrap();
        assert!(outcome.recv_timeout(LONG).unwrap().is_ok());
        while !busy.is_finished() {
            thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn a_deadline_moved_later_is_kept_and_the_earlier_timer_turns_nothing() {
        let pool = Pool::start(1).unwrap();
        let t0 = Instant::now();
        let (early, late) = (
            t0 + Duration::from_millis(30),
            t0 + Duration::from_millis(300),
        );
        let mut moved = false;
        // Waits for `early`; reading a byte moves the deadline to `late`; ends at `late`.
        let (mut peer, turns, outcome) = submit(&pool, move |_, readable| {
            moved |= readable;
            let now = Instant::now();
            match (moved, now < early, now < late) {
                (false, true, _) => Turn::Wait(Some(early)),
                (false, false, _) => Turn::Wait(None),
                (true, _, true) => Turn::Wait(Some(late)),
                (true, _, false) => ended(),
            }
        });
        turns.recv_timeout(LONG).unwrap();
        peer.write_all(b"x").unwrap();
        assert!(outcome.recv_timeout(LONG).unwrap().is_ok());
        let turns = all_turns(&turns);
        let read = turns.iter().position(|t| t.2).unwrap();
        if turns[read].1 < early {
            // The byte moved the deadline before the early timer fired: that timer re-arms
            // for `late` instead of turning the call.
            let after: Vec<_> = turns[read + 1..].iter().map(|t| t.1).collect();
            assert!(after.iter().all(|&t| t >= late), "turned before `late`");
            assert_eq!(after.len(), 1);
        }
    }

    /// The calling thread's CPU time (user + system), in clock ticks.
    fn thread_cpu_ticks() -> u64 {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .unwrap()
            .1
            .split_whitespace()
            .collect();
        fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap()
    }

    #[test]
    fn a_thread_waiting_for_a_deadline_sleeps() {
        let pool = Pool::start(1).unwrap();
        let at = Instant::now() + Duration::from_millis(400);
        let (cpu_tx, cpu) = mpsc::channel();
        let (_peer, _turns, outcome) = submit(&pool, move |_, _| {
            let _ = cpu_tx.send(thread_cpu_ticks()); // on the pool's thread
            if Instant::now() < at {
                Turn::Wait(Some(at))
            } else {
                ended()
            }
        });
        assert!(outcome.recv_timeout(LONG).unwrap().is_ok());
        let ticks: Vec<u64> = cpu.iter().collect();
        let spent = ticks[ticks.len() - 1] - ticks[0];
        // 400 ms of waiting; a thread that spun would have spent most of it on the CPU.
        let tick_ms = 10; // /proc counts in USER_HZ = 100 ticks a second on Linux
        assert!(
            spent * tick_ms < 100,
            "the thread spent {} ms of CPU waiting",
            spent * tick_ms
        );
    }

    #[test]
    fn a_socket_that_cannot_be_registered_is_read_again_after_a_short_wait() {
        let pool = Pool::start(1).unwrap();
        // Nothing is ever written: past the socket's first writable edge, only the retry
        // (every RETRY, since the registration fails each time) gives the call its turns.
        let (_peer, turns, outcome) = submit_with(&pool, true, false, |n, _| match n {
            1..4 => Turn::Wait(None),
            _ => ended(),
        });
        assert!(outcome.recv_timeout(LONG).unwrap().is_ok());
        let turns = all_turns(&turns);
        assert_eq!(turns.len(), 4);
        assert!(
            turns[1..].iter().all(|t| t.2),
            "marked readable for the retry"
        );
        let took = turns[3].1 - turns[0].1;
        assert!(took >= RETRY, "retried without waiting: {took:?}");
    }

    #[test]
    fn a_socket_that_drains_wakes_a_call_waiting_to_write() {
        let pool = Pool::start(1).unwrap();
        // Turn 1 fills the socket; then only the writable edge of the peer draining it can
        // give the call a turn that writes (the registration's own edge is gone: epoll finds
        // the socket full by the time it looks).
        let (mut peer, turns, outcome) =
            submit_with(&pool, false, true, |n, wrote| match (n, wrote) {
                (1, _) | (_, false) => Turn::Wait(None),
                (_, true) => ended(),
            });
        assert!(turns.recv_timeout(LONG).unwrap().2, "turn 1 wrote");
        peer.set_nonblocking(true).unwrap();
        let mut buf = [0u8; 65536];
        while matches!(peer.read(&mut buf), Ok(n) if n > 0) {}
        assert!(outcome.recv_timeout(LONG).unwrap().is_ok());
    }

    #[test]
    fn calls_go_to_the_least_loaded_thread() {
        let pool = Pool::start(2).unwrap();
        let (_p1, t1, _o1) = submit(&pool, |_, _| Turn::Wait(None));
        t1.recv_timeout(LONG).unwrap();
        let (_p2, t2, _o2) = submit(&pool, |_, _| Turn::Wait(None));
        t2.recv_timeout(LONG).unwrap();
        assert_eq!(pool.loads(), vec![1, 1]);
        assert!(format!("{pool:?}").contains("[1, 1]"));
    }

    #[test]
    fn a_moving_deadline_keeps_one_timer_until_it_fires() {
        let (done, _) = mpsc::channel();
        let (rx, _peer) = UnixStream::pair().unwrap();
        let (turns, _) = mpsc::channel();
        let mut e = Entry {
            call: Box::new(Fake {
                rx,
                readable: false,
                n: 0,
                turns,
                plan: Box::new(|_, _| Turn::Again),
                twice: false,
                fill: false,
            }),
            done,
            registered: [false; 3],
            deadline: None,
            timer: None,
            queued: false,
        };
        let mut timers = Timers::new();
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        e.wake_by(Some(ms(100)), 7, &mut timers);
        assert_eq!(timers.len(), 1);
        // Later, or the same: no new timer (an idle timeout moving with every frame).
        for n in [100, 101, 200, 300] {
            e.wake_by(Some(ms(n)), 7, &mut timers);
        }
        assert_eq!(timers.len(), 1);
        assert_eq!((e.timer, e.deadline), (Some(ms(100)), Some(ms(300))));
        // Earlier: a new one.
        e.wake_by(Some(ms(50)), 7, &mut timers);
        assert_eq!(timers.len(), 2);
        assert_eq!(timers.peek(), Some(&Reverse((ms(50), 7))));
        // No deadline: the pending timer stays (it fires early and finds none).
        e.wake_by(None, 7, &mut timers);
        assert_eq!((e.timer, e.deadline, timers.len()), (Some(ms(50)), None, 2));
    }
}
