//! A drop-in replacement for `vde_switch` 2.3.2 and `uml_switch`.

pub mod cli;
pub mod config;
pub mod fabric;
pub mod fstp;
pub mod server;
pub mod sys;
