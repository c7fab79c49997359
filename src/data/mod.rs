//! DATA: reading data sets from local files (downloading is the CLI's job).
pub mod mnist;
