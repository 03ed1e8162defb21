//! The `kiribi` command line (work in progress).

fn main() {}
