//! Running measurements: one in this process (`measure`), or all of them, each in a child
//! process of this same binary (`run_all`).

use std::future::Future;
use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{AllArgs, ContenderId, Scenario, Variant};
use crate::contenders::{
    actix::Actix, floor::Floor, genserver::GenServerContender, kameo::Kameo, ractor::Ractor,
};
use crate::harness::{self, Contender, Outcome, Params};
use crate::report::{self, Record};

/// Makes one measurement in this process.
pub fn measure(variant: Variant, scenario: Scenario, params: Params) -> Outcome {
    match variant.contender {
        ContenderId::Genserver => measure_with::<GenServerContender>(variant, scenario, params),
        ContenderId::Floor => measure_with::<Floor>(variant, scenario, params),
        ContenderId::Kameo => measure_with::<Kameo>(variant, scenario, params),
        ContenderId::Ractor => measure_with::<Ractor>(variant, scenario, params),
        ContenderId::Actix => measure_with::<Actix>(variant, scenario, params),
    }
}

/// `bench ops`: `count` operations on `variant`'s runtime, measuring nothing itself.
pub fn run_operations(variant: Variant, operation: harness::Operation, count: u64) {
    fn with<C: Contender>(variant: Variant, operation: harness::Operation, count: u64) {
        Runtime::of(variant).run(harness::operations::<C>(operation, count));
    }
    match variant.contender {
        ContenderId::Genserver => with::<GenServerContender>(variant, operation, count),
        ContenderId::Floor => with::<Floor>(variant, operation, count),
        ContenderId::Kameo => with::<Kameo>(variant, operation, count),
        ContenderId::Ractor => with::<Ractor>(variant, operation, count),
        ContenderId::Actix => with::<Actix>(variant, operation, count),
    }
}

fn measure_with<C: Contender>(variant: Variant, scenario: Scenario, params: Params) -> Outcome {
    let runtime = Runtime::of(variant);
    match scenario {
        Scenario::A => runtime.run(harness::a_one_producer::<C>()),
        Scenario::B => runtime.run(harness::b_four_producers::<C>()),
        Scenario::C => runtime.run(harness::c_call_latency::<C>()),
        Scenario::D => runtime.run(harness::d_lifecycle::<C>()),
        Scenario::E => runtime.run(harness::e_idle_memory::<C>()),
        Scenario::F => runtime.run(harness::f_key_value::<C>()),
        Scenario::G => runtime.run(harness::g_scale::<C>(params)),
    }
}

enum Runtime {
    /// tokio's multi-thread runtime with this many workers.
    MultiThread(usize),
    /// tokio's current_thread runtime.
    CurrentThread,
    /// actix's System: a current_thread tokio runtime with a LocalSet.
    ActixSystem,
}

impl Runtime {
    fn of(variant: Variant) -> Self {
        match (variant.contender, variant.threads) {
            (ContenderId::Actix, _) => Runtime::ActixSystem,
            (_, 1) => Runtime::CurrentThread,
            (_, threads) => Runtime::MultiThread(threads),
        }
    }

    fn run<F>(self, scenario: F) -> Outcome
    where
        F: Future<Output = Outcome> + Send + 'static,
    {
        match self {
            Runtime::MultiThread(workers) => {
                let runtime = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(workers)
                    .enable_all()
                    .build()
                    .expect("build the tokio runtime");
                // Spawned, so that the scenario's own task runs on a worker like every
                // other task (`block_on`'s future would run on this extra thread).
                runtime.block_on(async { tokio::spawn(scenario).await.expect("the scenario panicked") })
            }
            Runtime::CurrentThread => tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("build the tokio runtime")
                .block_on(scenario),
            Runtime::ActixSystem => actix::System::new().block_on(scenario),
        }
    }
}

