fn main() -> std::process::ExitCode {
    starsgate::cli::main()
}
