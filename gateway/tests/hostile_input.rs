//! Hostile and careless files given to the `starsgate` binary: FIFOs, devices, huge and sparse
//! files, values and keys of megabytes, control characters, a world-writable plugin cache. Every
//! command ends on its own with exit 1 and short, one-line problems; nothing blocks, floods the
//! terminal, or changes what it did not create.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Longest line a problem may print (file path, key and reason, each cut).
const LINE_MAX: usize = 600;

const TOKENS: &[(&str, &str)] = &[("SHOP_TOKEN", "700001:tok-shop")];

/// Runs the binary; fails the test if it has not ended within a generous deadline (a command
/// blocked on a FIFO never would).
fn starsgate(args: &[&str], env: &[(&str, &str)], cache: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_starsgate"));
    cmd.args(args)
        .env_remove("STARSGATE_CRASH_AT")
        .env("STARSGATE_PLUGINS__CACHE_DIR", cache)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("run starsgate");
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait for starsgate").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("starsgate {args:?} did not end: it is blocked on a file");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().expect("starsgate's output")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Exit 1, no panic, and every line of stderr short and free of control characters.
fn assert_short_failure(o: &Output) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert!(
        o.stderr.len() < 16 * 1024,
        "{} bytes on stderr",
        o.stderr.len()
    );
    for line in err.lines() {
        assert!(line.chars().count() <= LINE_MAX, "a long line: {line}");
        assert!(
            !line.chars().any(char::is_control),
            "a control char: {line:?}"
        );
    }
}

const BOT: &str = "token_env = \"SHOP_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n";
const PRODUCT: &str = "[[product]]\nid = \"a\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\n[product.config]\ntext = \"x\"\n";

/// A valid deployment of one store, `bots/shop.toml`, on a SQLite ledger inside the directory.
fn config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bots")).unwrap();
    let ledger = dir.path().join("ledger.db");
    std::fs::write(
        dir.path().join("gateway.toml"),
        format!("[ledger]\nurl = \"sqlite://{}\"\n", ledger.display()),
    )
    .unwrap();
    std::fs::write(dir.path().join("bots/shop.toml"), format!("{BOT}{PRODUCT}")).unwrap();
    dir
}

fn mkfifo(path: &Path) {
    let c = std::ffi::CString::new(path.to_str().unwrap()).unwrap();
    // SAFETY: mkfifo with a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
}

fn check(dir: &Path, cache: &Path) -> Output {
    starsgate(&["check", "--config", dir.to_str().unwrap()], TOKENS, cache)
}

#[test]
fn check_and_run_refuse_files_that_are_not_regular_without_waiting_on_them() {
    let cache = tempfile::tempdir().unwrap();
    let plugin_product = |path: &str| {
        format!(
            "{BOT}[[product]]\nid = \"a\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\nplugin = \"{path}\"\n"
        )
    };
    type Setup = fn(&Path, &dyn Fn(&str) -> String);
    let cases: [(&str, Setup); 5] = [
        ("gateway.toml is a FIFO", |dir, _| {
            std::fs::remove_file(dir.join("gateway.toml")).unwrap();
            mkfifo(&dir.join("gateway.toml"));
        }),
        ("a bot file is a FIFO", |dir, _| {
            std::fs::remove_file(dir.join("bots/shop.toml")).unwrap();
            mkfifo(&dir.join("bots/shop.toml"));
        }),
        ("a bot file is a symlink to /dev/zero", |dir, _| {
            std::fs::remove_file(dir.join("bots/shop.toml")).unwrap();
            std::os::unix::fs::symlink("/dev/zero", dir.join("bots/shop.toml")).unwrap();
        }),
        ("a plugin is /dev/zero", |dir, product| {
            std::fs::write(dir.join("bots/shop.toml"), product("/dev/zero")).unwrap();
        }),
        ("a plugin is a FIFO", |dir, product| {
            mkfifo(&dir.join("plugin.wasm"));
            std::fs::write(dir.join("bots/shop.toml"), product("plugin.wasm")).unwrap();
        }),
    ];
    for (i, (what, setup)) in cases.into_iter().enumerate() {
        let dir = config();
        setup(dir.path(), &plugin_product);
        // A plugin file is a problem of its product only: `run` starts and that product refuses
        // checkouts (`plugins::under_run_a_product_whose_plugin_cannot_load_…` in the black-box
        // suite), so only `check` must refuse it here.
        let commands: &[&str] = if i >= 3 {
            &["check"]
        } else {
            &["check", "run"]
        };
        for command in commands {
            let o = starsgate(
                &[command, "--config", dir.path().to_str().unwrap()],
                TOKENS,
                cache.path(),
            );
            assert_short_failure(&o);
            assert!(
                stderr(&o).contains("is not a regular file"),
                "{command}, {what}:\n{}",
                stderr(&o)
            );
        }
    }
}

