//! DATA: reading data sets from local files, and fetching MNIST into a directory.
pub mod fetch;
pub mod mnist;
