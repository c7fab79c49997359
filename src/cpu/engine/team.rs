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

    /// Waits, when the guard drops, for every member to finish the current step: taken
    /// after [`Self::start`] and dropped before the step's views, it keeps them alive for
    /// the members also where the caller's own chunk panics (a member may still be reading
    /// them as the caller unwinds).
    pub(crate) fn finish_on_drop(&self) -> Finish<'_> {
        Finish(self)
    }
}

/// Waits for a team's members to finish their step when dropped ([`Team::finish_on_drop`]).
pub(crate) struct Finish<'a>(&'a Team);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        let team = self.0;
        wait_until(|| (team.done.load(Ordering::Acquire) == team.members).then_some(()));
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

    /// Where the caller's own chunk panics, its step's data outlive the members' use of
    /// them: a member still at work when the caller unwinds finishes before they go.
    #[test]
    fn a_callers_panic_waits_for_the_members_step() {
        let dropped = AtomicBool::new(false);
        let late = AtomicBool::new(false);
        /// The step's data: marks `dropped` when it goes.
        struct Views<'a>(&'a AtomicBool);
        impl Drop for Views<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Release);
            }
        }
        let started = AtomicUsize::new(0);
        let team = Team::new(2);
        let work = |_: usize, _: *mut u8, _: u32, _: bool| {
            started.fetch_add(1, Ordering::AcqRel);
            std::thread::sleep(std::time::Duration::from_millis(50));
            if dropped.load(Ordering::Acquire) {
                late.store(true, Ordering::Release);
            }
        };
        let (team, work) = (&team, &work);
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::thread::scope(|s| {
                for k in 1..=2 {
                    s.spawn(move || team.serve(k, work));
                }
                let _stop = team.stop_on_drop();
                let _views = Views(&dropped);
                team.start(std::ptr::null_mut(), 0, false);
                let _finish = team.finish_on_drop();
                // The caller's chunk fails while the members are at work.
                wait_until(|| (started.load(Ordering::Acquire) == 2).then_some(()));
                // Unwinding at once (no panic hook, whose report may outlast the step).
                std::panic::resume_unwind(Box::new("the caller's chunk fails"));
            })
        }));
        assert!(r.is_err());
        assert!(dropped.load(Ordering::Acquire));
        assert!(
            !late.load(Ordering::Acquire),
            "a member outlived the step's data"
        );
    }

    #[test]
    fn a_member_that_panics_stops_the_run_instead_of_hanging() {
        let r = std::panic::catch_unwind(|| run(2, 100, Some((2, 40))));
        assert!(r.is_err());
    }
}
