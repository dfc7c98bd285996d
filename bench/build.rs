//! Records what the benchmark binary was built from: the repository commit, whether the
//! genserver sources had uncommitted changes, and the compiler. The report prints them.

use std::process::Command;

fn output(program: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    for path in ["../genserver-runtime", "../genserver-macros", "../.git/HEAD", "../.git/index"] {
        println!("cargo:rerun-if-changed={path}");
    }
    let commit =
        output("git", &["-C", "..", "rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    let dirty =
        output("git", &["-C", "..", "status", "--porcelain", "--", "genserver-runtime", "genserver-macros"])
            .map(|s| if s.is_empty() { "clean" } else { "uncommitted changes" })
            .unwrap_or("unknown");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let version = output(&rustc, &["--version"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=BENCH_GENSERVER_COMMIT={commit}");
    println!("cargo:rustc-env=BENCH_GENSERVER_WORKTREE={dirty}");
    println!("cargo:rustc-env=BENCH_RUSTC_VERSION={version}");
}
