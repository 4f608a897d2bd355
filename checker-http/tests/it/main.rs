//! Integration tests: the real Python checker services of `contracts/python`, managed
//! processes, and misbehaving servers. Everything listens on 127.0.0.1, every wait is
//! bounded, and every process started is killed.

mod agreement;
mod bad;
mod common;
mod managed;
mod python;
mod throughput;
