//! `starsgate demo`: placeholder replaced below.
pub async fn run() -> Result<(), String> {
    Err("demo not built yet".into())
}
