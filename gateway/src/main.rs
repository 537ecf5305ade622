/// mimalloc instead of glibc's allocator: with 2 cores busy, glibc's malloc and free took about a
/// fifth of the CPU in the load bench (see README "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    starsgate::cli::main()
}
