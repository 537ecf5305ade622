//! The `starsgate` binary from the outside: help, `check` on good and bad configs, bad
//! arguments, and the offline demo. Errors must be one readable sentence, never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn starsgate(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_starsgate"));
    let cache = std::env::temp_dir().join("starsgate-cli-test-cache");
    cmd.args(args)
        .env_remove("STARSGATE_CRASH_AT")
        .env("STARSGATE_PLUGINS__CACHE_DIR", cache);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run starsgate")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_no_panic(o: &Output) {
    let err = stderr(o);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

const TOKENS: &[(&str, &str)] = &[
    ("GUIDES_BOT_TOKEN", "700001:tok-guides"),
    ("GAMES_BOT_TOKEN", "700002:tok-games"),
];

fn example_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config")
}

#[test]
fn help_lists_every_command() {
    let o = starsgate(&["--help"], &[]);
    assert!(o.status.success());
    let out = String::from_utf8_lossy(&o.stdout);
    for cmd in ["run", "check", "demo", "sim", "refund", "ledger", "stats"] {
        assert!(out.contains(cmd), "--help should list {cmd}: {out}");
    }
}

#[test]
fn check_accepts_the_example_config() {
    let dir = example_config();
    let o = starsgate(&["check", "--config", dir.to_str().unwrap()], TOKENS);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("OK: 2 bot(s), 6 product(s)"));
}

#[test]
fn check_never_prints_a_token() {
    let dir = example_config();
    let o = starsgate(
        &["check", "--config", dir.to_str().unwrap()],
        &[
            ("GUIDES_BOT_TOKEN", "700001:tok-guides"),
            ("GAMES_BOT_TOKEN", "700001:tok-guides"),
        ],
    );
    assert_eq!(o.status.code(), Some(1));
    let all = format!("{}{}", stderr(&o), String::from_utf8_lossy(&o.stdout));
    assert!(all.contains("already used by another bot"), "{all}");
    assert!(!all.contains("tok-guides"), "a token leaked: {all}");
}

/// Writes a config directory with one file per kind of mistake.
fn broken_config() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let bots = dir.path().join("bots");
    std::fs::create_dir_all(&bots).unwrap();
    std::fs::write(
        dir.path().join("gateway.toml"),
        "[telegram]\nmode = \"pigeon\"\napi_url = \"not a url\"\n",
    )
    .unwrap();
    std::fs::write(
        bots.join("typo.toml"),
        "token_env = \"GUIDES_BOT_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\nsuport = \"oops\"\n[[product]]\nid = \"a\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\n[product.config]\ntext = \"x\"\n",
    )
    .unwrap();
    std::fs::write(
        bots.join("values.toml"),
        concat!(
            "token_env = \"NOT_SET_ANYWHERE\"\nsupport = \"s\"\nterms = \"t\"\nenvironment = \"staging\"\n",
            "[[product]]\nid = \"Bad Id\"\ntitle = \"This title is far longer than thirty-two characters\"\ndescription = \"d\"\nprice = 0\n",
            "[product.config]\ntext = \"x\"\n",
            "[[product]]\nid = \"dup\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 10001\nsubscription = true\n[product.config]\ntext = \"x\"\n",
            "[[product]]\nid = \"dup\"\ntitle = \"B\"\ndescription = \"d\"\nprice = 5\nplugin = \"plugins/missing.wasm\"\n",
        ),
    )
    .unwrap();
    std::fs::write(
        bots.join("truncated.toml"),
        "token_env = \"GAMES_BOT_TOKEN\"\n[[product]]\nid = \"x\n",
    )
    .unwrap();
    std::fs::write(bots.join("Bad_Name.toml"), "token_env = \"GAMES_BOT_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n[[product]]\nid = \"a\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\n[product.config]\ntext = \"x\"\n").unwrap();
    dir
}

