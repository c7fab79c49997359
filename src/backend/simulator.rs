//! The seam between a general [`Network`] and the engines that run it: the CPU
//! `cpu::engine::Engine` and the GPU `gpu::GpuEngine` both implement [`Simulator`], so an
//! experiment, a benchmark or a test drives either through one `&mut dyn Simulator`.

use crate::error::Result;
use crate::model::net::{Network, Recording};

/// A general network engine: K copies of one [`Network`], stepped together. Every method
/// means the same on every backend; a seed gives the same spikes on all of them (see
/// `docs/architecture.md` for where floats may differ on a GPU that is not llvmpipe).
pub trait Simulator {
    /// `"cpu"`, or `"gpu:<adapter>"`.
    fn describe(&self) -> String;

    /// The network this engine runs.
    fn network(&self) -> &Network;

    /// Steps run so far.
    fn step_count(&self) -> u32;

    /// Turns learning (STDP and θ adaptation) on or off.
    fn set_learning(&mut self, on: bool);

    /// Runs `steps` steps of every copy.
    ///
    /// # Errors
    /// A clock past `u32::MAX`, a NaN or infinite neuron variable, device errors.
    fn run(&mut self, steps: u32) -> Result<()>;

    /// Sets the rates (Hz) of Poisson source `population` in `copy`, one per neuron.
    ///
    /// # Errors
    /// An unknown or non-Poisson population, a bad copy, rates out of range.
    fn set_rates(&mut self, population: &str, copy: usize, rates_hz: &[f32]) -> Result<()>;

    /// The weights of `projection` in `copy`, in synapse order.
    ///
    /// # Errors
    /// An unknown projection, a bad copy, device errors.
    fn weights(&self, projection: &str, copy: usize) -> Result<Vec<f32>>;

    /// Replaces the weights of `projection` in `copy`.
    ///
    /// # Errors
    /// As the engines' `set_weights`: lengths, values outside [w_min, w_max].
    fn set_weights(&mut self, projection: &str, copy: usize, w: &[f32]) -> Result<()>;

    /// Scales each post neuron's incoming weights of `projection` to sum to `target_sum`.
    ///
    /// # Errors
    /// An unknown projection, a bad target, a projection whose weights cannot change.
    fn normalize_columns(&mut self, projection: &str, target_sum: f32) -> Result<()>;

    /// State variable `variable` of every neuron of `population` in `copy`.
    ///
    /// # Errors
    /// Unknown names, a source, a bad copy.
    fn state(&self, population: &str, variable: &str, copy: usize) -> Result<Vec<f32>>;

    /// Sets state variable `variable` of every neuron of `population` in `copy`.
    ///
    /// # Errors
    /// As [`Self::state`]; a wrong length or a value that is not finite.
    fn set_state(
        &mut self,
        population: &str,
        variable: &str,
        copy: usize,
        values: &[f32],
    ) -> Result<()>;

    /// What monitor `monitor` has recorded in `copy`.
    ///
    /// # Errors
    /// An unknown monitor or a bad copy.
    fn recording(&self, monitor: &str, copy: usize) -> Result<&Recording>;

    /// Forgets every recording.
    fn clear_recordings(&mut self);
}

/// Implements [`Simulator`] for an engine type whose inherent methods have the trait's names
/// (`weights` returning a slice).
macro_rules! impl_simulator {
    ($t:ty, $describe:expr) => {
        impl $crate::backend::Simulator for $t {
            fn describe(&self) -> String {
                let f: fn(&$t) -> String = $describe;
                f(self)
            }
            fn network(&self) -> &$crate::model::net::Network {
                <$t>::network(self)
            }
            fn step_count(&self) -> u32 {
                <$t>::step_count(self)
            }
            fn set_learning(&mut self, on: bool) {
                <$t>::set_learning(self, on)
            }
            fn run(&mut self, steps: u32) -> $crate::error::Result<()> {
                <$t>::run(self, steps)
            }
            fn set_rates(&mut self, p: &str, c: usize, r: &[f32]) -> $crate::error::Result<()> {
                <$t>::set_rates(self, p, c, r)
            }
            fn weights(&self, p: &str, c: usize) -> $crate::error::Result<Vec<f32>> {
                <$t>::weights(self, p, c).map(<[f32]>::to_vec)
            }
            fn set_weights(&mut self, p: &str, c: usize, w: &[f32]) -> $crate::error::Result<()> {
                <$t>::set_weights(self, p, c, w)
            }
            fn normalize_columns(&mut self, p: &str, s: f32) -> $crate::error::Result<()> {
                <$t>::normalize_columns(self, p, s)
            }
            fn state(&self, p: &str, v: &str, c: usize) -> $crate::error::Result<Vec<f32>> {
                <$t>::state(self, p, v, c)
            }
            fn set_state(
                &mut self,
                p: &str,
                v: &str,
                c: usize,
                x: &[f32],
            ) -> $crate::error::Result<()> {
                <$t>::set_state(self, p, v, c, x)
            }
            fn recording(
                &self,
                m: &str,
                c: usize,
            ) -> $crate::error::Result<&$crate::model::net::Recording> {
                <$t>::recording(self, m, c)
            }
            fn clear_recordings(&mut self) {
                <$t>::clear_recordings(self)
            }
        }
    };
}
pub(crate) use impl_simulator;