#[test]
fn a_file_over_the_limit_is_refused_without_reading_it_whole() {
    let cache = tempfile::tempdir().unwrap();
    // A sparse 256 MiB bot file: NUL bytes on disk for free.
    let dir = config();
    let file = std::fs::File::create(dir.path().join("bots/shop.toml")).unwrap();
    file.set_len(256 << 20).unwrap();
    let o = check(dir.path(), cache.path());
    assert_short_failure(&o);
    assert!(
        stderr(&o).contains("shop.toml: -: is larger than the limit of 1 MiB"),
        "{}",
        stderr(&o)
    );
    // A plugin of 64 MiB.
    let dir = config();
    let plugin = std::fs::File::create(dir.path().join("big.wasm")).unwrap();
    plugin.set_len(64 << 20).unwrap();
    std::fs::write(
        dir.path().join("bots/shop.toml"),
        format!("{BOT}[[product]]\nid = \"a\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\nplugin = \"big.wasm\"\n"),
    )
    .unwrap();
    let o = check(dir.path(), cache.path());
    assert_short_failure(&o);
    assert!(
        stderr(&o).contains("product[0].plugin: \"big.wasm\": is larger than the limit of 4 MiB"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn every_problem_is_one_short_line_with_control_characters_escaped() {
    let cache = tempfile::tempdir().unwrap();
    let dir = config();
    let bots = dir.path().join("bots");
    // A product id of 200,000 emoji, a key of 500,000 characters, a value with an escape sequence.
    let emoji = "😀".repeat(200_000);
    std::fs::write(
        bots.join("shop.toml"),
        format!(
            "{BOT}environment = \"\\u001b[31mred\"\n[[product]]\nid = \"{emoji}\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\n[product.config]\ntext = \"x\"\n"
        ),
    )
    .unwrap();
    let key = "k".repeat(500_000);
    std::fs::write(bots.join("keys.toml"), format!("{BOT}{key} = 1\n{PRODUCT}")).unwrap();
    // TOML that does not parse, with raw control characters on the offending line.
    std::fs::write(
        bots.join("raw.toml"),
        format!("{BOT}greeting = \"bell\u{7}\0 and more\"\n{PRODUCT}"),
    )
    .unwrap();
    let o = check(dir.path(), cache.path());
    assert_short_failure(&o);
    let err = stderr(&o);
    assert!(
        err.contains(
            "shop.toml: environment: must be \"production\" or \"test\", not \"\\u{1b}[31mred\""
        ),
        "{err}"
    );
    assert!(
        err.contains("shop.toml: product[0].id: product id \"😀"),
        "{err}"
    );
    assert!(err.contains("keys.toml: kkkk"), "{err}");
    assert!(err.contains("raw.toml: -: TOML parse error"), "{err}");
}

#[test]
fn an_empty_config_argument_is_one_sentence_and_exit_1() {
    let cache = tempfile::tempdir().unwrap();
    for command in [
        &["check"][..],
        &["run"],
        &["reload"],
        &["stats"],
        &["ledger", "export"],
    ] {
        let mut args = command.to_vec();
        args.extend(["--config", ""]);
        let o = starsgate(&args, &[], cache.path());
        assert_short_failure(&o);
        let err = stderr(&o);
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(
            err.contains("--config: the value is empty"),
            "{args:?}: {err}"
        );
    }
}

fn mode(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// A store whose product runs a bundled plugin, so `check` compiles it into the cache.
fn config_with_plugin() -> tempfile::TempDir {
    let dir = config();
    std::fs::write(
        dir.path().join("bots/shop.toml"),
        format!("{BOT}[[product]]\nid = \"a\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\nplugin = \"bundled:static-link\"\n[product.config]\nurl = \"https://example.com/x\"\n"),
    )
    .unwrap();
    dir
}

#[test]
fn the_plugin_cache_is_created_0700_and_an_existing_directory_keeps_its_mode() {
    let dir = config_with_plugin();
    let parent = tempfile::tempdir().unwrap();
    // Missing: created, 0700.
    let fresh = parent.path().join("new/cache");
    let o = check(dir.path(), &fresh);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&fresh), 0o700);
    // Existing and the gateway's own, 0750: used, and left at 0750.
    let own = parent.path().join("own");
    std::fs::create_dir(&own).unwrap();
    set_mode(&own, 0o750);
    let o = check(dir.path(), &own);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(mode(&own), 0o750);
    assert!(
        std::fs::read_dir(&own).unwrap().next().is_some(),
        "the cache is used"
    );
}

#[test]
fn a_plugin_cache_writable_by_others_is_refused_and_left_as_it_was() {
    let dir = config_with_plugin();
    let parent = tempfile::tempdir().unwrap();
    for shared_mode in [0o1777, 0o777, 0o770] {
        let shared = parent.path().join(format!("shared-{shared_mode:o}"));
        std::fs::create_dir(&shared).unwrap();
        set_mode(&shared, shared_mode);
        for command in ["check", "run"] {
            let o = starsgate(
                &[command, "--config", dir.path().to_str().unwrap()],
                TOKENS,
                &shared,
            );
            assert_short_failure(&o);
            assert!(
                stderr(&o).contains("plugins.cache_dir: cannot use the compile cache at")
                    && stderr(&o).contains("it is writable by other users"),
                "{command} {shared_mode:o}: {}",
                stderr(&o)
            );
            assert_eq!(mode(&shared), shared_mode, "{command} changed the mode");
            assert!(
                std::fs::read_dir(&shared).unwrap().next().is_none(),
                "nothing written to {shared_mode:o}"
            );
        }
    }
}
