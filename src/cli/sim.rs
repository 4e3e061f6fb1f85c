//! `hiktalk sim` arguments.
