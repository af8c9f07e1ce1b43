//! `sharenet`: the node daemon and client command-line tool (built in issue 4).

fn main() {}