#[test]
fn check_reports_every_problem_as_file_key_reason() {
    let dir = broken_config();
    let o = starsgate(&["check", "--config", dir.path().to_str().unwrap()], TOKENS);
    assert_eq!(o.status.code(), Some(1));
    assert_no_panic(&o);
    let err = stderr(&o);
    let expect = [
        ("gateway.toml", "telegram.mode", "pigeon"),
        ("gateway.toml", "telegram.api_url", "not a URL"),
        ("typo.toml", "suport", "unknown key"),
        ("values.toml", "token_env", "NOT_SET_ANYWHERE is not set"),
        ("values.toml", "environment", "staging"),
        ("values.toml", "product[0].id", "must be 1-32 characters"),
        ("values.toml", "product[0].title", "at most 32"),
        ("values.toml", "product[0].price", "at least 1 Star"),
        (
            "values.toml",
            "product[1].price",
            "10000 Stars limit for a subscription",
        ),
        ("values.toml", "product[2].plugin", "cannot read"),
        ("truncated.toml", "", ""),
        ("Bad_Name.toml", "-", "bot id"),
    ];
    for (file, key, reason) in expect {
        let found = err
            .lines()
            .any(|l| l.contains(file) && l.contains(&format!(": {key}")) && l.contains(reason));
        assert!(
            found,
            "expected a line naming {file}: {key}: …{reason}…\n{err}"
        );
    }
}

