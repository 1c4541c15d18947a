//! The server against a real PostgreSQL: a fresh database per test (see `testkit`). One test
//! binary of topic modules.

mod admin;
mod auth;
mod bodies;
mod enroll;
mod helpers;
mod push;
mod rejections;
