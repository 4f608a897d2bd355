//! End-to-end tests of the client API (`chainspace_node::api`): a local 2 x 4 network
//! behind the API on a free port of 127.0.0.1, driven over HTTP as the original's Python
//! tools drive it. Every wait is bounded; every server and network is stopped at the end.

mod bad_input;
mod common;
mod load;
mod walkthrough;