/// Runs every measurement in child processes, interleaving the contenders within each
/// run, then prints (and with `--write` writes) the report.
pub fn run_all(all: &AllArgs, argv: &[String]) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this binary: {e}"))?;
    let started = Instant::now();
    let load_before = report::loadavg();
    let mut records: Vec<Record> = Vec::new();
    let total = all.runs * all.scenarios.len() * all.variants.len();
    let mut done = 0;

    for run in 0..all.runs {
        for &scenario in &all.scenarios {
            // Rotate the starting contender from run to run, so that no contender always
            // follows the same neighbour.
            let n = all.variants.len();
            for k in 0..n {
                let variant = all.variants[(k + run) % n];
                done += 1;
                eprint!("[{done}/{total}] run {} {} {:<14}", run + 1, scenario.letter(), variant.id());
                let record = run_child(&exe, variant, scenario, run, all.params, all.timeout_secs);
                eprintln!(" {}", record.summary());
                records.push(record);
            }
        }
    }

    let mut scale_records = Vec::new();
    if all.scale {
        let variants: Vec<Variant> = if all.scale_all {
            all.variants.clone()
        } else {
            all.variants
                .iter()
                .copied()
                .filter(|v| {
                    matches!(v.contender, ContenderId::Genserver | ContenderId::Floor) && v.threads > 1
                })
                .collect()
        };
        for variant in variants {
            eprint!("[G] {:<14}", variant.id());
            let record = run_child(&exe, variant, Scenario::G, 0, all.params, all.timeout_secs * 4);
            eprintln!(" {}", record.summary());
            scale_records.push(record);
        }
    }

    let elapsed = started.elapsed();
    let context = report::Context::gather(argv, all, elapsed, &load_before);
    let results = (!all.scenarios.is_empty()).then(|| report::results_section(&records, all, &context));
    let scale = all.scale.then(|| report::scale_section(&scale_records, all, &context));
    if let Some(results) = &results {
        println!("{results}");
    }
    if let Some(scale) = &scale {
        println!("{scale}");
    }
    let failures: Vec<&Record> =
        records.iter().chain(&scale_records).filter(|r| r.outcome.is_err()).collect();
    if all.write {
        let path = report::write_benchmarks_md(results.as_deref(), scale.as_deref(), &context)?;
        eprintln!("wrote {}", path.display());
    }
    eprintln!("total time: {:.1} min", elapsed.as_secs_f64() / 60.0);
    if failures.is_empty() {
        Ok(())
    } else {
        for failure in &failures {
            eprintln!(
                "FAILED: run {} {} {}: {}",
                failure.run + 1,
                failure.scenario.letter(),
                failure.variant.id(),
                failure.outcome.as_ref().err().map(String::as_str).unwrap_or("")
            );
        }
        Err(format!("{} measurement(s) failed", failures.len()))
    }
}

fn run_child(
    exe: &std::path::Path,
    variant: Variant,
    scenario: Scenario,
    run: usize,
    params: Params,
    timeout_secs: u64,
) -> Record {
    let started = Instant::now();
    let outcome = child_outcome(exe, variant, scenario, params, Duration::from_secs(timeout_secs));
    Record { run, scenario, variant, outcome, wall: started.elapsed() }
}

fn child_outcome(
    exe: &std::path::Path,
    variant: Variant,
    scenario: Scenario,
    params: Params,
    timeout: Duration,
) -> Result<Outcome, String> {
    let mut command = Command::new(exe);
    command
        .arg("run")
        .args(["--contender", &variant.id()])
        .args(["--threads", &variant.threads.to_string()])
        .args(["--scenario", &scenario.letter().to_string()]);
    if scenario == Scenario::G {
        command
            .args(["--scale-target", &params.scale_target.to_string()])
            .args(["--rss-limit-gib", &(params.rss_limit >> 30).to_string()]);
    }
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot start the measurement: {e}"))?;
    let stdout = drain(child.stdout.take().expect("piped stdout"));
    let stderr = drain(child.stderr.take().expect("piped stderr"));
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
            Ok(None) => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
            Err(e) => return Err(format!("waiting for the measurement: {e}")),
        }
    };
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    let Some(status) = status else {
        return Err(format!("timed out after {} s", timeout.as_secs()));
    };
    if !status.success() {
        let last_lines: Vec<&str> =
            stderr.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
        return Err(format!("exited with {status}: {}", last_lines.join(" | ")));
    }
    let line = stdout.lines().rev().find(|l| l.starts_with('{')).ok_or("no JSON line on stdout")?;
    serde_json::from_str(line).map_err(|e| format!("bad JSON from the measurement: {e}"))
}

fn drain<R: Read + Send + 'static>(mut pipe: R) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut text = String::new();
        let _ = pipe.read_to_string(&mut text);
        text
    })
}
