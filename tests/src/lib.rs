//! Shared helpers for the workspace's integration tests.
//!
//! The scenario files live in `tests/tests/`; this library holds what they
//! share (fixtures now, the client/server `Pair` harness once both roles
//! exist).

#![forbid(unsafe_code)]