#[test]
fn duplicate_product_ids_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bots")).unwrap();
    std::fs::write(
        dir.path().join("bots/shop.toml"),
        "token_env = \"GUIDES_BOT_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n[[product]]\nid = \"a\"\ntitle = \"A\"\ndescription = \"d\"\nprice = 1\n[product.config]\ntext = \"x\"\n[[product]]\nid = \"a\"\ntitle = \"B\"\ndescription = \"d\"\nprice = 2\n[product.config]\ntext = \"y\"\n",
    )
    .unwrap();
    let o = starsgate(&["check", "--config", dir.path().to_str().unwrap()], TOKENS);
    assert_eq!(o.status.code(), Some(1));
    assert!(
        stderr(&o).contains("product[1].id: duplicate product id \"a\""),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_missing_config_directory_is_one_sentence() {
    let o = starsgate(&["check", "--config", "/nonexistent/starsgate"], &[]);
    assert_eq!(o.status.code(), Some(1));
    assert_no_panic(&o);
    assert!(
        stderr(&o).contains("cannot read the bots directory"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn bad_arguments_are_explained_not_panicked() {
    for args in [
        &["refund"][..],
        &["ledger", "export", "--format", "xml"],
        &["frobnicate"],
        &["sim", "--listen", "not-an-address"],
    ] {
        let o = starsgate(args, &[]);
        assert!(!o.status.success(), "{args:?} should fail");
        assert_no_panic(&o);
        assert!(!stderr(&o).is_empty());
    }
}

#[test]
fn ledger_export_rejects_a_bad_date_with_the_argument_named() {
    let o = starsgate(
        &[
            "ledger",
            "export",
            "--config",
            example_config().to_str().unwrap(),
            "--since",
            "yesterday",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("--since"), "{}", stderr(&o));
}

/// A bot or charge id that no id can be is refused where it is typed, naming the argument, before
/// any ledger is opened.
#[test]
fn an_id_that_no_id_can_be_is_refused_naming_its_argument() {
    let config = example_config();
    let config = config.to_str().unwrap();
    for (args, named) in [
        (
            &["stats", "--config", config, "--bot", "Not A Bot"][..],
            "--bot",
        ),
        (
            &["ledger", "events", "--config", config, "--bot", "../etc"],
            "--bot",
        ),
        (
            &[
                "refund",
                "--config",
                config,
                "--bot",
                "guides",
                "--charge",
                "two words",
            ],
            "--charge",
        ),
    ] {
        let o = starsgate(args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert_no_panic(&o);
        assert!(stderr(&o).contains(named), "{args:?}: {}", stderr(&o));
    }
}

#[test]
fn the_demo_runs_offline_and_exits_zero() {
    let o = starsgate(&["demo"], &[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", stderr(&o));
    assert!(out.contains("Alice has 1 delivery message"), "{out}");
    assert!(
        out.contains("Key #1: STARTER-"),
        "a licence key was delivered: {out}"
    );
    assert!(
        out.contains("maximum of 1 keys"),
        "the per-buyer limit refused: {out}"
    );
    assert!(
        out.contains("Sold out: all 2 units are gone"),
        "the stock ran out: {out}"
    );
    assert!(
        out.contains("revoked role pro for user 1001"),
        "the refund revoked access: {out}"
    );
    assert!(
        out.contains("30 days pass; Telegram charges the renewal"),
        "a membership renewed: {out}"
    );
    assert!(
        out.contains("guides / pro-monthly: 2 paid (1 renewals)"),
        "the renewal counted: {out}"
    );
    assert!(out.contains("The ledger (7 payments)"), "{out}");
}

/// A config directory with one bot whose products are given as TOML, and the hostile plugin
/// copied to `plugins/hostile.wasm`.
fn store_with(products: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("bots")).unwrap();
    std::fs::create_dir_all(dir.path().join("plugins")).unwrap();
    std::fs::copy(
        Path::new(starsgate::plugins::bundled::BUILD_DIR).join("hostile.wasm"),
        dir.path().join("plugins/hostile.wasm"),
    )
    .unwrap();
    std::fs::write(dir.path().join("gateway.toml"), "").unwrap();
    std::fs::write(
        dir.path().join("bots/shop.toml"),
        format!("token_env = \"GUIDES_BOT_TOKEN\"\nsupport = \"s\"\nterms = \"t\"\n{products}"),
    )
    .unwrap();
    dir
}

#[test]
fn check_calls_each_plugin_and_names_the_product_it_fails_for() {
    let dir = store_with(concat!(
        "[[product]]\nid = \"fine\"\ntitle = \"Fine\"\ndescription = \"d\"\nprice = 5\nplugin = \"bundled:license-key\"\n",
        "[product.config]\nprefix = \"GAME\"\nmax_per_buyer = 1\n",
        "[[product]]\nid = \"keys\"\ntitle = \"Keys\"\ndescription = \"d\"\nprice = 5\nplugin = \"bundled:license-key\"\n",
        "[product.config]\nprefx = \"GAME\"\n",
        "[[product]]\nid = \"spins\"\ntitle = \"Spins\"\ndescription = \"d\"\nprice = 5\nplugin = \"plugins/hostile.wasm\"\n",
        "[product.config]\nmode = \"loop\"\n",
    ));
    let o = starsgate(&["check", "--config", dir.path().to_str().unwrap()], TOKENS);
    assert_eq!(o.status.code(), Some(1));
    assert_no_panic(&o);
    let err = stderr(&o);
    let line = |key: &str| {
        err.lines()
            .find(|l| l.contains(&format!("shop.toml: {key}: ")))
    };
    let keys = line("product[1].config").unwrap_or_else(|| panic!("{err}"));
    assert!(
        keys.contains("pre-checkout with this product's config"),
        "{keys}"
    );
    assert!(keys.contains("invalid product config"), "{keys}");
    let spins = line("product[2].plugin").unwrap_or_else(|| panic!("{err}"));
    assert!(spins.contains("ran out of fuel"), "{spins}");
    assert!(
        line("product[0]").is_none(),
        "a working product is not a problem: {err}"
    );
}

#[test]
fn plugin_test_runs_every_fixture_past_a_bad_one_with_partial_facts_and_no_language() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let broken = write("a-broken.json", "{ \"hook\": \"pre-checkout\", ");
    let partial = write(
        "b-partial-facts.json",
        r#"{"hook": "pre_checkout", "config": {"mode": "ok"}, "facts": {"units_sold": 20}, "expect": {"decision": "approve"}}"#,
    );
    let prints = write(
        "c-prints.json",
        r#"{"hook": "deliver", "config": {"mode": "print"}, "expect": {"items_contain": ["ok"]}}"#,
    );
    let wasm = Path::new(starsgate::plugins::bundled::BUILD_DIR).join("hostile.wasm");
    let o = starsgate(
        &[
            "plugin",
            "test",
            wasm.to_str().unwrap(),
            &broken,
            &partial,
            &prints,
        ],
        &[],
    );
    assert_no_panic(&o);
    assert_eq!(o.status.code(), Some(1), "the broken fixture fails the run");
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        out.contains("FAIL") && out.contains("a-broken.json"),
        "{out}"
    );
    assert!(
        out.contains("PASS") && out.contains("[pre-checkout]"),
        "{out}"
    );
    assert!(out.contains("log stdout: hello from deliver"), "{out}");
    assert!(out.contains("2 passed, 1 failed"), "{out}");
}

#[test]
fn plugin_run_prints_one_call_as_json() {
    let wasm = Path::new(starsgate::plugins::bundled::BUILD_DIR).join("license_key.wasm");
    let o = starsgate(
        &[
            "plugin",
            "run",
            wasm.to_str().unwrap(),
            "--hook",
            "deliver",
            "--config",
            r#"{"prefix": "GAME", "max_per_buyer": 1}"#,
            "--seed",
            "42",
            "--json",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["output"].as_str().unwrap().contains("GAME-"), "{v}");
    assert!(v["fuel_used"].as_u64().unwrap() > 0);
    assert_eq!(v["input"]["ctx"]["seed"], 42);
    assert_eq!(
        v["input"]["order"]["language_code"],
        serde_json::Value::Null
    );
}
