//! Label assignment and voting (placeholder, being written).
