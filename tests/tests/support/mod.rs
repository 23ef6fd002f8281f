//! Code the test binaries share; each binary declares `mod support;`.

pub mod http_server;
