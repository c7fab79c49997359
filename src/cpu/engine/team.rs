//! A team of threads that runs the chunks of one copy's step, step after step, meeting at a
//! spinning barrier. A step of a large network takes tens of microseconds; rayon's
//! fork-join per step lets its idle workers fall asleep between steps, and waking them
//! costs about as much as the step (measured in RESULTS.md, "One network on all cores").
//! The team lives for one run of steps (`std::thread::scope`): member `k` runs chunk `k`
//! of every step while the caller runs chunk 0 and the serial parts in between.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering};

/// Spins before a waiting thread starts yielding its core (about 100 µs).
const SPINS_BEFORE_YIELD: u32 = 1 << 14;

/// The work of member `k` at step `t`: chunk `k` of the views at `views`.
pub(crate) type Work<'a> = dyn Fn(usize, *mut u8, u32, bool) + Sync + 'a;

/// The shared state of one team (see the module docs).
pub(crate) struct Team {
    members: usize,
    /// Bumped once per step (and once to stop).
    generation: AtomicU32,
    /// Members done with the current step.
    done: AtomicUsize,
    /// A member panicked in its work: its chunk of the step is missing.
    failed: AtomicBool,
    stop: AtomicBool,
    views: AtomicPtr<u8>,
    t: AtomicU32,
    learn: AtomicBool,
}

impl Team {
    /// A team of `members` threads besides the caller's.
    pub(crate) fn new(members: usize) -> Self {
        Self {
            members,
            generation: AtomicU32::new(0),
            done: AtomicUsize::new(0),
            failed: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            views: AtomicPtr::new(std::ptr::null_mut()),
            t: AtomicU32::new(0),
            learn: AtomicBool::new(false),
        }
    }

    /// Member `k`'s loop: `work(k, views, t, learn)` once per step until the team stops.
    pub(crate) fn serve(&self, k: usize, work: &Work<'_>) {
        let mut seen = 0u32;
        loop {
            seen = wait_until(|| {
                let g = self.generation.load(Ordering::Acquire);
                (g != seen).then_some(g)
            });
            if self.stop.load(Ordering::Acquire) {
                return;
            }
            // Counted even if `work` panics, so the caller stops waiting and the scope
            // passes the panic on.
            let _done = Done(self);
            work(
                k,
                self.views.load(Ordering::Acquire),
                self.t.load(Ordering::Acquire),
                self.learn.load(Ordering::Acquire),
            );
        }
    }

    /// Starts step `t` for every member, on the views at `views`; the caller then runs its
    /// own chunk and [`Self::wait`]s.
    pub(crate) fn start(&self, views: *mut u8, t: u32, learn: bool) {
        self.done.store(0, Ordering::Relaxed);
        self.views.store(views, Ordering::Release);
        self.t.store(t, Ordering::Release);
        self.learn.store(learn, Ordering::Release);
        self.generation.fetch_add(1, Ordering::Release);
    }

    /// Returns once every member has finished the current step.
    ///
    /// # Panics
    /// If a member panicked in the step (the scope then passes the member's panic on).
    pub(crate) fn wait(&self) {
        wait_until(|| (self.done.load(Ordering::Acquire) == self.members).then_some(()));
        assert!(
            !self.failed.load(Ordering::Acquire),
            "a thread of the step's team panicked"
        );
    }

    /// Ends every member's loop when the guard drops (also when the caller panics, so the
    /// scope can join its members).
    pub(crate) fn stop_on_drop(&self) -> Stop<'_> {
        Stop(self)
    }
}

/// Ends a team's loops when dropped ([`Team::stop_on_drop`]).
pub(crate) struct Stop<'a>(&'a Team);

impl Drop for Stop<'_> {
    fn drop(&mut self) {
        self.0.stop.store(true, Ordering::Release);
        self.0.generation.fetch_add(1, Ordering::Release);
    }
}

/// Counts a member done with its step when dropped, failed if it is unwinding.
struct Done<'a>(&'a Team);

impl Drop for Done<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.failed.store(true, Ordering::Release);
        }
        self.0.done.fetch_add(1, Ordering::Release);
    }
}

/// Spins until `ready` gives a value, yielding the core after [`SPINS_BEFORE_YIELD`] tries.
fn wait_until<T>(mut ready: impl FnMut() -> Option<T>) -> T {
    let mut spins = 0u32;
    loop {
        if let Some(v) = ready() {
            return v;
        }
        if spins < SPINS_BEFORE_YIELD {
            spins += 1;
            std::hint::spin_loop();
        } else {
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs `steps` steps on a team of `members` threads, member `k` adding `t + 1` to cell
    /// `k` of the step's array, the caller to cell 0; returns the sums.
    fn run(members: usize, steps: u32, fail_at: Option<(usize, u32)>) -> Vec<u64> {
        let mut sums = vec![0u64; members + 1];
        let team = Team::new(members);
        let work = |k: usize, cells: *mut u8, t: u32, _: bool| {
            if fail_at == Some((k, t)) {
                panic!("member {k} fails at step {t}");
            }
            // SAFETY: cell `k` is member `k`'s alone during the step.
            unsafe { *(cells as *mut u64).add(k) += t as u64 + 1 };
        };
        let (team, work) = (&team, &work);
        std::thread::scope(|s| {
            for k in 1..=members {
                s.spawn(move || team.serve(k, work));
            }
            let _stop = team.stop_on_drop();
            for t in 0..steps {
                let base = sums.as_mut_ptr();
                team.start(base as *mut u8, t, false);
                // SAFETY: cell 0 is the caller's.
                unsafe { *base += t as u64 + 1 };
                team.wait();
            }
        });
        sums
    }

    #[test]
    fn every_member_runs_every_step() {
        let steps = 1000u64;
        assert_eq!(run(3, steps as u32, None), vec![steps * (steps + 1) / 2; 4]);
    }

    #[test]
    fn a_member_that_panics_stops_the_run_instead_of_hanging() {
        let r = std::panic::catch_unwind(|| run(2, 100, Some((2, 40))));
        assert!(r.is_err());
    }
}
