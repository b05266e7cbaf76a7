//! A drop-in replacement for `vde_switch` 2.3.2 and `uml_switch`.

#![deny(clippy::undocumented_unsafe_blocks)]

pub mod cli;
pub mod cnum;
pub mod config;
pub mod fabric;
pub mod fstp;
pub mod impair;
pub mod server;
pub mod service;
pub mod sys;
