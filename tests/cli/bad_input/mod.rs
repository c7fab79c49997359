//! Every bad input gets a clear error, never a panic: each case asserts that the message names
//! the file, field or value and says what to do. One module per area: MNIST files,
//! configuration values (and the warnings for a coarse dt), networks too large for the GPU and
//! no adapter, NaN/Inf in the state, output folders that cannot be written, and the command
//! line's rough edges (closed stdout, locked run directories, out-of-range flags). CLI cases run
//! the `snn` binary on the embedded subset with a few images.

pub mod config;
pub mod data;
pub mod gpu;
mod helpers;
pub mod output;
pub mod run_dir;
pub mod state;
pub mod stdout;
