//! The Diehl & Cook 2015 reproduction: training, label assignment, voting, evaluation.
pub mod config;
pub mod evaluate;
pub mod io;
pub mod plots;
pub mod train;
