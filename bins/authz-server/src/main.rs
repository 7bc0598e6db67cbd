//! `authz-server`: the command line. See `authz-server --help` and `cli/`.

fn main() -> std::process::ExitCode {
    authz_server::cli::main()
}
