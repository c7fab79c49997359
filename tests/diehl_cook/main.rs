//! The Diehl & Cook experiment on the CPU engine, in one test binary (they link once): the
//! paper's constants, winner-take-all through lateral inhibition, learning on synthetic
//! patterns and on MNIST, and many networks in one run.

mod learning_mnist;
mod learning_synthetic;
mod multi_networks;
mod paper_constants;
mod winner_take_all;
