//! DATA: reading data sets from local files, and fetching MNIST into a directory.
#[cfg(feature = "fetch")]
pub mod fetch;
pub mod mnist;
