//! Saving and loading runs (placeholder, being written).
