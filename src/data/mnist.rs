//! MNIST IDX reader (placeholder, being written).
