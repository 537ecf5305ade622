/// mimalloc instead of glibc's allocator: the hot path allocates many small, short-lived buffers
/// (JSON bodies, SQL arguments) across threads, where glibc's arenas cost the most (figures in
/// the README's "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    starsgate::cli::main()
}
